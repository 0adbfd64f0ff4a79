//! What a unit is assessed on (Art. 25, 26, 30): each case event that counts
//! for or against the unit answering for it, recorded by the tracker as it
//! happens. The daemon turns tallies into per-unit metrics; `hotlined
//! report` replays the store through a tracker and sums them per unit and
//! district over a period, so the monthly table and the live counters are
//! one computation.
use crate::model::Instant;

/// One thing that happened to a unit's case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    /// Dispatched to the unit.
    Received,
    /// Signed within 30 minutes of dispatch (Art. 13(1)).
    SignedOnTime,
    SignedLate,
    /// Returned to the center within the window.
    Returned,
    CompletedOnTime,
    CompletedLate,
    /// The completion limit passed with the case open.
    Overdue,
    ExtensionRequested,
    ExtensionApproved,
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
    /// Sent back to the unit after an unsatisfied visit (特提) or reopened.
    Rehandled,
}

impl Measure {
    pub const ALL: [Measure; 13] = [
        Measure::Received,
        Measure::SignedOnTime,
        Measure::SignedLate,
        Measure::Returned,
        Measure::CompletedOnTime,
        Measure::CompletedLate,
        Measure::Overdue,
        Measure::ExtensionRequested,
        Measure::ExtensionApproved,
        Measure::Satisfied,
        Measure::BasicallySatisfied,
        Measure::Unsatisfied,
        Measure::Rehandled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Received => "received",
            Measure::SignedOnTime => "signed_on_time",
            Measure::SignedLate => "signed_late",
            Measure::Returned => "returned",
            Measure::CompletedOnTime => "completed_on_time",
            Measure::CompletedLate => "completed_late",
            Measure::Overdue => "overdue",
            Measure::ExtensionRequested => "extension_requested",
            Measure::ExtensionApproved => "extension_approved",
            Measure::Satisfied => "satisfied",
            Measure::BasicallySatisfied => "basically_satisfied",
            Measure::Unsatisfied => "unsatisfied",
            Measure::Rehandled => "rehandled",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A measure counted for a unit (and the case's district) at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub unit: Box<str>,
    pub district: Box<str>,
    pub measure: Measure,
    pub at: Instant,
}
