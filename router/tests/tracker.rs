//! Deadline tracking with a controllable clock: each alert fires once, at the
//! right instant, across a holiday; events satisfy or move deadlines.
mod common;
use chrono::Duration;
use common::*;
use hotline_router::deadlines::{compute, DeadlineInput, Scope};
use hotline_router::tracker::{
    EventOutcome, Fired, Limit, Opening, OrderEvent, Refusal, Satisfaction, Tracker, TrackerConfig,
};
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

/// Asserts an extension request was refused as the second one (Art. 13(3)).
fn already_extended(out: EventOutcome) {
    match out {
        EventOutcome::ExtensionRefused(e) => assert_eq!(e.code(), "ALREADY_EXTENDED"),
        other => panic!("{other:?}"),
    }
}

/// The OVERDUE alerts of a run: (minute, limit).
fn overdue(fired: Vec<(Instant, Fired)>) -> Vec<(Instant, Limit)> {
    fired
        .into_iter()
        .filter_map(|(w, f)| match f {
            Fired::Overdue { limit, .. } => Some((w, limit)),
            _ => None,
        })
        .collect()
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
        t.event(
            cal,
            "C2",
            OrderEvent::Dispatched,
            "",
            at("2026-11-26 10:05")
        ),
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
    t.event(cal, "C2", OrderEvent::Signed, "", at("2026-11-26 10:41"));
    // Extension: Thursday 10:00 + 3 wd = Tuesday 10:00; asked Monday, granted 2 days → Thursday.
    match t.event(
        cal,
        "C2",
        OrderEvent::ExtensionRequested { days: 2 },
        "",
        at("2026-11-30 09:00"),
    ) {
        EventOutcome::ExtensionPending { complete_by } => {
            assert_eq!(complete_by, at("2026-12-03 10:00"))
        }
        other => panic!("{other:?}"),
    }
    // The center reviews it (Art. 13(3)): only its approval moves the deadline.
    assert_eq!(
        t.event(
            cal,
            "C2",
            OrderEvent::ExtensionApproved,
            "",
            at("2026-11-30 09:20")
        ),
        EventOutcome::ExtensionGranted {
            complete_by: at("2026-12-03 10:00")
        }
    );
    already_extended(t.event(
        cal,
        "C2",
        OrderEvent::ExtensionRequested { days: 1 },
        "",
        at("2026-11-30 09:30"),
    ));
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
        t.event(cal, "C2", OrderEvent::Completed, "", at("2026-12-03 11:00")),
        EventOutcome::Applied
    );
    assert!(t.is_empty());
    assert_eq!(
        t.event(cal, "C2", OrderEvent::Feedback, "", at("2026-12-03 11:00")),
        EventOutcome::Refused(Refusal::Completed)
    );
    assert_eq!(
        t.event(cal, "C9", OrderEvent::Feedback, "", at("2026-12-03 11:00")),
        EventOutcome::Refused(Refusal::UnknownCase)
    );
}

/// Returns (退单, Art. 13(2)): within 30 minutes of signing the case goes
/// back to the center with a new 10-minute dispatch clock and is
/// re-dispatched as the same case; a later return, or any return of a case
/// assigned by leadership (批办, Art. 12(4)), is refused and changes nothing.
#[test]
fn returns_go_back_to_dispatch_and_forbidden_returns_are_refused() {
    let r = at("2026-11-26 10:00");
    let cal = router().calendar();
    let mut t = Tracker::new(TrackerConfig::default());
    for c in ["C3", "C4", "C5"] {
        open_normal(&mut t, c, Kind::Help, r);
        t.event(cal, c, OrderEvent::Dispatched, "U1", at("2026-11-26 10:02"));
        t.event(cal, c, OrderEvent::Signed, "", at("2026-11-26 10:10"));
    }
    assert_eq!(t.unit("C3"), Some("U1"));
    assert_eq!(
        t.event(cal, "C3", OrderEvent::Returned, "", at("2026-11-26 10:40")),
        EventOutcome::Applied
    );
    assert_eq!(t.len(), 3, "a returned case stays open");
    // Late: refused, and the case is still the unit's.
    let late = at("2026-11-26 10:41");
    assert_eq!(
        t.check("C4", OrderEvent::Returned, late),
        Err(Refusal::LateReturn {
            due: at("2026-11-26 10:40")
        })
    );
    assert!(matches!(
        t.event(cal, "C4", OrderEvent::Returned, "", late),
        EventOutcome::Refused(Refusal::LateReturn { .. })
    ));
    // 批办: refused even within the window.
    t.event(
        cal,
        "C5",
        OrderEvent::AssignedByLeadership,
        "",
        at("2026-11-26 10:11"),
    );
    assert_eq!(
        t.event(cal, "C5", OrderEvent::Returned, "", at("2026-11-26 10:12")),
        EventOutcome::Refused(Refusal::AssignedByLeadership)
    );
    // Not yet dispatched again: a second return is refused.
    assert_eq!(
        t.check("C3", OrderEvent::Returned, at("2026-11-26 10:41")),
        Err(Refusal::NotDispatched)
    );
    // The returned case's new dispatch clock: 10:50.
    let fired = run(&mut t, "2026-11-26 10:40", "2026-11-26 10:55");
    let got: Vec<(Instant, &str, Limit)> = fired
        .iter()
        .filter_map(|(w, f)| match f {
            Fired::Overdue { case_id, limit, .. } => Some((*w, case_id.as_str(), *limit)),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![(at("2026-11-26 10:50"), "C3", Limit::Dispatch)]);
    // Re-dispatched to another unit: one case, now the other unit's, a new sign clock.
    t.event(
        cal,
        "C3",
        OrderEvent::Dispatched,
        "U2",
        at("2026-11-26 10:55"),
    );
    assert_eq!(t.unit("C3"), Some("U2"));
    let fired = run(&mut t, "2026-11-26 10:56", "2026-11-26 11:30");
    assert!(
        fired.iter().any(|(w, f)| *w == at("2026-11-26 11:25")
            && matches!(f, Fired::Overdue { case_id, limit: Limit::Sign, .. } if case_id == "C3")),
        "{fired:?}"
    );
}

/// Extensions are reviewed by the center (Art. 13(3)): a request that
/// meets the rules waits; only an approval moves the deadline; a rejection
/// uses the one request; a review with no request is refused.
#[test]
fn extensions_wait_for_the_centers_review() {
    let r = at("2026-11-26 10:00");
    let cal = router().calendar();
    let mut t = Tracker::new(TrackerConfig::default());
    open_normal(&mut t, "X1", Kind::Complaint, r);
    open_normal(&mut t, "X2", Kind::Complaint, r);
    assert_eq!(
        t.event(
            cal,
            "X1",
            OrderEvent::ExtensionApproved,
            "",
            at("2026-11-27 09:00")
        ),
        EventOutcome::Refused(Refusal::NoExtensionPending)
    );
    for c in ["X1", "X2"] {
        assert!(matches!(
            t.event(
                cal,
                c,
                OrderEvent::ExtensionRequested { days: 1 },
                "",
                at("2026-11-27 09:00")
            ),
            EventOutcome::ExtensionPending { .. }
        ));
    }
    assert_eq!(
        t.check(
            "X1",
            OrderEvent::ExtensionRequested { days: 1 },
            at("2026-11-27 09:01")
        ),
        Err(Refusal::ExtensionPending)
    );
    t.event(
        cal,
        "X2",
        OrderEvent::ExtensionRejected,
        "",
        at("2026-11-27 10:00"),
    );
    // Due Tue 12-01 10:00 (3 working days). Unapproved, X1 stays due then, like X2.
    let fired = run(&mut t, "2026-12-01 09:59", "2026-12-01 10:00");
    let overdue: Vec<&str> = fired
        .iter()
        .filter_map(|(_, f)| match f {
            Fired::Overdue {
                case_id,
                limit: Limit::Complete,
                ..
            } => Some(case_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(overdue, vec!["X1", "X2"]);
    // Approved late (after the due): the deadline moves a working day, the alert may fire again.
    assert_eq!(
        t.event(
            cal,
            "X1",
            OrderEvent::ExtensionApproved,
            "",
            at("2026-12-01 10:30")
        ),
        EventOutcome::ExtensionGranted {
            complete_by: at("2026-12-02 10:00")
        }
    );
    // A rejected request was the one request.
    already_extended(t.event(
        cal,
        "X2",
        OrderEvent::ExtensionRequested { days: 1 },
        "",
        at("2026-12-01 11:00"),
    ));
}

/// Special matters (Art. 13(4)): the center's 3-minute notification, the
/// unit's 1-hour first report and its 1-working-day progress report are
/// three clocks, each closed by its own event.
#[test]
fn special_matter_clocks_close_one_by_one() {
    let r = at("2026-11-26 10:00");
    let cal = router().calendar();
    let d = deadlines(r, Kind::Help, Priority::Special);
    let mut t = Tracker::new(TrackerConfig::default());
    t.open("S1", Kind::Help, &d, "");
    t.event(cal, "S1", OrderEvent::Notified, "", at("2026-11-26 10:02"));
    t.event(
        cal,
        "S1",
        OrderEvent::Dispatched,
        "",
        at("2026-11-26 10:05"),
    );
    t.event(cal, "S1", OrderEvent::Signed, "", at("2026-11-26 10:06"));
    t.event(cal, "S1", OrderEvent::Feedback, "", at("2026-11-26 10:50"));
    let limits = overdue(run(&mut t, "2026-11-26 10:00", "2026-11-27 10:00"));
    // The first report did not silence the progress report (nor the completion, 1 wd).
    assert_eq!(
        limits,
        vec![
            (at("2026-11-27 10:00"), Limit::Complete),
            (at("2026-11-27 10:00"), Limit::Progress),
        ]
    );
    let mut t = Tracker::new(TrackerConfig::default());
    t.open("S2", Kind::Help, &d, "");
    t.event(cal, "S2", OrderEvent::Progress, "", at("2026-11-26 10:01"));
    let limits: Vec<Limit> = overdue(run(&mut t, "2026-11-26 10:00", "2026-11-26 11:00"))
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert_eq!(
        limits,
        vec![Limit::Notify, Limit::Dispatch, Limit::FirstFeedback],
        "a progress report does not stand for the notification or the first report"
    );
}

/// The whole life of one complaint, minute by minute on the official
/// calendar: returned, re-dispatched, extended (approved), completed late,
/// visited unsatisfied, re-handled (特提), completed again, visited
/// satisfied; each unit's tallies exact.
#[test]
fn a_case_from_intake_to_its_second_visit() {
    let cal = router().calendar();
    let r = at("2026-11-26 10:00");
    let d = deadlines(r, Kind::Complaint, Priority::Normal);
    let mut t = Tracker::new(TrackerConfig {
        tallies: true,
        ..Default::default()
    });
    let o = Opening {
        caller_ref: "ref",
        unit: "510802.zjj",
        district: "510802",
        received_at: Some(r),
    };
    t.open_case("L1", Kind::Complaint, &d, &o);
    assert_eq!(
        t.event(
            cal,
            "L1",
            OrderEvent::Dispatched,
            "",
            at("2026-11-26 09:59")
        ),
        EventOutcome::Refused(Refusal::BeforeIntake)
    );
    let steps: Vec<(&str, OrderEvent, &str)> = vec![
        ("2026-11-26 10:05", OrderEvent::Dispatched, ""),
        ("2026-11-26 10:20", OrderEvent::Signed, ""),
        ("2026-11-26 10:30", OrderEvent::Returned, ""),
        ("2026-11-26 10:38", OrderEvent::Dispatched, "510802.scjg"),
        ("2026-11-26 11:20", OrderEvent::Signed, ""),
        (
            "2026-11-30 09:00",
            OrderEvent::ExtensionRequested { days: 2 },
            "",
        ),
        ("2026-11-30 09:30", OrderEvent::ExtensionApproved, ""),
        ("2026-12-03 11:00", OrderEvent::Completed, ""),
        (
            "2026-12-04 15:00",
            OrderEvent::Revisited(Satisfaction::Unsatisfied),
            "",
        ),
        ("2026-12-08 09:00", OrderEvent::Completed, ""),
        (
            "2026-12-09 09:00",
            OrderEvent::Revisited(Satisfaction::Satisfied),
            "",
        ),
    ];
    let mut alerts = Vec::new();
    let mut now = r;
    for (when, ev, unit) in steps {
        while now < at(when) {
            alerts.extend(t.tick(now));
            now += Duration::minutes(1);
        }
        let out = t.event(cal, "L1", ev, unit, at(when));
        assert!(
            !matches!(out, EventOutcome::Refused(_)),
            "{when} {ev:?}: {out:?}"
        );
    }
    alerts.extend(t.tick(at("2027-01-31 00:00")));
    // Sign late after the re-dispatch (11:08), completion after the
    // extended due (Thu 12-03 10:00), nothing after the re-handling.
    let got: Vec<String> = alerts
        .iter()
        .map(|f| match f {
            Fired::Overdue { limit, due, .. } => format!("overdue {} {due}", limit.as_str()),
            Fired::DueSoon { due, .. } => format!("due_soon {due}"),
            Fired::Escalation { .. } => "escalation".into(),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            "overdue sign 2026-11-26 03:08:00 UTC",
            "due_soon 2026-12-03 02:00:00 UTC",
            // Re-handled from Fri 12-04 15:00 with 3 working days (Wed 12-09
            // 15:00) and completed Tue 12-08: on time, nothing fires.
            "overdue complete 2026-12-03 02:00:00 UTC",
        ]
    );
    assert_eq!(t.completed(), 0, "forgotten after its visit window");
    let tallies = t.take_tallies();
    // The unit's overdue is the completion's, at its due (the late sign
    // is a tally of its own): found by cargo-mutants.
    let overdue: Vec<String> = tallies
        .iter()
        .filter(|x| x.measure.as_str() == "overdue")
        .map(|x| x.at.to_string())
        .collect();
    assert_eq!(overdue, vec!["2026-12-03 02:00:00 UTC"]);
    let mut rows: Vec<(String, &str)> = tallies
        .iter()
        .map(|x| (x.unit.to_string(), x.measure.as_str()))
        .collect();
    rows.sort();
    let want: Vec<(String, &str)> = [
        ("510802.scjg", "completed_late"),
        ("510802.scjg", "completed_on_time"),
        ("510802.scjg", "extension_approved"),
        ("510802.scjg", "extension_requested"),
        ("510802.scjg", "overdue"),
        ("510802.scjg", "received"),
        ("510802.scjg", "rehandled"),
        ("510802.scjg", "satisfied"),
        ("510802.scjg", "signed_late"),
        ("510802.scjg", "unsatisfied"),
        ("510802.zjj", "received"),
        ("510802.zjj", "returned"),
        ("510802.zjj", "signed_on_time"),
    ]
    .into_iter()
    .map(|(u, m)| (u.to_string(), m))
    .collect();
    assert_eq!(rows, want);
}

/// Supervision (督办, Art. 27): completion overdue by the configured delay,
/// and a second unsatisfied visit, each escalate once.
#[test]
fn supervision_escalates_long_overdue_cases_and_second_unsatisfied_visits() {
    let cal = router().calendar();
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig {
        escalate_overdue_after: Some(Duration::hours(24)),
        ..Default::default()
    });
    open_normal(&mut t, "V1", Kind::Help, r);
    // Help: 1 working day → Fri 11-27 10:00; escalated a day after that.
    let fired = run(&mut t, "2026-11-26 10:00", "2026-11-29 00:00");
    let esc: Vec<(Instant, Instant)> = fired
        .iter()
        .filter_map(|(w, f)| match f {
            Fired::Escalation { due, .. } => Some((*w, *due)),
            _ => None,
        })
        .collect();
    assert_eq!(esc, vec![(at("2026-11-28 10:00"), at("2026-11-28 10:00"))]);
    t.event(cal, "V1", OrderEvent::Completed, "", at("2026-11-29 09:00"));
    let unsatisfied = OrderEvent::Revisited(Satisfaction::Unsatisfied);
    assert_eq!(
        t.event(cal, "V1", unsatisfied, "", at("2026-11-30 09:00")),
        EventOutcome::Applied
    );
    assert_eq!(
        t.check("V1", unsatisfied, at("2026-11-30 10:00")),
        Err(Refusal::NotCompleted),
        "a visit follows completion"
    );
    t.event(cal, "V1", OrderEvent::Completed, "", at("2026-11-30 12:00"));
    match t.event(cal, "V1", unsatisfied, "", at("2026-12-01 09:00")) {
        EventOutcome::Escalated(Fired::Escalation { case_id, due, .. }) => {
            assert_eq!((case_id.as_str(), due), ("V1", at("2026-12-01 09:00")))
        }
        other => panic!("{other:?}"),
    }
}

/// A completed case is kept for its return visit (30 days by default), then
/// forgotten; when the table is full, completed cases go first.
#[test]
fn completed_cases_wait_for_their_visit_then_go() {
    let cal = router().calendar();
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig {
        max_cases: 3,
        ..Default::default()
    });
    open_normal(&mut t, "D1", Kind::Help, r);
    t.event(cal, "D1", OrderEvent::Completed, "", at("2026-11-26 12:00"));
    assert_eq!((t.len(), t.completed()), (0, 1));
    t.tick(at("2026-12-26 11:59"));
    assert_eq!(
        t.check("D1", OrderEvent::Reopened, at("2026-12-26 11:59")),
        Ok(())
    );
    t.tick(at("2026-12-26 12:00"));
    assert_eq!(
        t.check("D1", OrderEvent::Reopened, at("2026-12-26 12:00")),
        Err(Refusal::UnknownCase)
    );
    open_normal(&mut t, "D2", Kind::Help, r);
    t.event(cal, "D2", OrderEvent::Completed, "", at("2026-11-26 12:00"));
    open_normal(&mut t, "D3", Kind::Help, r);
    open_normal(&mut t, "D4", Kind::Help, r);
    open_normal(&mut t, "D5", Kind::Help, r);
    assert_eq!((t.len(), t.completed(), t.evicted), (3, 0, 1));
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
            "",
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
    let limits = overdue(run(&mut t, "2026-11-26 10:00", "2026-11-26 10:11"));
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
        "",
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

/// The wall screen's view of the open cases: each at one stage, due soon
/// and overdue counted per unit and district, relays awaited.
#[test]
fn the_summary_counts_each_open_case_at_its_stage() {
    let cal = router().calendar();
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig::default());
    let o = |unit| Opening {
        unit,
        district: "510802",
        received_at: Some(r),
        ..Opening::default()
    };
    for (id, unit) in [
        ("A", "U1"),
        ("B", "U1"),
        ("C", "U2"),
        ("D", "U2"),
        ("E", "U2"),
    ] {
        t.open_case(
            id,
            Kind::Complaint,
            &deadlines(r, Kind::Complaint, Priority::Normal),
            &o(unit),
        );
    }
    t.event(cal, "B", OrderEvent::Dispatched, "", at("2026-11-26 10:05"));
    t.event(cal, "C", OrderEvent::Dispatched, "", at("2026-11-26 10:05"));
    t.event(cal, "C", OrderEvent::Signed, "", at("2026-11-26 10:06"));
    t.event(
        cal,
        "D",
        OrderEvent::ExtensionRequested { days: 1 },
        "",
        at("2026-11-27 10:00"),
    );
    t.event(cal, "E", OrderEvent::Completed, "", at("2026-11-27 10:00"));
    let relay = hotline_router::Deadlines {
        relay_by: Some(r + Duration::minutes(3)),
        ..Default::default()
    };
    t.open("F", Kind::Help, &relay, "");
    // Completion due Tue 12-01 10:00. At 09:00 only C (signed) is merely
    // due soon: A and D were never dispatched, B never signed.
    let s = t.summary(at("2026-12-01 09:00"), 10);
    assert_eq!(
        (
            s.open,
            s.dispatch,
            s.sign,
            s.handling,
            s.extension_review,
            s.awaiting_relay
        ),
        (5, 1, 1, 1, 1, 1)
    );
    assert_eq!((s.due_soon, s.overdue), (1, 3));
    assert_eq!(
        s.by_unit,
        vec![
            ("U1".to_string(), "510802".to_string(), 0, 2),
            ("U2".to_string(), "510802".to_string(), 1, 1),
        ]
    );
    let s = t.summary(at("2026-11-26 10:06"), 10);
    assert_eq!((s.due_soon, s.overdue), (0, 0), "nothing passed yet");
    let s = t.summary(at("2026-12-01 10:00"), 10);
    assert_eq!((s.due_soon, s.overdue), (0, 4));
    assert_eq!(
        s.by_unit,
        vec![
            ("U1".to_string(), "510802".to_string(), 0, 2),
            ("U2".to_string(), "510802".to_string(), 0, 2),
        ]
    );
    assert_eq!(t.summary(at("2026-12-01 10:00"), 1).by_unit.len(), 1);
}

/// A completion is late when it comes after the completion deadline,
/// whether or not a tick saw the deadline pass first; at the deadline it is
/// on time.
#[test]
fn completed_on_time_or_late_by_the_deadline_not_by_the_tick() {
    let cal = router().calendar();
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig {
        tallies: true,
        ..Default::default()
    });
    // Help: 1 working day → Fri 11-27 10:00. No tick runs in between.
    for id in ["T1", "T2"] {
        t.open_case(
            id,
            Kind::Help,
            &deadlines(r, Kind::Help, Priority::Normal),
            &Opening {
                unit: id,
                received_at: Some(r),
                ..Opening::default()
            },
        );
    }
    t.event(cal, "T1", OrderEvent::Completed, "", at("2026-11-27 10:00"));
    t.event(cal, "T2", OrderEvent::Completed, "", at("2026-11-27 10:01"));
    let got: Vec<(String, &str)> = t
        .take_tallies()
        .into_iter()
        .map(|x| (x.unit.to_string(), x.measure.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("T1".to_string(), "completed_on_time"),
            ("T2".to_string(), "completed_late")
        ]
    );
}

/// Each refusal has a stable code and the status class a client gets.
#[test]
fn refusals_have_stable_codes_and_classes() {
    use hotline_router::tracker::RefusalClass::{FailedPrecondition, InvalidArgument};
    let cases = [
        (Refusal::UnknownCase, "UNKNOWN_CASE", FailedPrecondition),
        (Refusal::BeforeIntake, "BEFORE_INTAKE", InvalidArgument),
        (Refusal::Completed, "CASE_COMPLETED", FailedPrecondition),
        (
            Refusal::NotCompleted,
            "CASE_NOT_COMPLETED",
            FailedPrecondition,
        ),
        (Refusal::NotDispatched, "NOT_DISPATCHED", FailedPrecondition),
        (
            Refusal::AssignedByLeadership,
            "ASSIGNED_BY_LEADERSHIP",
            FailedPrecondition,
        ),
        (
            Refusal::LateReturn {
                due: at("2026-11-26 10:00"),
            },
            "LATE_RETURN",
            FailedPrecondition,
        ),
        (
            Refusal::NoExtensionPending,
            "NO_EXTENSION_PENDING",
            FailedPrecondition,
        ),
        (
            Refusal::ExtensionPending,
            "EXTENSION_PENDING",
            FailedPrecondition,
        ),
    ];
    for (r, code, class) in cases {
        assert_eq!((r.code(), r.class()), (code, class), "{r}");
    }
}

/// Clocks restart with the step they time: a re-dispatch restarts the sign
/// clock (its OVERDUE may fire again), a return restarts the dispatch clock;
/// an event at the intake instant is not "before intake".
#[test]
fn restarted_clocks_fire_again() {
    let cal = router().calendar();
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig::default());
    t.open_case(
        "R1",
        Kind::Help,
        &deadlines(r, Kind::Help, Priority::Normal),
        &Opening {
            received_at: Some(r),
            ..Opening::default()
        },
    );
    assert_eq!(t.check("R1", OrderEvent::Dispatched, r), Ok(()));
    // Dispatched late (10:20): dispatch OVERDUE at 10:10; sign due 10:50, missed.
    let mut got = overdue(run(&mut t, "2026-11-26 10:00", "2026-11-26 10:19"));
    t.event(
        cal,
        "R1",
        OrderEvent::Dispatched,
        "",
        at("2026-11-26 10:20"),
    );
    got.extend(overdue(run(&mut t, "2026-11-26 10:20", "2026-11-26 10:59")));
    // Re-dispatched at 11:00 without a signature: a new sign clock, 11:30.
    t.event(
        cal,
        "R1",
        OrderEvent::Dispatched,
        "",
        at("2026-11-26 11:00"),
    );
    got.extend(overdue(run(&mut t, "2026-11-26 11:00", "2026-11-26 11:35")));
    t.event(cal, "R1", OrderEvent::Signed, "", at("2026-11-26 11:36"));
    // Returned at 11:40: a new dispatch clock, 11:50.
    t.event(cal, "R1", OrderEvent::Returned, "", at("2026-11-26 11:40"));
    got.extend(overdue(run(&mut t, "2026-11-26 11:40", "2026-11-26 11:55")));
    assert_eq!(
        got,
        vec![
            (at("2026-11-26 10:10"), Limit::Dispatch),
            (at("2026-11-26 10:50"), Limit::Sign),
            (at("2026-11-26 11:30"), Limit::Sign),
            (at("2026-11-26 11:50"), Limit::Dispatch),
        ]
    );
}

/// A case re-handled after its visit stays open past the visit window its
/// first completion started.
#[test]
fn a_rehandled_case_outlives_its_first_visit_window() {
    let cal = router().calendar();
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig::default());
    open_normal(&mut t, "W9", Kind::Complaint, r);
    t.event(cal, "W9", OrderEvent::Completed, "", at("2026-11-27 10:00"));
    t.event(
        cal,
        "W9",
        OrderEvent::Revisited(Satisfaction::Unsatisfied),
        "",
        at("2026-11-28 10:00"),
    );
    t.tick(at("2026-12-28 10:00"));
    assert_eq!((t.len(), t.completed()), (1, 0), "still open, still known");
    assert_eq!(
        t.check("W9", OrderEvent::Completed, at("2026-12-28 10:00")),
        Ok(())
    );
}

/// A case without dispatch or sign clocks (a transfer, a linkage) is with
/// its line: counted as being handled.
#[test]
fn a_transfer_is_counted_as_being_handled() {
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig::default());
    let d = hotline_router::Deadlines {
        complete_by: Some(r + Duration::hours(1)),
        ..Default::default()
    };
    t.open("X9", Kind::Consultation, &d, "");
    let s = t.summary(r, 10);
    assert_eq!((s.open, s.handling, s.dispatch, s.sign), (1, 1, 0, 0));
}

/// A case whose only clock is its completion limit gets its DUE_SOON at the
/// limit less the lead, not a minute before, and once; first looked at
/// exactly at the limit, it is overdue, not due soon (cargo-mutants).
#[test]
fn due_soon_fires_on_time_when_it_is_the_only_clock_left() {
    let mut t = Tracker::new(TrackerConfig::default());
    let due = at("2026-12-01 10:00");
    let lead = TrackerConfig::default().due_soon_lead;
    let only_complete = hotline_router::Deadlines {
        complete_by: Some(due),
        ..Default::default()
    };
    t.open("C1", Kind::Complaint, &only_complete, "");
    let soon = |fired: Vec<Fired>| {
        fired
            .iter()
            .filter(|f| matches!(f, Fired::DueSoon { .. }))
            .count()
    };
    assert_eq!(
        soon(t.tick(due - lead - Duration::minutes(1))),
        0,
        "not before"
    );
    assert_eq!(soon(t.tick(due - lead)), 1, "at the limit less the lead");
    assert_eq!(soon(t.tick(due - Duration::minutes(1))), 0, "once");
    // First looked at exactly at its limit: overdue, not due soon.
    let mut t = Tracker::new(TrackerConfig::default());
    t.open("C2", Kind::Complaint, &only_complete, "");
    let fired = t.tick(due);
    assert_eq!(soon(fired.clone()), 0, "{fired:?}");
    assert!(fired.iter().any(|f| matches!(
        f,
        Fired::Overdue {
            limit: Limit::Complete,
            ..
        }
    )));
}

/// A contact joining a case after one of its limits went overdue adds its
/// own clock without raising the earlier alert again (found by
/// cargo-mutants: joining reset the other limits' alerts).
#[test]
fn joining_a_case_does_not_raise_its_earlier_alerts_again() {
    let r = at("2026-11-26 10:00");
    let mut t = Tracker::new(TrackerConfig::default());
    open_normal(&mut t, "W2", Kind::Complaint, r);
    let first = overdue(run(&mut t, "2026-11-26 10:00", "2026-11-26 10:11"));
    assert_eq!(first, vec![(at("2026-11-26 10:10"), Limit::Dispatch)]);
    let relay = hotline_router::Deadlines {
        relay_by: Some(at("2026-11-26 10:15")),
        ..Default::default()
    };
    t.open("W2", Kind::Complaint, &relay, "");
    assert!(!t.is_empty() && t.len() == 1, "one case");
    let then = overdue(run(&mut t, "2026-11-26 10:12", "2026-11-26 10:20"));
    assert_eq!(then, vec![(at("2026-11-26 10:15"), Limit::Relay)]);
}
