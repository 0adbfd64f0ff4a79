//! Deadline tracking with a controllable clock: each alert fires once, at the
//! right instant, across a holiday; events satisfy or move deadlines.
mod common;
use chrono::Duration;
use common::*;
use hotline_router::deadlines::{compute, DeadlineInput, Scope};
use hotline_router::tracker::{EventOutcome, Fired, Limit, OrderEvent, Tracker, TrackerConfig};
use hotline_router::{Channel, Instant, Kind, Origin, Priority, RouteKind};

/// Opens a case of `kind` at normal priority, received at `received`, no caller.
fn open_normal(t: &mut Tracker, id: &str, kind: Kind, received: Instant) {
    t.open(id, kind, &deadlines(received, kind, Priority::Normal), "");
}

fn deadlines(received: Instant, kind: Kind, priority: Priority) -> hotline_router::Deadlines {
    let input = DeadlineInput {
        received_at: received,
        kind,
        origin: Origin::Local,
        channel: Channel::Phone,
        priority,
        route: RouteKind::WorkOrder,
        platform_due: None,
    };
    compute(router().calendar(), &input, Scope::Route)
}

/// Ticks minute by minute from `from` to `to`, collecting (minute, alert).
fn run(t: &mut Tracker, from: &str, to: &str) -> Vec<(Instant, Fired)> {
    let mut out = Vec::new();
    let mut now = at(from);
    while now <= at(to) {
        for f in t.tick(now) {
            out.push((now, f));
        }
        now += Duration::minutes(1);
    }
    out
}

#[test]
fn every_limit_fires_once_at_its_instant_across_a_holiday() {
    // A special complaint received Wednesday 2026-09-30 16:00, before the National Day holiday
    // (Oct 1–7): 8 h left on the 30th, then Oct 8, 9 and 16 h of Oct 10 (a make-up Saturday).
    let r = at("2026-09-30 16:00");
    let d = deadlines(r, Kind::Complaint, Priority::Special);
    assert_eq!(d.complete_by, Some(at("2026-10-10 16:00")));
    let mut t = Tracker::new(TrackerConfig::default());
    t.open("C1", Kind::Complaint, &d, "ref-c1");
    assert_eq!(t.caller_ref("C1"), Some("ref-c1"));
    let fired = run(&mut t, "2026-09-30 16:00", "2026-10-11 00:00");
    let expect = vec![
        (
            at("2026-09-30 16:03"),
            Fired::Overdue {
                case_id: "C1".into(),
                limit: Limit::Notify,
                due: at("2026-09-30 16:03"),
            },
        ),
        (
            at("2026-09-30 16:10"),
            Fired::Overdue {
                case_id: "C1".into(),
                limit: Limit::Dispatch,
                due: at("2026-09-30 16:10"),
            },
        ),
        (
            at("2026-09-30 17:00"),
            Fired::Overdue {
                case_id: "C1".into(),
                limit: Limit::FirstFeedback,
                due: at("2026-09-30 17:00"),
            },
        ),
        (
            at("2026-10-08 16:00"),
            Fired::Overdue {
                case_id: "C1".into(),
                limit: Limit::Progress,
                due: at("2026-10-08 16:00"),
            },
        ),
        (
            at("2026-10-10 14:00"),
            Fired::DueSoon {
                case_id: "C1".into(),
                due: at("2026-10-10 16:00"),
            },
        ),
        (
            at("2026-10-10 16:00"),
            Fired::Overdue {
                case_id: "C1".into(),
                limit: Limit::Complete,
                due: at("2026-10-10 16:00"),
            },
        ),
    ];
    assert_eq!(fired, expect);
    assert!(
        t.tick(at("2026-12-31 00:00")).is_empty(),
        "nothing fires twice"
    );
}

#[test]
fn events_satisfy_and_move_deadlines() {
    let r = at("2026-11-26 10:00");
    let d = deadlines(r, Kind::Complaint, Priority::Normal);
    let cal = router().calendar();
    let mut t = Tracker::new(TrackerConfig::default());
    t.open("C2", Kind::Complaint, &d, "ref-c2");
    assert_eq!(
        t.event(cal, "C2", OrderEvent::Dispatched, at("2026-11-26 10:05")),
        EventOutcome::Applied
    );
    // Signing is now due 30 min after the real dispatch.
    let fired = run(&mut t, "2026-11-26 10:05", "2026-11-26 10:40");
    assert_eq!(
        fired,
        vec![(
            at("2026-11-26 10:35"),
            Fired::Overdue {
                case_id: "C2".into(),
                limit: Limit::Sign,
                due: at("2026-11-26 10:35")
            }
        )]
    );
    t.event(cal, "C2", OrderEvent::Signed, at("2026-11-26 10:41"));
    // Extension: Thursday 10:00 + 3 wd = Tuesday 10:00; asked Monday, granted 2 days → Thursday.
    match t.event(
        cal,
        "C2",
        OrderEvent::ExtensionRequested { days: 2 },
        at("2026-11-30 09:00"),
    ) {
        EventOutcome::ExtensionGranted { complete_by } => {
            assert_eq!(complete_by, at("2026-12-03 10:00"))
        }
        other => panic!("{other:?}"),
    }
    match t.event(
        cal,
        "C2",
        OrderEvent::ExtensionRequested { days: 1 },
        at("2026-11-30 09:30"),
    ) {
        EventOutcome::ExtensionRefused(e) => assert_eq!(e.code(), "ALREADY_EXTENDED"),
        other => panic!("{other:?}"),
    }
    let fired = run(&mut t, "2026-11-30 09:00", "2026-12-03 10:00");
    let kinds: Vec<_> = fired
        .iter()
        .map(|(w, f)| (*w, matches!(f, Fired::DueSoon { .. })))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (at("2026-12-03 08:00"), true),
            (at("2026-12-03 10:00"), false)
        ]
    );
    assert_eq!(
        t.event(cal, "C2", OrderEvent::Completed, at("2026-12-03 11:00")),
        EventOutcome::Applied
    );
    assert!(t.is_empty());
    assert_eq!(
        t.event(cal, "C2", OrderEvent::Feedback, at("2026-12-03 11:00")),
        EventOutcome::UnknownCase
    );
}

#[test]
fn a_late_return_counts_as_overdue() {
    let r = at("2026-11-26 10:00");
    let cal = router().calendar();
    let mut t = Tracker::new(TrackerConfig::default());
    open_normal(&mut t, "C3", Kind::Help, r);
    open_normal(&mut t, "C4", Kind::Help, r);
    for c in ["C3", "C4"] {
        t.event(cal, c, OrderEvent::Dispatched, at("2026-11-26 10:02"));
        t.event(cal, c, OrderEvent::Signed, at("2026-11-26 10:10"));
    }
    assert_eq!(
        t.event(cal, "C3", OrderEvent::Returned, at("2026-11-26 10:40")),
        EventOutcome::Applied
    );
    match t.event(cal, "C4", OrderEvent::Returned, at("2026-11-26 10:41")) {
        EventOutcome::LateReturn(Fired::Overdue {
            limit: Limit::Return,
            due,
            ..
        }) => assert_eq!(due, at("2026-11-26 10:40")),
        other => panic!("{other:?}"),
    }
    assert!(t.is_empty(), "returned cases leave the unit's tracker");
}

#[test]
fn case_count_is_bounded() {
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig {
        max_cases: 1000,
        ..Default::default()
    });
    for i in 0..1500 {
        open_normal(
            &mut t,
            &format!("K{i}"),
            Kind::Help,
            r + Duration::minutes(i),
        );
    }
    assert_eq!(t.len(), 1000);
    assert_eq!(t.evicted, 500);
}

#[test]
fn only_complaints_and_reports_get_due_soon() {
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig::default());
    open_normal(&mut t, "H1", Kind::Help, r);
    open_normal(&mut t, "Q1", Kind::Consultation, r);
    open_normal(&mut t, "P1", Kind::Complaint, r);
    // An hour before the complaint's 3 working days end (Thu 10:00 → Tue 10:00).
    let fired = t.tick(at("2026-12-01 09:00"));
    let soon: Vec<&str> = fired
        .iter()
        .filter_map(|f| match f {
            Fired::DueSoon { case_id, .. } => Some(case_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(soon, vec!["P1"], "no extension window, no DUE_SOON");
    let overdue = fired
        .iter()
        .filter(|f| {
            matches!(
                f,
                Fired::Overdue {
                    limit: Limit::Complete,
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        overdue, 2,
        "the help and the consultation are overdue by then"
    );
}

/// Relay clocks (life safety): RELAYED closes the clock, a case with nothing
/// else to watch closes; a repeat that joins an open work order with its own
/// relay clock adds the clock and keeps the work order's limits.
#[test]
fn relay_clocks_close_on_relayed_and_join_open_cases() {
    let r = at("2026-11-26 10:00");
    let relay_only = hotline_router::Deadlines {
        relay_by: Some(r + Duration::minutes(3)),
        ..Default::default()
    };
    let mut t = Tracker::new(TrackerConfig::default());
    // An emergency sent as text: only the relay clock; relayed in time, it closes.
    t.open("E1", Kind::Help, &relay_only, "");
    assert_eq!(
        t.event(
            router().calendar(),
            "E1",
            OrderEvent::Relayed,
            r + Duration::minutes(2)
        ),
        EventOutcome::Applied
    );
    assert!(t.is_empty(), "nothing else to watch");
    assert!(run(&mut t, "2026-11-26 10:00", "2026-11-26 10:10").is_empty());

    // A work order, then a possible emergency joining it: both limits run.
    open_normal(&mut t, "W1", Kind::Complaint, r);
    t.open("W1", Kind::Complaint, &relay_only, "");
    assert_eq!(t.len(), 1);
    let fired = run(&mut t, "2026-11-26 10:00", "2026-11-26 10:11");
    let limits: Vec<(Instant, Limit)> = fired
        .into_iter()
        .filter_map(|(at, f)| match f {
            Fired::Overdue { limit, .. } => Some((at, limit)),
            Fired::DueSoon { .. } => None,
        })
        .collect();
    assert_eq!(
        limits,
        vec![
            (at("2026-11-26 10:03"), Limit::Relay),
            (at("2026-11-26 10:10"), Limit::Dispatch)
        ]
    );
    // Dismissing the clock leaves the work order tracked.
    t.event(
        router().calendar(),
        "W1",
        OrderEvent::Dismissed,
        r + Duration::minutes(4),
    );
    assert_eq!(t.len(), 1);

    // A second contact joining a case whose relay clock runs does not push
    // the first one's due back.
    let mut t = Tracker::new(TrackerConfig::default());
    t.open("E2", Kind::Help, &relay_only, "");
    let later = hotline_router::Deadlines {
        relay_by: Some(r + Duration::minutes(5)),
        ..Default::default()
    };
    t.open("E2", Kind::Help, &later, "");
    let fired = run(&mut t, "2026-11-26 10:00", "2026-11-26 10:10");
    assert_eq!(
        fired.first().map(|(at, _)| *at),
        Some(at("2026-11-26 10:03"))
    );
}
