//! What the wall screen shows of the open cases: how many wait at each
//! stage, how many are due soon or overdue and at which unit, and the
//! (possible) emergencies still waiting to be relayed. One pass over the
//! cases: taken once a second, not per contact.
use super::{ms, Limit, Tracker};
use crate::model::Instant;
use std::collections::HashMap;

/// The open cases by stage and by unit, as of an instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Open cases (completed ones awaiting their visit excluded).
    pub open: usize,
    /// Waiting for the center's dispatch (10 minutes).
    pub dispatch: usize,
    /// Dispatched, waiting for the unit to sign (30 minutes).
    pub sign: usize,
    /// With the unit.
    pub handling: usize,
    /// An extension request waiting for the center's review.
    pub extension_review: usize,
    /// Completion due within the due-soon lead (2 h), no limit passed yet.
    pub due_soon: usize,
    /// A limit passed with its step still not done: dispatch, signature or completion.
    pub overdue: usize,
    /// Emergencies sent as text and possible emergencies not yet relayed or dismissed.
    pub awaiting_relay: usize,
    /// (unit, district, due soon, overdue), most overdue first, at most `max_units`.
    pub by_unit: Vec<(String, String, usize, usize)>,
}

impl Tracker {
    /// The open cases as of `now`; `by_unit` lists at most `max_units` rows.
    pub fn summary(&self, now: Instant, max_units: usize) -> Summary {
        let now = ms(now);
        let lead = self.cfg().due_soon_lead.num_milliseconds();
        let mut s = Summary::default();
        let mut units: HashMap<(&str, &str), (usize, usize)> = HashMap::new();
        for c in self.cases.values().filter(|c| c.completed_at.is_none()) {
            s.open += 1;
            if c.due.get(Limit::Relay).is_some() {
                s.awaiting_relay += 1;
            }
            if c.pending_extension.is_some() {
                s.extension_review += 1;
            } else if c.due.get(Limit::Dispatch).is_some() {
                s.dispatch += 1;
            } else if c.due.get(Limit::Sign).is_some() {
                s.sign += 1;
            } else if c.with_unit || c.due.get(Limit::Complete).is_some() {
                s.handling += 1;
            }
            let passed = [Limit::Dispatch, Limit::Sign, Limit::Complete]
                .iter()
                .filter_map(|l| c.due.get(*l))
                .any(|d| d <= now);
            // Not past a limit, so the completion (if any) is still ahead.
            let soon = !passed && c.due.get(Limit::Complete).is_some_and(|d| d - lead <= now);
            if !(passed || soon) {
                continue;
            }
            let row = units.entry((&c.unit, &c.district)).or_default();
            if passed {
                s.overdue += 1;
                row.1 += 1;
            } else {
                s.due_soon += 1;
                row.0 += 1;
            }
        }
        // A row exists only for a case due soon or past a limit.
        let mut rows: Vec<(String, String, usize, usize)> = units
            .into_iter()
            .map(|((u, d), (soon, over))| (u.to_string(), d.to_string(), soon, over))
            .collect();
        rows.sort_by(|a, b| b.3.cmp(&a.3).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
        rows.truncate(max_units);
        s.by_unit = rows;
        s
    }
}
