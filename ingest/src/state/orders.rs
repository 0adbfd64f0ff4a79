//! Live work-order deadlines (Art. 13): every stored work order (and every
//! special matter) is tracked with its deadlines, order events move them, and
//! a one-second tick raises DUE_SOON and OVERDUE. Alerts are stored in the
//! embedded store under a deterministic key (case, kind, limit, due), so an
//! alert fires once even across restarts, then published to Kafka and
//! counted. On start the tracker is rebuilt from the stored decisions and
//! order events. The timing logic is the pure `hotline_router::tracker`.
use crate::sinks::committer::Job;
use crate::sinks::store::EventRow;
use crate::state::today::Today;
use crate::wire;
use hotline_proto::v1 as pb;
use hotline_router::tracker::{
    EventOutcome, Fired, Limit, Measure, Opening, OrderEvent, Refusal, RefusalClass, Satisfaction,
    Summary, Tally, Tracker, TrackerConfig,
};
use hotline_router::{Calendar, Deadlines, Kind};
use metrics::{counter, gauge};
use prost::Message;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch};

/// What the tracker needs of a decision: small enough to carry per contact.
#[derive(Debug, Clone)]
pub struct Track {
    case_id: String,
    caller_ref: String,
    kind: Kind,
    deadlines: Deadlines,
    unit: String,
    district: String,
    received_at: Option<hotline_router::Instant>,
}

impl Track {
    /// Opens the case in `t`.
    pub fn open_in(&self, t: &mut Tracker) {
        t.open_case(
            &self.case_id,
            self.kind,
            &self.deadlines,
            &Opening {
                caller_ref: &self.caller_ref,
                unit: &self.unit,
                district: &self.district,
                received_at: self.received_at,
            },
        );
    }
}

/// The tracking part of a decision that opens a case (work orders, special matters).
pub fn track_of(d: &pb::Decision) -> Option<Track> {
    if !tracked(d) {
        return None;
    }
    Some(Track {
        case_id: d.case_id.clone(),
        caller_ref: d.caller_ref.clone(),
        kind: kind_of(d.kind)?,
        deadlines: deadlines(d),
        // A transfer or linkage is the receiving line's (Art. 7(3), 15).
        unit: if d.lead_unit.is_empty() {
            d.targets
                .first()
                .map(|t| t.code.clone())
                .unwrap_or_default()
        } else {
            d.lead_unit.clone()
        },
        district: d.district_code.clone(),
        received_at: ts(&d.received_at),
    })
}

/// POSSIBLE_EMERGENCY for a possible emergency, EMERGENCY_RELAY for an
/// emergency sent as text: an agent must act within 3 minutes (Art. 10(3),
/// 15). Keyed by case, so it is raised once, also across restarts.
pub fn safety_alert(d: &pb::Decision) -> Option<AlertOut> {
    let (kind, message) = if d.safety == pb::SafetyLevel::SafetyPossible as i32 {
        (
            pb::AlertKind::PossibleEmergency,
            "possible emergency: relay it to the line or dismiss it within 3 min",
        )
    } else if d.relay {
        (
            pb::AlertKind::EmergencyRelay,
            "emergency sent as text: relay it to the line within 3 min",
        )
    } else {
        return None;
    };
    let (mut a, at_ms) = decision_alert(d, kind);
    // One per contact: a repeat that joins the case has its own clock.
    a.alert_id = format!("{}:{}:{at_ms}", d.case_id, kind.as_str_name());
    a.case_id = d.case_id.clone();
    a.caller_ref = d.caller_ref.clone();
    a.deadline = "relay".into();
    a.due = d.deadlines.as_ref().and_then(|x| x.relay_by);
    // The lines to relay to (110, 119 …): a possible emergency's targets
    // are its route's units, so the safety stage's own list.
    a.queue = d.safety_lines.first().cloned().unwrap_or_default();
    a.message = format!(
        "{message} ({}; rule {})",
        d.safety_lines.join(","),
        d.safety_rule
    );
    Some(AlertOut::keyed(a, d.case_id.clone(), 0, at_ms))
}

/// The tracker and what alerts need.
pub struct Orders {
    /// The tenant's city code: the `tenant` label of its gauges.
    tenant: String,
    cfg: TrackerConfig,
    tracker: Mutex<Tracker>,
    calendar: Calendar,
    /// Alerts raised at the next tick: a replayed case's safety alert (`open`).
    pending: Mutex<Vec<AlertOut>>,
    /// The dedup index, told when a case closes or reopens.
    dedup: Option<Arc<Mutex<hotline_router::dedup::Dedup>>>,
    /// The units' and lines' target codes (the label values of the per-unit
    /// scorecard) and names (the wallboard's).
    units: HashMap<Box<str>, Box<str>>,
    /// Completions of the day (Beijing time): (all, on time).
    completed_today: Mutex<Today<(u64, u64)>>,
}

fn kind_of(k: i32) -> Option<Kind> {
    wire::kind_from(k)
}

pub fn ts(t: &Option<hotline_proto::Timestamp>) -> Option<hotline_router::Instant> {
    t.as_ref().and_then(|t| wire::instant(t, "deadline").ok())
}

/// Whether a decision opens a tracked case: work orders, sub-center
/// transfers and utility linkages (the receiving line answers for them,
/// Art. 7(3), 15), special matters and anything with a relay clock (emergencies sent as text, possible
/// emergencies), but not a repeat that joins a case still open (its
/// deadlines run on).
pub fn tracked(d: &pb::Decision) -> bool {
    let joins_open_case = d
        .dedup
        .as_ref()
        .is_some_and(|x| x.repeat_of == d.case_id && !x.reopen);
    let relay_clock = d.deadlines.as_ref().is_some_and(|x| x.relay_by.is_some());
    let answered_for = [
        pb::RouteKind::WorkOrder,
        pb::RouteKind::SubcenterTransfer,
        pb::RouteKind::UtilityLinkage,
    ]
    .iter()
    .any(|r| d.route == *r as i32);
    relay_clock
        || (!joins_open_case && (answered_for || d.priority >= pb::Priority::Special as i32))
}

/// An alert about a decided contact: its time, district and category.
fn decision_alert(d: &pb::Decision, kind: pb::AlertKind) -> (pb::Alert, i64) {
    let at = d
        .received_at
        .as_ref()
        .and_then(|t| wire::instant(t, "received_at").ok())
        .unwrap_or_default();
    let a = pb::Alert {
        kind: kind as i32,
        at: Some(wire::timestamp(at)),
        district_code: d.district_code.clone(),
        category: d.category.clone(),
        ..Default::default()
    };
    (a, at.timestamp_millis())
}

/// ESCALATION (Art. 27(1)): repeated contacts on a case still open; once per case.
pub fn escalation_alert(d: &pb::Decision) -> AlertOut {
    let count = d.dedup.as_ref().map(|x| x.repeat_count).unwrap_or(0);
    let (mut a, at_ms) = decision_alert(d, pb::AlertKind::Escalation);
    a.alert_id = format!("{}:ESCALATION", d.case_id);
    a.case_id = d.case_id.clone();
    a.caller_ref = d.caller_ref.clone();
    // This decision's unit; the tracker's, when it knows the case, at the tick.
    a.unit = d.lead_unit.clone();
    a.message = format!(
        "{count} repeated contacts on a case still open: escalate to the government (Art. 27(1))"
    );
    a.value = f64::from(count);
    AlertOut::keyed(a, d.case_id.clone(), 0, at_ms)
}

/// HOTSPOT (Art. 21): many contacts on one matter in one district in a short time; once per cluster.
pub fn hotspot_alert(d: &pb::Decision) -> AlertOut {
    let links = d.dedup.clone().unwrap_or_default();
    let (mut a, at_ms) = decision_alert(d, pb::AlertKind::Hotspot);
    a.alert_id = format!("{}:HOTSPOT", links.cluster_id);
    a.case_id = links.cluster_lead_case;
    a.unit = links.cluster_lead_unit;
    a.message = format!(
        "{} contacts on one matter in one district within the hour: early warning to the units (Art. 21)",
        links.cluster_size
    );
    a.value = f64::from(links.cluster_size);
    let key = if links.cluster_id.is_empty() {
        d.case_id.clone()
    } else {
        links.cluster_id
    };
    AlertOut::keyed(a, key, 0, at_ms)
}

fn deadlines(d: &pb::Decision) -> Deadlines {
    let Some(x) = &d.deadlines else {
        return Deadlines::default();
    };
    Deadlines {
        accept_by: ts(&x.accept_by),
        dispatch_by: ts(&x.dispatch_by),
        sign_by: ts(&x.sign_by),
        return_by: ts(&x.return_by),
        complete_by: ts(&x.complete_by),
        notify_by: ts(&x.notify_by),
        first_feedback_by: ts(&x.first_feedback_by),
        progress_by: ts(&x.progress_by),
        relay_by: ts(&x.relay_by),
        provisional: x.provisional,
    }
}

/// The tracker's event for a wire event (none for an unspecified type).
pub fn order_event(ev: &pb::OrderEvent) -> Option<OrderEvent> {
    Some(match pb::OrderEventType::try_from(ev.r#type).ok()? {
        pb::OrderEventType::Dispatched => OrderEvent::Dispatched,
        pb::OrderEventType::Signed => OrderEvent::Signed,
        pb::OrderEventType::Returned => OrderEvent::Returned,
        pb::OrderEventType::ExtensionRequested => OrderEvent::ExtensionRequested {
            days: ev.extension_days,
        },
        pb::OrderEventType::Feedback => OrderEvent::Feedback,
        pb::OrderEventType::Completed => OrderEvent::Completed,
        pb::OrderEventType::Reopened => OrderEvent::Reopened,
        pb::OrderEventType::Relayed => OrderEvent::Relayed,
        pb::OrderEventType::Dismissed => OrderEvent::Dismissed,
        pb::OrderEventType::AssignedByLeadership => OrderEvent::AssignedByLeadership,
        pb::OrderEventType::ExtensionApproved => OrderEvent::ExtensionApproved,
        pb::OrderEventType::ExtensionRejected => OrderEvent::ExtensionRejected,
        pb::OrderEventType::Notified => OrderEvent::Notified,
        pb::OrderEventType::Progress => OrderEvent::Progress,
        pb::OrderEventType::Revisited => OrderEvent::Revisited(
            match pb::Satisfaction::try_from(ev.satisfaction).unwrap_or_default() {
                pb::Satisfaction::Satisfied => Satisfaction::Satisfied,
                pb::Satisfaction::Unsatisfied => Satisfaction::Unsatisfied,
                // No verdict counts as basically satisfied (Art. 14(1)).
                pb::Satisfaction::BasicallySatisfied | pb::Satisfaction::Unspecified => {
                    Satisfaction::Basically
                }
            },
        ),
        pb::OrderEventType::OrderEventUnspecified => return None,
    })
}

/// An alert to store and publish.
#[derive(Debug, Clone)]
pub struct AlertOut {
    pub alert: pb::Alert,
    pub row: EventRow,
}

impl AlertOut {
    /// Re-encodes the stored body after the alert was changed.
    pub fn refresh(&mut self) {
        self.row.body = self.alert.encode_to_vec();
    }

    /// An alert with the row that stores it under the deterministic key
    /// (`key`, kind × 16 + `sub`, `at_ms`): the same alert is stored once,
    /// so it is raised once, also across restarts.
    pub fn keyed(alert: pb::Alert, key: String, sub: i32, at_ms: i64) -> AlertOut {
        // Published keyed by its case, or by its queue when it has none.
        let publish = if alert.case_id.is_empty() {
            alert.queue.clone()
        } else {
            alert.case_id.clone()
        };
        let row = EventRow {
            stream: "alert",
            key,
            event_type: alert.kind * 16 + sub,
            at_ms,
            body: alert.encode_to_vec(),
            publish: Some(publish),
        };
        AlertOut { alert, row }
    }
}

/// A tracked case as its alerts name it: id, caller pseudonym, and the
/// unit answering for it now.
struct CaseOf<'a> {
    id: &'a str,
    caller_ref: &'a str,
    unit: &'a str,
}

impl<'a> CaseOf<'a> {
    fn in_tracker(t: &'a Tracker, id: &'a str) -> CaseOf<'a> {
        CaseOf {
            id,
            caller_ref: t.caller_ref(id).unwrap_or_default(),
            unit: t.unit(id).unwrap_or_default(),
        }
    }
}

fn alert(
    kind: pb::AlertKind,
    case: &CaseOf<'_>,
    limit: Option<Limit>,
    due: hotline_router::Instant,
    at: hotline_router::Instant,
    message: String,
) -> AlertOut {
    let case_id = case.id;
    let limit_name = limit.map(Limit::as_str).unwrap_or("complete");
    let alert_id = format!(
        "{}:{}:{}:{}",
        case_id,
        kind.as_str_name(),
        limit_name,
        due.timestamp_millis()
    );
    let a = pb::Alert {
        alert_id,
        kind: kind as i32,
        at: Some(wire::timestamp(at)),
        case_id: case_id.to_string(),
        caller_ref: case.caller_ref.to_string(),
        unit: case.unit.to_string(),
        deadline: limit_name.to_string(),
        due: Some(wire::timestamp(due)),
        message,
        ..Default::default()
    };
    let sub = limit.map(|l| l as i32).unwrap_or(0);
    AlertOut::keyed(a, case_id.to_string(), sub, due.timestamp_millis())
}

/// An alert about a queue (answer rate), keyed by queue and instant.
pub fn queue_alert(
    kind: pb::AlertKind,
    queue: &str,
    rate: f64,
    at: hotline_router::Instant,
    message: &str,
) -> AlertOut {
    let a = pb::Alert {
        alert_id: format!("{queue}:{}:{}", kind.as_str_name(), at.timestamp_millis()),
        kind: kind as i32,
        at: Some(wire::timestamp(at)),
        queue: queue.to_string(),
        value: rate,
        message: message.to_string(),
        ..Default::default()
    };
    AlertOut::keyed(a, format!("queue:{queue}"), 0, at.timestamp_millis())
}

impl Orders {
    /// The tracker for `router`'s calendar, units and lines.
    pub fn new(
        router: &hotline_router::Router,
        cfg: TrackerConfig,
        dedup: Option<Arc<Mutex<hotline_router::dedup::Dedup>>>,
    ) -> Arc<Orders> {
        Arc::new(Orders {
            tenant: router.city_code().to_string(),
            cfg,
            tracker: Mutex::new(Tracker::new(cfg)),
            calendar: router.calendar().clone(),
            pending: Mutex::new(Vec::new()),
            dedup,
            units: router
                .unit_targets()
                .map(|(code, name)| (Box::from(code), Box::from(name)))
                .collect(),
            completed_today: Mutex::new(Today::default()),
        })
    }

    /// The working-day calendar the deadlines are counted on.
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The tenant's city code.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Forgets every case and pending alert, before a rebuild from the
    /// store (`admit::restore::rebuild`).
    pub fn reset(&self) {
        if let Ok(mut t) = self.tracker.lock() {
            *t = Tracker::new(self.cfg);
        }
        if let Ok(mut p) = self.pending.lock() {
            p.clear();
        }
        if let Ok(mut c) = self.completed_today.lock() {
            *c = Today::default();
        }
    }

    /// Queues an alert to raise at the next tick.
    fn queue(&self, a: AlertOut) {
        if let Ok(mut p) = self.pending.lock() {
            p.push(a);
        }
    }

    /// Starts tracking a stored decision that needs it, read back from the
    /// store (a restart, a takeover). Its (possible) emergency's alert is
    /// raised again at the next tick: stored with the decision, it is the
    /// same row and changes nothing; a store written before alerts were
    /// stored with their decision gets it.
    pub fn open(&self, d: &pb::Decision) {
        if let Some(t) = track_of(d) {
            self.open_track(&t);
        }
        if let Some(a) = safety_alert(d) {
            self.queue(a);
        }
    }

    /// Applies an order event read back from the store (a restart, a
    /// takeover). The alert it raises is raised again at the next tick:
    /// stored before, it is the same row and changes nothing; lost to a
    /// crash between the event's commit and its alert's (the client, never
    /// answered, retries, and a stored event raises nothing twice), it is
    /// stored now.
    pub fn replay_event(&self, ev: &pb::OrderEvent) {
        if let Some(a) = self.event(ev) {
            self.queue(a);
        }
    }

    /// Starts tracking a case (its alerts were stored with its decision).
    pub fn open_track(&self, x: &Track) {
        if let Ok(mut t) = self.tracker.lock() {
            x.open_in(&mut t);
        }
    }

    /// Makes an alert about a case name the unit answering for it now (a
    /// case re-dispatched since) and the tenant that raises it.
    pub fn address(&self, out: &mut AlertOut) {
        let unit = self.tracker.lock().ok().and_then(|t| {
            t.unit(&out.alert.case_id)
                .filter(|u| !u.is_empty())
                .map(str::to_string)
        });
        let mut changed = false;
        if let Some(u) = unit {
            if out.alert.unit != u {
                out.alert.unit = u;
                changed = true;
            }
        }
        if out.alert.tenant != self.tenant {
            out.alert.tenant = self.tenant.clone();
            changed = true;
        }
        if changed {
            out.refresh();
        }
    }

    /// Whether the case's state allows an order event, asked before it is
    /// stored: a refused event is not stored and changes nothing. A return
    /// the rules forbid raises its alert: RETURN_REFUSED for a case
    /// assigned by leadership, OVERDUE "return" for one later than 30 min
    /// after signing (Art. 13(2): counted as overdue).
    pub fn check(&self, ev: &pb::OrderEvent) -> Result<(), Rejected> {
        let (Some(e), Some(at)) = (order_event(ev), ts(&ev.at)) else {
            return Ok(());
        };
        let Ok(t) = self.tracker.lock() else {
            return Ok(());
        };
        let Err(r) = t.check(&ev.case_id, e, at) else {
            return Ok(());
        };
        counter!("hotline_order_events_refused_total", "code" => r.code()).increment(1);
        let case = CaseOf::in_tracker(&t, &ev.case_id);
        let alert = match &r {
            Refusal::LateReturn { due } => Some(alert(
                pb::AlertKind::Overdue,
                &case,
                Some(Limit::Return),
                *due,
                at,
                "returned later than 30 min after signing: refused, counted as overdue".into(),
            )),
            Refusal::AssignedByLeadership => Some(alert(
                pb::AlertKind::ReturnRefused,
                &case,
                Some(Limit::Return),
                at,
                at,
                "a case assigned by leadership (批办) may not be returned (Art. 12)".into(),
            )),
            _ => None,
        };
        Err(Rejected { refusal: r, alert })
    }

    /// Applies a newly stored order event; returns an alert it raises at once.
    pub fn event(&self, ev: &pb::OrderEvent) -> Option<AlertOut> {
        let (Some(e), Some(at)) = (order_event(ev), ts(&ev.at)) else {
            return None;
        };
        let mut t = self.tracker.lock().ok()?;
        let out = t.event(&self.calendar, &ev.case_id, e, &ev.unit, at);
        self.count(t.take_tallies());
        let case = CaseOf::in_tracker(&t, &ev.case_id);
        let raised = match &out {
            EventOutcome::Refused(_) => None,
            EventOutcome::ExtensionRefused(r) => {
                counter!("hotline_extensions_total", "outcome" => "refused").increment(1);
                Some(alert(
                    pb::AlertKind::ExtensionRefused,
                    &case,
                    Some(Limit::Complete),
                    at,
                    at,
                    format!("{}: {r}", r.code()),
                ))
            }
            EventOutcome::ExtensionPending { .. } => {
                counter!("hotline_extensions_total", "outcome" => "pending").increment(1);
                None
            }
            EventOutcome::ExtensionGranted { .. } => {
                counter!("hotline_extensions_total", "outcome" => "granted").increment(1);
                None
            }
            EventOutcome::Escalated(f) => Some(fired_alert(f, &t, at)),
            EventOutcome::Applied => None,
        };
        drop(t);
        // The dedup index follows whether the case is open: a completed
        // case may be reopened by a repeat; a returned one is still open.
        let closed = match (&out, e) {
            (EventOutcome::Refused(_), _) => None,
            (_, OrderEvent::Completed) => Some(true),
            (_, OrderEvent::Reopened | OrderEvent::Revisited(Satisfaction::Unsatisfied)) => {
                Some(false)
            }
            _ => None,
        };
        if let (Some(c), Some(idx)) = (closed, &self.dedup) {
            if let Ok(mut idx) = idx.lock() {
                idx.case_event(&ev.case_id, c, at.timestamp());
            }
        }
        raised
    }

    /// Counts the unit tallies of what just happened (the scorecards'
    /// live figures); a unit the rules do not know is counted as `other`.
    fn count(&self, tallies: Vec<Tally>) {
        for x in tallies {
            let on_time = match x.measure {
                Measure::CompletedOnTime => Some(true),
                Measure::CompletedLate => Some(false),
                _ => None,
            };
            if let (Some(on_time), Ok(mut today)) = (on_time, self.completed_today.lock()) {
                if let Some((all, in_time)) = today.at(x.at) {
                    *all += 1;
                    *in_time += u64::from(on_time);
                }
            }
            let unit = if self.units.contains_key(&*x.unit) {
                x.unit.to_string()
            } else {
                "other".to_string()
            };
            counter!("hotline_unit_cases_total", "unit" => unit, "measure" => x.measure.as_str())
                .increment(1);
        }
    }

    /// The name of a unit or line, by its target code.
    pub fn unit_name(&self, code: &str) -> Option<&str> {
        self.units.get(code).map(|n| &**n)
    }

    /// The open cases as the wall screen shows them, and the day's
    /// completions (all, on time) as of `now`.
    pub fn summary(&self, now: hotline_router::Instant) -> (Summary, u64, u64) {
        let s = self
            .tracker
            .lock()
            .map(|t| t.summary(now, 8))
            .unwrap_or_default();
        let (all, on_time) = self
            .completed_today
            .lock()
            .ok()
            .and_then(|d| d.of(now).copied())
            .unwrap_or_default();
        (s, all, on_time)
    }

    /// Drops the tallies recorded so far (a restore's replay).
    pub fn discard_tallies(&self) {
        if let Ok(mut t) = self.tracker.lock() {
            t.take_tallies();
        }
    }

    /// Cases tracked now.
    pub fn open_cases(&self) -> usize {
        self.tracker.lock().map(|t| t.len()).unwrap_or(0)
    }

    /// Alerts due at `now`.
    pub fn tick(&self, now: hotline_router::Instant) -> Vec<AlertOut> {
        let mut out: Vec<AlertOut> = self
            .pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        for a in &mut out {
            self.address(a);
        }
        let Ok(mut t) = self.tracker.lock() else {
            return out;
        };
        let fired = t.tick(now);
        self.count(t.take_tallies());
        // Set here, once a second, not on every contact.
        gauge!("hotline_open_cases", "tenant" => self.tenant.clone()).set(t.len() as f64);
        out.extend(fired.iter().map(|f| fired_alert(f, &t, now)));
        out
    }
}

/// Why an order event was refused, and the alert that raises.
#[derive(Debug)]
pub struct Rejected {
    pub refusal: Refusal,
    pub alert: Option<AlertOut>,
}

impl Rejected {
    /// The gRPC status name: INVALID_ARGUMENT or FAILED_PRECONDITION.
    pub fn status(&self) -> &'static str {
        match self.refusal.class() {
            RefusalClass::InvalidArgument => "INVALID_ARGUMENT",
            RefusalClass::FailedPrecondition => "FAILED_PRECONDITION",
        }
    }
}

/// The alert of something the tracker fired, naming the case as `t` knows it.
fn fired_alert(f: &Fired, t: &Tracker, now: hotline_router::Instant) -> AlertOut {
    match f {
        Fired::DueSoon { case_id, due } => alert(
            pb::AlertKind::DueSoon,
            &CaseOf::in_tracker(t, case_id),
            None,
            *due,
            now,
            "completion due in 2 h; the extension window closes".into(),
        ),
        Fired::Overdue {
            case_id,
            limit,
            due,
        } => alert(
            pb::AlertKind::Overdue,
            &CaseOf::in_tracker(t, case_id),
            Some(*limit),
            *due,
            now,
            format!("{} limit passed", limit.as_str()),
        ),
        Fired::Escalation {
            case_id,
            reason,
            due,
        } => alert(
            pb::AlertKind::Escalation,
            &CaseOf::in_tracker(t, case_id),
            Some(Limit::Escalate),
            *due,
            now,
            format!("{reason}: report to the government for supervision (Art. 27)"),
        ),
    }
}

/// Stores an alert (once: its key is deterministic; the store's outbox
/// publishes it), then counts it.
pub async fn raise(a: AlertOut, committer: &mpsc::Sender<Job>, tenant: &str, epoch: u64) {
    raise_all(vec![a], committer, tenant, epoch).await
}

/// Raises several alerts: queued for the committer in groups, so a group
/// shares one transaction, then each newly stored one is announced in
/// order. A group takes at most a quarter of the committer's queue (256 at
/// most): contacts keep room to be queued while a tick raises thousands.
/// Each alert is stamped with `tenant`, the city whose committer stores it;
/// `epoch` is the tenant's ownership epoch they were found in.
pub async fn raise_all(
    alerts: Vec<AlertOut>,
    committer: &mpsc::Sender<Job>,
    tenant: &str,
    epoch: u64,
) {
    let group = (committer.max_capacity() / 4).clamp(1, 256);
    let mut alerts = alerts.into_iter().peekable();
    while alerts.peek().is_some() {
        let mut stored = Vec::with_capacity(group);
        for mut out in alerts.by_ref().take(group) {
            if out.alert.tenant != tenant {
                out.alert.tenant = tenant.to_string();
                out.refresh();
            }
            let AlertOut { alert, row } = out;
            let (reply, rx) = oneshot::channel();
            if committer
                .send(Job::Event { row, reply, epoch })
                .await
                .is_err()
            {
                return;
            }
            stored.push((alert, rx));
        }
        for (alert, rx) in stored {
            if let Ok(Ok(true)) = rx.await {
                announce(&alert);
            }
        }
    }
}

/// Counts and logs an alert once it is stored.
pub fn announce(alert: &pb::Alert) {
    let kind = pb::AlertKind::try_from(alert.kind)
        .map(|k| k.as_str_name())
        .unwrap_or("ALERT_UNSPECIFIED");
    counter!("hotline_alerts_total", "kind" => kind).increment(1);
    if alert.kind == pb::AlertKind::Overdue as i32 && alert.deadline == Limit::Relay.as_str() {
        crate::telemetry::metrics::relay_overdue();
    }
    tracing::info!(kind, deadline = %alert.deadline, queue = %alert.queue, "alert raised");
}

/// Every second until `shutdown`, the alerts `due(now)` finds are raised
/// (stored once, counted; published by the outbox): the deadline tracker's tick and the
/// SLA refresh share this loop.
pub async fn raise_every_second(
    task: &'static str,
    mut due: impl FnMut(chrono::DateTime<chrono::Utc>) -> Vec<AlertOut>,
    committer: mpsc::Sender<Job>,
    tenant: Arc<str>,
    owner: Arc<crate::sinks::ownership::Owner>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
        // A tenant decided elsewhere raises nothing here.
        if let Some(epoch) = owner.owned_epoch() {
            raise_all(due(chrono::Utc::now()), &committer, &tenant, epoch).await;
        }
        crate::telemetry::metrics::tick(task);
    }
}
