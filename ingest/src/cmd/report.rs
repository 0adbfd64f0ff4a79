//! `hotlined report`: the per-unit assessment table (Art. 25, 26, 30) for a
//! period, computed from the store. The stored decisions and order events
//! are replayed through the same pure tracker the daemon runs, ticking to
//! each item's time, so the table counts exactly what the live
//! `hotline_unit_cases_total` counters count: per unit and district, cases
//! received, signed on time or late, returned, completed on time or late,
//! overdue, extensions requested and approved, return-visit verdicts and
//! re-handled cases. Cases opened up to 40 days before the period are
//! replayed too, so events in the period find their case.
use crate::sinks::store::{Item, Reader, StoreError};
use crate::state::orders::{order_event, track_of, ts};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hotline_proto::v1 as pb;
use hotline_router::deadlines::SHANGHAI;
use hotline_router::tracker::{Measure, Tracker, TrackerConfig};
use hotline_router::{Calendar, Instant};
use prost::Message;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// A bad argument or an unreadable store.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0:?} is not a date (YYYY-MM-DD, local time) or an RFC 3339 time")]
    BadDate(String),
    #[error("--from must be before --to")]
    EmptyPeriod,
    #[error("{0:?} is not a format; csv or json")]
    BadFormat(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
}

/// The start of a day in Beijing time, or an RFC 3339 instant.
fn instant(s: &str, end_of_day: bool) -> Result<Instant, ReportError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| ReportError::BadDate(s.into()))?;
    let d = if end_of_day { d.succ_opt() } else { Some(d) };
    d.and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|n| SHANGHAI.from_local_datetime(&n).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ReportError::BadDate(s.into()))
}

/// One row: a unit in a district, a count per [`Measure`].
pub type Rows = BTreeMap<(String, String), [u64; Measure::ALL.len()]>;

/// The table for [from, to]: `from` a day (from its start) or an instant,
/// `to` a day (to its end) or an instant; `now` bounds the replay (nothing
/// is overdue in the future).
pub fn table(
    data_dir: &Path,
    calendar: &Calendar,
    from: &str,
    to: &str,
    now: Instant,
) -> Result<Rows, ReportError> {
    let (from, to) = (instant(from, false)?, instant(to, true)?);
    if from >= to {
        return Err(ReportError::EmptyPeriod);
    }
    let end = to.min(now);
    let mut t = Tracker::new(TrackerConfig {
        tallies: true,
        max_cases: usize::MAX,
        ..Default::default()
    });
    let mut rows = Rows::new();
    let mut add = |t: &mut Tracker| {
        for x in t.take_tallies() {
            if x.at >= from && x.at < to {
                let row = rows
                    .entry((x.unit.to_string(), x.district.to_string()))
                    .or_insert([0; Measure::ALL.len()]);
                row[x.measure.index()] += 1;
            }
        }
    };
    let reader = Reader::open(data_dir)?;
    let since = (from - Duration::days(40)).timestamp_millis();
    reader.timeline(since, |item| {
        match item {
            Item::Decision(body) => {
                if let Ok(d) = pb::Decision::decode(&body[..]) {
                    if let Some(at) = ts(&d.received_at).filter(|a| *a <= end) {
                        t.tick(at);
                        if let Some(x) = track_of(&d) {
                            x.open_in(&mut t);
                        }
                    }
                }
            }
            Item::Order(body) => {
                if let Ok(ev) = pb::OrderEvent::decode(&body[..]) {
                    if let (Some(e), Some(at)) = (order_event(&ev), ts(&ev.at)) {
                        if at <= end {
                            t.tick(at);
                            t.event(calendar, &ev.case_id, e, &ev.unit, at);
                        }
                    }
                }
            }
            Item::Matter(_) => {}
        }
        add(&mut t);
        Ok(())
    })?;
    t.tick(end);
    add(&mut t);
    Ok(rows)
}

/// Writes the table as CSV (a header, a row per unit and district, a
/// `TOTAL` row) or as a JSON array of objects.
pub fn write(rows: &Rows, format: &str, mut out: impl Write) -> Result<(), ReportError> {
    let mut total = [0u64; Measure::ALL.len()];
    for v in rows.values() {
        for (t, x) in total.iter_mut().zip(v) {
            *t += x;
        }
    }
    let all = rows
        .iter()
        .map(|((u, d), v)| (u.as_str(), d.as_str(), v))
        .chain(std::iter::once(("TOTAL", "", &total)));
    match format {
        "csv" => {
            let names: Vec<&str> = Measure::ALL.iter().map(|m| m.as_str()).collect();
            writeln!(out, "unit,district,{}", names.join(","))?;
            for (u, d, v) in all {
                let v: Vec<String> = v.iter().map(u64::to_string).collect();
                writeln!(out, "{u},{d},{}", v.join(","))?;
            }
        }
        "json" => {
            let list: Vec<serde_json::Value> = all
                .map(|(u, d, v)| {
                    let mut o = serde_json::Map::new();
                    o.insert("unit".into(), u.into());
                    o.insert("district".into(), d.into());
                    for m in Measure::ALL {
                        o.insert(m.as_str().into(), v[m.index()].into());
                    }
                    serde_json::Value::Object(o)
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &list).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        f => return Err(ReportError::BadFormat(f.into())),
    }
    Ok(())
}
