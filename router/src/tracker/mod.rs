//! Work-order deadline tracking (Art. 13, 14, 27): every open case with its
//! deadlines and its unit, the lifecycle events that satisfy or move them
//! (`events.rs`), the alerts due at a given time, and the per-unit tallies
//! the scorecards count (`tally.rs`).
//!
//! `DUE_SOON` fires once, `lead` (default 2 h) before completion — when the
//! extension window closes; `OVERDUE` fires once per missed limit (dispatch,
//! sign, completion, special-matter notify, first feedback, progress,
//! relay); supervision (督办, Art. 27) fires `ESCALATION` when completion is
//! overdue by a configured time. An emergency sent as text and a possible
//! emergency carry a 3-minute relay clock, closed by `RELAYED` (or
//! `DISMISSED`).
//!
//! A completed case is kept (without timers) for the return-visit window
//! (Art. 14), so a visit can re-open it for re-handling (特提); then it is
//! forgotten.
//!
//! Scale: one ordered timer entry per open case (its next instant to look
//! at), so a tick costs O(log n) per alert, never a scan; the case table is
//! bounded by `max_cases` and reports what it evicts. Pure: time is a parameter.
mod events;
mod summary;
mod tally;

pub use events::{EventOutcome, OrderEvent, Refusal, RefusalClass, Satisfaction};
pub use summary::Summary;
pub use tally::{Measure, Tally};

use crate::model::{Deadlines, Instant, Kind};
use chrono::{DateTime, Duration};
use std::collections::{BTreeSet, HashMap};

/// The limits tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Limit {
    Dispatch,
    Sign,
    Return,
    Complete,
    Notify,
    FirstFeedback,
    Progress,
    Relay,
    /// Completion overdue by the supervision delay (Art. 27): ESCALATION.
    Escalate,
}

impl Limit {
    const TIMED: [Limit; 8] = [
        Limit::Dispatch,
        Limit::Sign,
        Limit::Complete,
        Limit::Notify,
        Limit::FirstFeedback,
        Limit::Progress,
        Limit::Relay,
        Limit::Escalate,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::Dispatch => "dispatch",
            Limit::Sign => "sign",
            Limit::Return => "return",
            Limit::Complete => "complete",
            Limit::Notify => "notify",
            Limit::FirstFeedback => "first_feedback",
            Limit::Progress => "progress",
            Limit::Relay => "relay",
            Limit::Escalate => "supervision",
        }
    }
    fn idx(self) -> usize {
        self as usize
    }
    fn bit(self) -> u16 {
        1 << self.idx()
    }
}

/// An alert the tracker raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    DueSoon {
        case_id: String,
        due: Instant,
    },
    Overdue {
        case_id: String,
        limit: Limit,
        due: Instant,
    },
    /// Supervision (督办, Art. 27): completion overdue by the configured
    /// delay (`due` is when that delay ran out), or a second unsatisfied
    /// return visit (`due` is the visit).
    Escalation {
        case_id: String,
        reason: &'static str,
        due: Instant,
    },
}

/// Due instants (ms) per [`Limit`], `i64::MIN` for none: half the size of
/// `[Option<i64>; 9]`, which matters at a million open cases.
#[derive(Debug, Clone, Copy)]
struct Dues([i64; 9]);

impl Dues {
    const NONE: i64 = i64::MIN;
    const EMPTY: Dues = Dues([Dues::NONE; 9]);
    fn get(&self, l: Limit) -> Option<i64> {
        Some(self.0[l.idx()]).filter(|v| *v != Self::NONE)
    }
    fn set(&mut self, l: Limit, v: Option<i64>) {
        self.0[l.idx()] = v.unwrap_or(Self::NONE);
    }
    fn any(&self) -> bool {
        self.0.iter().any(|v| *v != Self::NONE)
    }
}

/// Who opened a case and where it belongs: what its alerts and tallies name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Opening<'a> {
    /// The caller's pseudonym (`caller_ref`), never the number.
    pub caller_ref: &'a str,
    /// The unit the decision chose (its lead unit); a DISPATCHED event may name another.
    pub unit: &'a str,
    pub district: &'a str,
    /// When the contact was received: no event may be earlier.
    pub received_at: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Case {
    id: Box<str>,
    caller_ref: Box<str>,
    unit: Box<str>,
    district: Box<str>,
    kind: Kind,
    /// Received at (ms), `i64::MIN` when not known.
    opened_at: i64,
    /// Due instant per [`Limit`]; none once satisfied or not applicable.
    due: Dues,
    due_soon_fired: bool,
    /// Bit per [`Limit`] whose alert has fired.
    overdue_fired: u16,
    /// The one extension request (Art. 13(3)) was made.
    extended: bool,
    /// An extension request awaiting the center's review: the new due (ms).
    pending_extension: Option<i64>,
    /// Assigned by leadership (批办, Art. 12(4)): may not be returned.
    leadership: bool,
    /// Dispatched to a unit and not returned since.
    with_unit: bool,
    /// Completed at (ms): kept for return visits, no timers.
    completed_at: Option<i64>,
    unsatisfied: u8,
    /// The instant under which this case sits in the timer index.
    armed: Option<i64>,
}

impl Case {
    /// DUE_SOON marks the close of the extension window (Art. 13(3)), which
    /// only complaints and reports have; once per window.
    fn wants_due_soon(&self) -> bool {
        !self.due_soon_fired && matches!(self.kind, Kind::Complaint | Kind::Report)
    }
}

/// Tracker settings.
#[derive(Debug, Clone, Copy)]
pub struct TrackerConfig {
    /// DUE_SOON this long before completion.
    pub due_soon_lead: Duration,
    pub max_cases: usize,
    /// ESCALATION when completion is overdue by this long (none: never).
    pub escalate_overdue_after: Option<Duration>,
    /// A completed case is kept this long for its return visit (Art. 14).
    pub revisit_window: Duration,
    /// Record per-unit tallies (scorecards), taken with [`Tracker::take_tallies`].
    pub tallies: bool,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            due_soon_lead: Duration::hours(2),
            max_cases: 2_000_000,
            escalate_overdue_after: None,
            revisit_window: Duration::days(30),
            tallies: false,
        }
    }
}

/// Every open case, and the completed ones within their return-visit window.
#[derive(Debug, Default)]
pub struct Tracker {
    cfg: Option<TrackerConfig>,
    /// Cases by the hash of their id (the id itself is kept in the case).
    /// Boxed: the table holds 16 bytes a slot, and it is never more than half full.
    cases: HashMap<u64, Box<Case>>,
    /// (next instant to look at, case key): one entry per open case.
    timers: BTreeSet<(i64, u64)>,
    /// (end of the return-visit window, case key): one per completed case.
    retired: BTreeSet<(i64, u64)>,
    tallies: Vec<Tally>,
    pub evicted: u64,
}

fn key(case_id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(case_id.as_bytes())
}

fn ms(t: Instant) -> i64 {
    t.timestamp_millis()
}

fn at(ms: i64) -> Instant {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Tracker {
        Tracker {
            cfg: Some(cfg),
            ..Default::default()
        }
    }

    fn cfg(&self) -> TrackerConfig {
        self.cfg.unwrap_or_default()
    }

    /// Open cases (not the completed ones kept for their visit).
    pub fn len(&self) -> usize {
        self.cases.len() - self.retired.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Completed cases still within their return-visit window.
    pub fn completed(&self) -> usize {
        self.retired.len()
    }

    /// The tallies recorded since the last call (none unless configured).
    pub fn take_tallies(&mut self) -> Vec<Tally> {
        std::mem::take(&mut self.tallies)
    }

    fn tally(&mut self, k: u64, measure: Measure, t: i64) {
        if !self.cfg().tallies {
            return;
        }
        if let Some(c) = self.cases.get(&k) {
            self.tallies.push(Tally {
                unit: c.unit.clone(),
                district: c.district.clone(),
                measure,
                at: at(t),
            });
        }
    }

    /// The next instant this case needs looking at.
    fn next_instant(&self, c: &Case) -> Option<i64> {
        let lead = self.cfg().due_soon_lead.num_milliseconds();
        let mut next = Limit::TIMED
            .iter()
            .filter(|l| c.overdue_fired & l.bit() == 0)
            .filter_map(|l| c.due.get(*l))
            .min();
        if c.wants_due_soon() {
            if let Some(d) = c.due.get(Limit::Complete) {
                next = Some(next.map_or(d - lead, |n| n.min(d - lead)));
            }
        }
        next
    }

    fn rearm(&mut self, k: u64) {
        let Some(c) = self.cases.get(&k) else {
            return;
        };
        let next = if c.completed_at.is_some() {
            None
        } else {
            self.next_instant(c)
        };
        let old = c.armed;
        if old == next {
            return;
        }
        if let Some(o) = old {
            self.timers.remove(&(o, k));
        }
        if let Some(n) = next {
            self.timers.insert((n, k));
        }
        if let Some(c) = self.cases.get_mut(&k) {
            c.armed = next;
        }
    }

    /// Sets the completion deadline and the supervision instant after it.
    fn set_complete(&mut self, k: u64, due: Option<i64>) {
        let after = self.cfg().escalate_overdue_after;
        if let Some(c) = self.cases.get_mut(&k) {
            c.due.set(Limit::Complete, due);
            c.due.set(
                Limit::Escalate,
                due.zip(after).map(|(d, a)| d + a.num_milliseconds()),
            );
            c.due_soon_fired = false;
            c.overdue_fired &= !(Limit::Complete.bit() | Limit::Escalate.bit());
        }
    }

    /// Starts tracking a decided work order with its deadlines and the
    /// caller's pseudonym (never the number itself).
    pub fn open(&mut self, case_id: &str, kind: Kind, d: &Deadlines, caller_ref: &str) {
        self.open_case(
            case_id,
            kind,
            d,
            &Opening {
                caller_ref,
                ..Opening::default()
            },
        )
    }

    /// Starts tracking a decided case: its deadlines, and who and where it
    /// belongs to. A case already tracked (a repeat that joins it with a
    /// relay clock of its own) keeps its deadlines and takes the ones this
    /// decision sets.
    pub fn open_case(&mut self, case_id: &str, kind: Kind, d: &Deadlines, o: &Opening) {
        let k = key(case_id);
        let mut due = Dues::EMPTY;
        due.set(Limit::Dispatch, d.dispatch_by.map(ms));
        due.set(Limit::Notify, d.notify_by.map(ms));
        due.set(Limit::FirstFeedback, d.first_feedback_by.map(ms));
        due.set(Limit::Progress, d.progress_by.map(ms));
        due.set(Limit::Relay, d.relay_by.map(ms));
        if let Some(c) = self.cases.get_mut(&k) {
            if c.completed_at.is_none() {
                for l in Limit::TIMED {
                    if let Some(t) = due.get(l) {
                        // A relay clock already running keeps its earlier due:
                        // a second contact does not push the first one's back.
                        let t = match (l, c.due.get(l)) {
                            (Limit::Relay, Some(old)) => old.min(t),
                            _ => t,
                        };
                        c.due.set(l, Some(t));
                        c.overdue_fired &= !l.bit();
                    }
                }
                self.rearm(k);
                return;
            }
            // A completed case decided again (its id reused): start afresh.
            self.forget(k);
        }
        if self.cases.len() >= self.cfg().max_cases {
            self.evict_one();
        }
        let c = Case {
            id: case_id.into(),
            caller_ref: o.caller_ref.into(),
            unit: o.unit.into(),
            district: o.district.into(),
            kind,
            opened_at: o.received_at.map(ms).unwrap_or(i64::MIN),
            due,
            due_soon_fired: false,
            overdue_fired: 0,
            extended: false,
            pending_extension: None,
            leadership: false,
            with_unit: false,
            completed_at: None,
            unsatisfied: 0,
            armed: None,
        };
        self.cases.insert(k, Box::new(c));
        self.set_complete(k, d.complete_by.map(ms));
        self.rearm(k);
    }

    /// Makes room: the completed case whose visit window ends first, else
    /// the open case whose next instant is latest (the least urgent).
    fn evict_one(&mut self) {
        let victim = match self.retired.first() {
            Some(&(_, k)) => k,
            None => match self.timers.last() {
                Some(&(_, k)) => k,
                None => return,
            },
        };
        self.forget(victim);
        self.evicted += 1;
    }

    /// Removes a case and its index entries.
    fn forget(&mut self, k: u64) {
        if let Some(c) = self.cases.remove(&k) {
            if let Some(a) = c.armed {
                self.timers.remove(&(a, k));
            }
            if let Some(done) = c.completed_at {
                let window = self.cfg().revisit_window.num_milliseconds();
                self.retired.remove(&(done + window, k));
            }
        }
    }

    /// The caller pseudonym of a tracked case.
    pub fn caller_ref(&self, case_id: &str) -> Option<&str> {
        self.cases.get(&key(case_id)).map(|c| &*c.caller_ref)
    }

    /// The unit answering for a tracked case now.
    pub fn unit(&self, case_id: &str) -> Option<&str> {
        self.cases.get(&key(case_id)).map(|c| &*c.unit)
    }

    /// Every alert due at or before `now`, each fired once; completed cases
    /// past their return-visit window are forgotten.
    pub fn tick(&mut self, now: Instant) -> Vec<Fired> {
        let now_ms = ms(now);
        while let Some(&(t, k)) = self.retired.first() {
            if t > now_ms {
                break;
            }
            self.retired.remove(&(t, k));
            self.cases.remove(&k);
        }
        let lead = self.cfg().due_soon_lead.num_milliseconds();
        let mut fired = Vec::new();
        let mut overdue = Vec::new();
        while let Some((t, k)) = self.timers.first().copied() {
            if t > now_ms {
                break;
            }
            self.timers.remove(&(t, k));
            let Some(c) = self.cases.get_mut(&k) else {
                continue;
            };
            let id = c.id.to_string();
            c.armed = None;
            if c.wants_due_soon() {
                if let Some(d) = c.due.get(Limit::Complete) {
                    if d - lead <= now_ms && d > now_ms {
                        c.due_soon_fired = true;
                        fired.push(Fired::DueSoon {
                            case_id: id.clone(),
                            due: at(d),
                        });
                    } else if d <= now_ms {
                        // Overdue already: no point warning that it is due soon.
                        c.due_soon_fired = true;
                    }
                }
            }
            for l in Limit::TIMED {
                if let Some(d) = c.due.get(l) {
                    if d <= now_ms && c.overdue_fired & l.bit() == 0 {
                        c.overdue_fired |= l.bit();
                        fired.push(match l {
                            Limit::Escalate => Fired::Escalation {
                                case_id: id.clone(),
                                reason: "completion overdue past the supervision delay",
                                due: at(d),
                            },
                            _ => Fired::Overdue {
                                case_id: id.clone(),
                                limit: l,
                                due: at(d),
                            },
                        });
                        if l == Limit::Complete {
                            overdue.push((k, d));
                        }
                    }
                }
            }
            self.rearm(k);
        }
        for (k, d) in overdue {
            self.tally(k, Measure::Overdue, d);
        }
        fired
    }
}
