//! The holiday calendar's end as the daemon reports it at start: the gauge
//! the `HotlineCalendarEnding` alert reads, and a warning in the log within
//! 30 days of it. The expected values are worked out here from today's
//! date, so the test holds on any day (the warning's own boundaries are
//! tested with fixed dates in `config::rules`).
mod support;
use chrono::{DateTime, Datelike, Utc};
use support::*;

const WARNING: &str = "the holiday calendar ends after";
const UNKNOWN: &str = "the holiday calendar does not know";

/// What the daemon should report when its calendar knows `first..=last`:
/// the end (Unix seconds, 0 when this year is unknown) and which warning.
fn expected(first: i32, last: i32, now: DateTime<Utc>) -> (f64, Option<&'static str>) {
    let year = (now + chrono::Duration::hours(8)).year();
    if !(first..=last).contains(&year) {
        return (0.0, Some(UNKNOWN));
    }
    let end = DateTime::parse_from_rfc3339(&format!("{}-01-01T00:00:00+08:00", last + 1))
        .expect("date")
        .timestamp();
    let soon = end - now.timestamp() < 30 * 86_400;
    (end as f64, soon.then_some(WARNING))
}

fn check(dir: &std::path::Path, d: &Daemon, first: i32, last: i32, now: DateTime<Utc>) {
    let (end, warning) = expected(first, last, now);
    assert_eq!(d.metric("hotline_calendar_end_timestamp_seconds "), end);
    let log = std::fs::read_to_string(dir.join("hotlined.log")).expect("log");
    for w in [WARNING, UNKNOWN] {
        assert_eq!(log.contains(w), warning == Some(w), "{w:?} in\n{log}");
    }
}

#[test]
fn the_daemon_reports_when_its_holiday_calendar_ends() {
    // The embedded calendar: 2023 to 2026.
    let dir = temp_dir("calendar-embedded");
    let now = Utc::now();
    let d = Daemon::start_in(&dir, None);
    check(&dir, &d, 2023, 2026, now);
    drop(d);

    // Two more years from the calendar directory, without a rebuild.
    let dir = temp_dir("calendar-dir");
    let cal = dir.join("calendar");
    std::fs::create_dir_all(&cal).expect("mkdir");
    for y in [2027, 2028] {
        std::fs::write(cal.join(format!("{y}.toml")), format!("year = {y}\n")).expect("write");
    }
    let config = format!("[rules]\ncalendar_dir = \"{}\"\n", cal.display());
    let now = Utc::now();
    let d = Daemon::start_in(&dir, Some(&config));
    check(&dir, &d, 2023, 2028, now);
}
