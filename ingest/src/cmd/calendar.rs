//! `hotlined calendar is-workday` and `hotlined calendar due`: the working-day
//! calendar and the Art. 13 deadlines as JSON, for operators and other systems.
use chrono::{DateTime, NaiveDate, Utc};
use hotline_router::calendar::Calendar;
use hotline_router::deadlines::{compute, to_local_rfc3339, DeadlineInput, Scope};
use hotline_router::{Channel, Kind, Origin, Priority, RouteKind};
use serde_json::{json, Map, Value};

/// A bad argument to a calendar command.
#[derive(Debug, thiserror::Error)]
pub enum CalendarCmdError {
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    BadDate(String),
    #[error("{0:?} is not an RFC 3339 time (e.g. 2026-11-27T15:00:00+08:00)")]
    BadTime(String),
    #[error("{0:?} is not a kind; one of consultation, help, opinion, suggestion, complaint, report, epidemic")]
    BadKind(String),
    #[error("{0:?} is not an origin; one of local, provincial, national")]
    BadOrigin(String),
}

/// `{"date":…, "workday":bool, "provisional":bool}`.
pub fn is_workday(cal: &Calendar, date: &str) -> Result<Value, CalendarCmdError> {
    let d = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .map_err(|_| CalendarCmdError::BadDate(date.into()))?;
    let (workday, provisional) = cal.is_workday(d);
    Ok(
        json!({ "date": d.format("%Y-%m-%d").to_string(), "workday": workday, "provisional": provisional }),
    )
}

/// Arguments of `calendar due`.
pub struct DueArgs<'a> {
    pub received: &'a str,
    pub kind: &'a str,
    pub origin: Option<&'a str>,
    pub special: bool,
    pub special_emergency: bool,
}

/// One RFC 3339 (+08:00) value per deadline, plus `provisional`. The
/// special-matter keys appear with `--special` / `--special-emergency`.
pub fn due(cal: &Calendar, a: &DueArgs<'_>) -> Result<Value, CalendarCmdError> {
    let received: DateTime<Utc> = DateTime::parse_from_rfc3339(a.received.trim())
        .map_err(|_| CalendarCmdError::BadTime(a.received.into()))?
        .with_timezone(&Utc);
    let kind = Kind::parse(a.kind).ok_or_else(|| CalendarCmdError::BadKind(a.kind.into()))?;
    let origin = match a.origin {
        None => Origin::Local,
        Some(o) => Origin::parse(o).ok_or_else(|| CalendarCmdError::BadOrigin(o.into()))?,
    };
    let priority = if a.special_emergency {
        Priority::SpecialEmergency
    } else if a.special {
        Priority::Special
    } else {
        Priority::Normal
    };
    let input = DeadlineInput {
        received_at: received,
        kind,
        origin,
        channel: Channel::Sms,
        priority,
        route: RouteKind::WorkOrder,
        platform_due: None,
    };
    let d = compute(cal, &input, Scope::All);
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<DateTime<Utc>>| {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(to_local_rfc3339(v)));
        }
    };
    put("accept_by", d.accept_by);
    put("dispatch_by", d.dispatch_by);
    put("sign_by", d.sign_by);
    put("return_by", d.return_by);
    put("complete_by", d.complete_by);
    if priority != Priority::Normal {
        put("notify_by", d.notify_by);
        put("first_feedback_by", d.first_feedback_by);
        put("progress_by", d.progress_by);
    }
    // Only limits that apply count towards `provisional`.
    let provisional = if priority == Priority::Normal {
        compute(
            cal,
            &DeadlineInput {
                priority: Priority::Normal,
                ..input
            },
            Scope::Route,
        )
        .provisional
    } else {
        d.provisional
    };
    m.insert("provisional".into(), Value::Bool(provisional));
    Ok(Value::Object(m))
}
