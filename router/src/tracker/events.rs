//! The lifecycle events of a case and what each changes (Art. 12–14, 27):
//! dispatch and return (退单) with re-dispatch, cases assigned by
//! leadership (批办) that may not be returned, extensions requested by the
//! unit and reviewed by the center, the three clocks of a special matter,
//! completion, return visits (回访) and re-handling (特提). An event the
//! case's state does not allow is refused ([`Refusal`]) and changes nothing;
//! [`Tracker::check`] says so before the event is stored.
use super::{at, key, ms, Fired, Limit, Measure, Tracker};
use crate::calendar::Calendar;
use crate::deadlines::{
    add_limit, completion_limit, extend, ExtensionRefused, ExtensionRequest, DISPATCH_LIMIT,
    RETURN_LIMIT, SIGN_LIMIT,
};
use crate::model::Instant;

/// The caller's verdict on a return visit (Art. 14): no verdict counts as
/// basically satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Satisfaction {
    Satisfied,
    Basically,
    Unsatisfied,
}

/// A lifecycle event of a work order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// Sent to a unit (the event's unit, else the decision's): the unit
    /// must sign within 30 minutes.
    Dispatched,
    /// The unit signed: it may return the case within 30 minutes.
    Signed,
    /// The unit sent the case back to the center: a new 10-minute dispatch clock.
    Returned,
    /// The case was assigned by leadership (批办): it may not be returned.
    AssignedByLeadership,
    /// The unit asks for more time: checked against Art. 13(3) now,
    /// decided by the center's review.
    ExtensionRequested {
        days: u32,
    },
    ExtensionApproved,
    ExtensionRejected,
    /// Special matter: the center told the local government and the
    /// departments (3 minutes).
    Notified,
    /// Special matter: the unit's first report (1 hour).
    Feedback,
    /// Special matter: the unit's progress report (1 working day).
    Progress,
    Completed,
    /// The center reopened a completed case: the unit handles it again
    /// with the kind's full limit.
    Reopened,
    /// The return visit's verdict; unsatisfied re-opens the case (特提).
    Revisited(Satisfaction),
    /// The center passed the emergency to its line.
    Relayed,
    /// An agent judged a possible emergency not to be one.
    Dismissed,
}

/// Which gRPC status a refusal maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalClass {
    /// The event itself is wrong whatever the case's state.
    InvalidArgument,
    /// The case's state does not allow the event now.
    FailedPrecondition,
}

/// Why an event was refused; a refused event changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no open or recently completed case has this id")]
    UnknownCase,
    #[error("the event is dated before the contact was received")]
    BeforeIntake,
    #[error("the case is completed: only REVISITED or REOPENED apply")]
    Completed,
    #[error("the case is not completed: a return visit follows completion")]
    NotCompleted,
    #[error("the case is not with a unit: only a dispatched case can be returned")]
    NotDispatched,
    #[error("the case was assigned by leadership (批办) and may not be returned (Art. 12)")]
    AssignedByLeadership,
    #[error(
        "returned later than 30 minutes after signing (due {due}): counted as overdue (Art. 13(2))"
    )]
    LateReturn { due: Instant },
    #[error("no extension request awaits review")]
    NoExtensionPending,
    #[error("an extension request already awaits review")]
    ExtensionPending,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownCase => "UNKNOWN_CASE",
            Refusal::BeforeIntake => "BEFORE_INTAKE",
            Refusal::Completed => "CASE_COMPLETED",
            Refusal::NotCompleted => "CASE_NOT_COMPLETED",
            Refusal::NotDispatched => "NOT_DISPATCHED",
            Refusal::AssignedByLeadership => "ASSIGNED_BY_LEADERSHIP",
            Refusal::LateReturn { .. } => "LATE_RETURN",
            Refusal::NoExtensionPending => "NO_EXTENSION_PENDING",
            Refusal::ExtensionPending => "EXTENSION_PENDING",
        }
    }

    pub fn class(&self) -> RefusalClass {
        match self {
            Refusal::BeforeIntake => RefusalClass::InvalidArgument,
            _ => RefusalClass::FailedPrecondition,
        }
    }
}

/// Outcome of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// The request meets Art. 13(3) and awaits the center's review.
    ExtensionPending {
        complete_by: Instant,
    },
    /// The center approved: the completion deadline moved.
    ExtensionGranted {
        complete_by: Instant,
    },
    /// The request breaks Art. 13(3) (counted; the case is unchanged).
    ExtensionRefused(ExtensionRefused),
    /// The case's state does not allow the event: nothing changed.
    Refused(Refusal),
    /// Applied, and supervision must step in (a second unsatisfied visit).
    Escalated(Fired),
}

impl Tracker {
    /// Whether the case's state allows `ev` at `t`; nothing changes.
    pub fn check(&self, case_id: &str, ev: OrderEvent, t: Instant) -> Result<(), Refusal> {
        let c = self.cases.get(&key(case_id)).ok_or(Refusal::UnknownCase)?;
        if ms(t) < c.opened_at {
            return Err(Refusal::BeforeIntake);
        }
        if c.completed_at.is_some() {
            return match ev {
                OrderEvent::Revisited(_) | OrderEvent::Reopened => Ok(()),
                _ => Err(Refusal::Completed),
            };
        }
        match ev {
            OrderEvent::Revisited(_) => Err(Refusal::NotCompleted),
            OrderEvent::Returned if c.leadership => Err(Refusal::AssignedByLeadership),
            OrderEvent::Returned if !c.with_unit => Err(Refusal::NotDispatched),
            OrderEvent::Returned => match c.due.get(Limit::Return) {
                Some(r) if ms(t) > r => Err(Refusal::LateReturn { due: at(r) }),
                _ => Ok(()),
            },
            OrderEvent::ExtensionApproved | OrderEvent::ExtensionRejected
                if c.pending_extension.is_none() =>
            {
                Err(Refusal::NoExtensionPending)
            }
            OrderEvent::ExtensionRequested { .. } if c.pending_extension.is_some() => {
                Err(Refusal::ExtensionPending)
            }
            _ => Ok(()),
        }
    }

    /// Applies a lifecycle event at `t`; `unit` is the event's unit (empty:
    /// none named). A refused event changes nothing.
    pub fn event(
        &mut self,
        cal: &Calendar,
        case_id: &str,
        ev: OrderEvent,
        unit: &str,
        t: Instant,
    ) -> EventOutcome {
        if let Err(r) = self.check(case_id, ev, t) {
            return EventOutcome::Refused(r);
        }
        let k = key(case_id);
        let now = ms(t);
        let Some(c) = self.cases.get_mut(&k) else {
            return EventOutcome::Refused(Refusal::UnknownCase);
        };
        let mut out = EventOutcome::Applied;
        // What the event counts for the case's unit, tallied once it is applied
        // (no event changes the unit but DISPATCHED, which counts for the new one).
        let mut counts: [Option<Measure>; 2] = [None; 2];
        match ev {
            OrderEvent::Dispatched => {
                c.due.set(Limit::Dispatch, None);
                c.due.set(Limit::Return, None);
                c.due.set(Limit::Sign, Some(ms(t + SIGN_LIMIT)));
                c.overdue_fired &= !Limit::Sign.bit();
                c.with_unit = true;
                if !unit.is_empty() && *c.unit != *unit {
                    c.unit = unit.into();
                }
                counts[0] = Some(Measure::Received);
            }
            OrderEvent::Signed => {
                if let Some(s) = c.due.get(Limit::Sign) {
                    counts[0] = Some(if now <= s {
                        Measure::SignedOnTime
                    } else {
                        Measure::SignedLate
                    });
                }
                c.due.set(Limit::Sign, None);
                c.due.set(Limit::Return, Some(ms(t + RETURN_LIMIT)));
            }
            OrderEvent::Returned => {
                counts[0] = Some(Measure::Returned);
                c.due.set(Limit::Sign, None);
                c.due.set(Limit::Return, None);
                c.due.set(Limit::Dispatch, Some(ms(t + DISPATCH_LIMIT)));
                c.overdue_fired &= !Limit::Dispatch.bit();
                c.with_unit = false;
            }
            OrderEvent::AssignedByLeadership => c.leadership = true,
            OrderEvent::ExtensionRequested { days } => {
                let Some(due) = c.due.get(Limit::Complete) else {
                    return EventOutcome::ExtensionRefused(ExtensionRefused::KindNotExtendable(
                        c.kind,
                    ));
                };
                let req = ExtensionRequest {
                    kind: c.kind,
                    complete_by: at(due),
                    requested_at: t,
                    days,
                    already_extended: c.extended,
                };
                match extend(cal, &req) {
                    Ok((new_due, _)) => {
                        c.pending_extension = Some(ms(new_due));
                        out = EventOutcome::ExtensionPending {
                            complete_by: new_due,
                        };
                        counts[0] = Some(Measure::ExtensionRequested);
                    }
                    Err(e) => return EventOutcome::ExtensionRefused(e),
                }
            }
            OrderEvent::ExtensionApproved => {
                let new_due = c.pending_extension.take();
                c.extended = true;
                self.set_complete(k, new_due);
                out = EventOutcome::ExtensionGranted {
                    complete_by: at(new_due.unwrap_or(now)),
                };
                counts[0] = Some(Measure::ExtensionApproved);
            }
            OrderEvent::ExtensionRejected => {
                // The one request (Art. 13(3)) was made.
                c.pending_extension = None;
                c.extended = true;
            }
            OrderEvent::Notified => c.due.set(Limit::Notify, None),
            OrderEvent::Feedback => c.due.set(Limit::FirstFeedback, None),
            OrderEvent::Progress => c.due.set(Limit::Progress, None),
            OrderEvent::Completed => {
                let late = c.overdue_fired & Limit::Complete.bit() != 0
                    || c.due.get(Limit::Complete).is_some_and(|d| now > d);
                counts[0] = Some(if late {
                    Measure::CompletedLate
                } else {
                    Measure::CompletedOnTime
                });
                self.complete(k, now);
            }
            OrderEvent::Reopened => {
                if c.completed_at.is_some() {
                    self.rehandle(cal, k, t);
                    counts[0] = Some(Measure::Rehandled);
                }
            }
            OrderEvent::Revisited(s) => {
                counts[0] = Some(match s {
                    Satisfaction::Satisfied => Measure::Satisfied,
                    Satisfaction::Basically => Measure::BasicallySatisfied,
                    Satisfaction::Unsatisfied => Measure::Unsatisfied,
                });
                if s == Satisfaction::Unsatisfied {
                    c.unsatisfied = c.unsatisfied.saturating_add(1);
                    if c.unsatisfied == 2 {
                        out = EventOutcome::Escalated(Fired::Escalation {
                            case_id: case_id.to_string(),
                            reason: "second unsatisfied return visit",
                            due: t,
                        });
                    }
                    self.rehandle(cal, k, t);
                    counts[1] = Some(Measure::Rehandled);
                }
            }
            OrderEvent::Relayed | OrderEvent::Dismissed => {
                c.due.set(Limit::Relay, None);
                // An emergency transfer has nothing else to watch.
                if !c.due.any() {
                    self.forget(k);
                    return out;
                }
            }
        }
        for m in counts.into_iter().flatten() {
            self.tally(k, m, now);
        }
        self.rearm(k);
        out
    }

    /// Completion: the timers stop; the case is kept for its return visit.
    fn complete(&mut self, k: u64, now: i64) {
        let window = self.cfg().revisit_window.num_milliseconds();
        if let Some(c) = self.cases.get_mut(&k) {
            if let Some(a) = c.armed.take() {
                self.timers.remove(&(a, k));
            }
            c.completed_at = Some(now);
            c.pending_extension = None;
            c.due = super::Dues::EMPTY;
            self.retired.insert((now + window, k));
        }
    }

    /// A completed case goes back to its unit with the kind's full
    /// completion limit from `t` (特提, Art. 14(2)).
    fn rehandle(&mut self, cal: &Calendar, k: u64, t: Instant) {
        let window = self.cfg().revisit_window.num_milliseconds();
        let Some(c) = self.cases.get_mut(&k) else {
            return;
        };
        if let Some(done) = c.completed_at.take() {
            self.retired.remove(&(done + window, k));
        }
        c.with_unit = true;
        let (due, _) = add_limit(cal, t, completion_limit(c.kind));
        self.set_complete(k, Some(ms(due)));
    }
}
