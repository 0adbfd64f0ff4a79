//! Stage 6, deadlines (Art. 13): every time limit of a decision, and the
//! once-only extension of complaints and reports (Art. 13(3)).
//!
//! Minute and hour limits run on the wall clock, 7 × 24. "N working days" is
//! N × 24 h of clock time that falls on working days in Asia/Shanghai: a
//! complaint received Friday 15:00 with 3 working days is due Wednesday
//! 15:00; one received Saturday 10:00 is due Thursday 00:00.
use crate::calendar::Calendar;
use crate::model::{Channel, Deadlines, Instant, Kind, Origin, Priority, RouteKind};
use chrono::{Duration, FixedOffset, NaiveDateTime, TimeZone};

/// Asia/Shanghai: UTC+8, no daylight saving.
pub const LOCAL_OFFSET_SECS: i32 = 8 * 3600;
/// SMS and other media accepted within 3 min (Art. 13(1)).
pub const ACCEPT_LIMIT: Duration = Duration::minutes(3);
/// Work order dispatched within 10 min of intake.
pub const DISPATCH_LIMIT: Duration = Duration::minutes(10);
/// Unit signs within 30 min of dispatch.
pub const SIGN_LIMIT: Duration = Duration::minutes(30);
/// Out-of-scope order returned within 30 min of signing.
pub const RETURN_LIMIT: Duration = Duration::minutes(30);
/// Provincial and national orders are due this much before their limit
/// (Art. 13(2)), when the limit is counted in working days.
pub const PLATFORM_ADVANCE: Duration = Duration::hours(3);
/// An emergency sent as text is relayed to its line, and a possible
/// emergency relayed or dismissed, within 3 min (the 3-minute limit of
/// Art. 13(1) and 13(4), applied to life safety).
pub const RELAY_LIMIT: Duration = Duration::minutes(3);
/// Special matters: notify within 3 min, first feedback within 1 h (Art. 13(4)).
pub const NOTIFY_LIMIT: Duration = Duration::minutes(3);
pub const FIRST_FEEDBACK_LIMIT: Duration = Duration::hours(1);
/// Special matters: progress report within 1 working day.
pub const PROGRESS_WORKING_DAYS: u32 = 1;
/// Extension: asked at least this long before the due time (Art. 13(3)).
pub const EXTENSION_LEAD: Duration = Duration::hours(2);
/// Extension: at most this many working days.
pub const MAX_EXTENSION_DAYS: u32 = 2;

/// The completion limit of a kind (Art. 13(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Hours(i64),
    WorkingDays(u32),
}

/// Completion limit by kind: consultation 1 h; help, opinion, suggestion
/// 1 working day; complaint, report 3 working days; epidemic 4 h.
pub fn completion_limit(kind: Kind) -> Limit {
    match kind {
        Kind::Consultation => Limit::Hours(1),
        Kind::Help | Kind::Opinion | Kind::Suggestion => Limit::WorkingDays(1),
        Kind::Complaint | Kind::Report => Limit::WorkingDays(3),
        Kind::Epidemic => Limit::Hours(4),
    }
}

fn local(t: Instant) -> NaiveDateTime {
    t.naive_utc() + Duration::seconds(i64::from(LOCAL_OFFSET_SECS))
}

fn utc(t: NaiveDateTime) -> Instant {
    (t - Duration::seconds(i64::from(LOCAL_OFFSET_SECS))).and_utc()
}

/// The fixed offset of Asia/Shanghai, for printing local times.
pub const SHANGHAI: FixedOffset = match FixedOffset::east_opt(LOCAL_OFFSET_SECS) {
    Some(o) => o,
    None => panic!("UTC+8 is a valid offset"),
};

/// Formats an instant as RFC 3339 in Asia/Shanghai (`…+08:00`).
pub fn to_local_rfc3339(t: Instant) -> String {
    SHANGHAI.from_utc_datetime(&t.naive_utc()).to_rfc3339()
}

/// `start` plus `n` working days, and whether a day outside the known
/// calendar was consulted (the result is then provisional).
pub fn add_working_days(cal: &Calendar, start: Instant, n: u32) -> (Instant, bool) {
    let mut t = local(start);
    let mut remaining = Duration::days(i64::from(n));
    let mut provisional = false;
    // Bounded: calendar validation caps holidays, so a working day comes
    // within a few months; 100 years of days is a hard stop.
    for _ in 0..36_600 {
        let day = t.date();
        let Some(next) = day.succ_opt() else { break };
        let day_end = next.and_time(chrono::NaiveTime::MIN);
        let (workday, prov) = cal.is_workday(day);
        provisional |= prov;
        if workday {
            let available = day_end - t;
            if remaining <= available {
                return (utc(t + remaining), provisional);
            }
            remaining -= available;
        }
        t = day_end;
    }
    (utc(t + remaining), true)
}

/// Adds a completion limit to `start`.
pub fn add_limit(cal: &Calendar, start: Instant, limit: Limit) -> (Instant, bool) {
    match limit {
        Limit::Hours(h) => (start + Duration::hours(h), false),
        Limit::WorkingDays(n) => add_working_days(cal, start, n),
    }
}

/// What the deadlines depend on.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineInput {
    pub received_at: Instant,
    pub kind: Kind,
    pub origin: Origin,
    pub channel: Channel,
    pub priority: Priority,
    pub route: RouteKind,
    /// A provincial or national order's own due time, when the platform
    /// gave one.
    pub platform_due: Option<Instant>,
}

/// Which limits apply, for `calendar due`-style queries that want them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every limit that could apply to the contact, whatever the route.
    All,
    /// Only those that apply to the decision's route.
    Route,
}

/// Every deadline of a contact (Art. 13).
///
/// With [`Scope::Route`]: work orders (and special-priority utility cases)
/// get dispatch, sign, return and completion limits; a direct answer, a
/// sub-center transfer (Art. 7(3)) and a utility linkage (Art. 15) get the
/// completion limit (the sub-center or utility answers for it); emergency
/// transfers and refusals get none of those. Media other
/// than phone get `accept_by`; special priorities get the Art. 13(4) limits.
pub fn compute(cal: &Calendar, input: &DeadlineInput, scope: Scope) -> Deadlines {
    let r = input.received_at;
    let mut d = Deadlines::default();
    let all = scope == Scope::All;
    if all || !matches!(input.channel, Channel::Phone | Channel::Platform) {
        d.accept_by = Some(r + ACCEPT_LIMIT);
    }
    let special = input.priority != Priority::Normal;
    let order = all
        || input.route == RouteKind::WorkOrder
        || (input.route == RouteKind::UtilityLinkage && special);
    if order {
        let dispatch = r + DISPATCH_LIMIT;
        d.dispatch_by = Some(dispatch);
        d.sign_by = Some(dispatch + SIGN_LIMIT);
        d.return_by = Some(dispatch + SIGN_LIMIT + RETURN_LIMIT);
    }
    if order
        || matches!(
            input.route,
            RouteKind::DirectAnswer | RouteKind::SubcenterTransfer | RouteKind::UtilityLinkage
        )
    {
        let limit = completion_limit(input.kind);
        let (mut due, prov) = add_limit(cal, r, limit);
        if input.origin != Origin::Local {
            // Art. 13(2): a platform's order is finished 3 h before its
            // limit. Applied to the limits counted in working days; an hour
            // limit (consultation 1 h, epidemic 4 h) is kept, or it would
            // fall before the order arrived. The platform's own due time
            // wins when it is earlier.
            if matches!(limit, Limit::WorkingDays(_)) {
                due -= PLATFORM_ADVANCE;
            }
            if let Some(p) = input.platform_due {
                due = due.min(p);
            }
        }
        // Never before the contact was received, whatever the inputs.
        d.complete_by = Some(due.max(r));
        d.provisional |= prov;
    }
    if all || special {
        d.notify_by = Some(r + NOTIFY_LIMIT);
        d.first_feedback_by = Some(r + FIRST_FEEDBACK_LIMIT);
        let (progress, prov) = add_working_days(cal, r, PROGRESS_WORKING_DAYS);
        d.progress_by = Some(progress);
        d.provisional |= prov;
    }
    d
}

/// Why an extension request is refused (Art. 13(3)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionRefused {
    #[error("only complaints and reports may be extended, not a {0}")]
    KindNotExtendable(Kind),
    #[error("the case has already been extended once; a second extension is not allowed")]
    AlreadyExtended,
    #[error("requested at {requested}, later than {latest} (2 h before the due time {due})")]
    TooLate {
        requested: String,
        latest: String,
        due: String,
    },
    #[error("{0} working days asked for; an extension is 1 or 2 working days")]
    BadLength(u32),
}

impl ExtensionRefused {
    /// Stable machine-readable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            ExtensionRefused::KindNotExtendable(_) => "KIND_NOT_EXTENDABLE",
            ExtensionRefused::AlreadyExtended => "ALREADY_EXTENDED",
            ExtensionRefused::TooLate { .. } => "TOO_LATE",
            ExtensionRefused::BadLength(_) => "BAD_LENGTH",
        }
    }
}

/// An extension request against a case's current completion deadline.
#[derive(Debug, Clone, Copy)]
pub struct ExtensionRequest {
    pub kind: Kind,
    pub complete_by: Instant,
    pub requested_at: Instant,
    pub days: u32,
    pub already_extended: bool,
}

/// Grants or refuses an extension; on grant returns the new completion
/// deadline and whether it is provisional.
pub fn extend(cal: &Calendar, req: &ExtensionRequest) -> Result<(Instant, bool), ExtensionRefused> {
    if !matches!(req.kind, Kind::Complaint | Kind::Report) {
        return Err(ExtensionRefused::KindNotExtendable(req.kind));
    }
    if req.already_extended {
        return Err(ExtensionRefused::AlreadyExtended);
    }
    if req.days == 0 || req.days > MAX_EXTENSION_DAYS {
        return Err(ExtensionRefused::BadLength(req.days));
    }
    let latest = req.complete_by - EXTENSION_LEAD;
    if req.requested_at > latest {
        return Err(ExtensionRefused::TooLate {
            requested: to_local_rfc3339(req.requested_at),
            latest: to_local_rfc3339(latest),
            due: to_local_rfc3339(req.complete_by),
        });
    }
    Ok(add_working_days(cal, req.complete_by, req.days))
}
