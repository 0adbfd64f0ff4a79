//! Working-day arithmetic and the Art. 13 limits: worked examples from the
//! conventions, holidays and make-up workdays, extensions, and properties.
mod common;
use chrono::{Datelike, Duration, NaiveDate, Timelike};
use common::*;
use hotline_router::calendar::Calendar;
use hotline_router::deadlines::{
    add_working_days, compute, extend, DeadlineInput, ExtensionRequest, Scope,
};
use hotline_router::{Channel, Instant, Kind, Origin, Priority, RouteKind};
use proptest::prelude::*;

fn cal() -> &'static Calendar {
    router().calendar()
}

fn local_date(t: Instant) -> NaiveDate {
    (t + Duration::hours(8)).date_naive()
}

#[test]
fn conventions_worked_examples() {
    // Friday 15:00 + 3 working days = Wednesday 15:00.
    assert_eq!(
        add_working_days(cal(), at("2026-11-20 15:00"), 3),
        (at("2026-11-25 15:00"), false)
    );
    // Saturday 10:00 starts Monday 00:00 and is due Thursday 00:00.
    assert_eq!(
        add_working_days(cal(), at("2026-11-21 10:00"), 3),
        (at("2026-11-26 00:00"), false)
    );
}

#[test]
fn holidays_and_make_up_days() {
    // 2026 National Day: Oct 1–7 off, Sep 20 (Sun) and Oct 10 (Sat) worked.
    // Wednesday Sep 30 16:00 + 1 working day: 8 h left on the 30th, then Oct 8 16:00.
    assert_eq!(
        add_working_days(cal(), at("2026-09-30 16:00"), 1),
        (at("2026-10-08 16:00"), false)
    );
    // A complaint on Saturday Sep 19 counts from the make-up Sunday Sep 20.
    assert_eq!(
        add_working_days(cal(), at("2026-09-19 12:00"), 1),
        (at("2026-09-21 00:00"), false)
    );
    // Spring festival 2025: Jan 28 – Feb 4 off. Mon Jan 27 09:00: 15 h, then Feb 5, 6 and 9 h of Feb 7.
    assert_eq!(
        add_working_days(cal(), at("2025-01-27 09:00"), 3),
        (at("2025-02-07 09:00"), false)
    );
    assert_eq!(
        cal().is_workday(NaiveDate::from_ymd_opt(2026, 2, 14).expect("date")),
        (true, false)
    );
    assert_eq!(
        cal().is_workday(NaiveDate::from_ymd_opt(2026, 2, 16).expect("date")),
        (false, false)
    );
}

#[test]
fn past_the_calendar_is_provisional() {
    let (t, prov) = add_working_days(cal(), at("2026-12-31 10:00"), 1);
    assert!(prov);
    assert_eq!(
        t,
        at("2027-01-01 10:00"),
        "Mon–Fri fallback: Jan 1 2027 is a Friday"
    );
    // Ending exactly at the 00:00 boundary of the unknown year is not provisional.
    assert_eq!(
        add_working_days(cal(), at("2026-12-31 00:00"), 1),
        (at("2027-01-01 00:00"), false)
    );
}

#[test]
fn every_limit() {
    let input = DeadlineInput {
        received_at: at("2026-11-27 15:00"),
        kind: Kind::Complaint,
        origin: Origin::National,
        channel: Channel::Sms,
        priority: Priority::Special,
        route: RouteKind::WorkOrder,
        platform_due: None,
    };
    let d = compute(cal(), &input, Scope::Route);
    assert_eq!(d.accept_by, Some(at("2026-11-27 15:03")));
    assert_eq!(d.dispatch_by, Some(at("2026-11-27 15:10")));
    assert_eq!(d.sign_by, Some(at("2026-11-27 15:40")));
    assert_eq!(d.return_by, Some(at("2026-11-27 16:10")));
    assert_eq!(
        d.complete_by,
        Some(at("2026-12-02 12:00")),
        "Fri 15:00 + 3 wd = Wed 15:00, 3 h early"
    );
    assert_eq!(d.notify_by, Some(at("2026-11-27 15:03")));
    assert_eq!(d.first_feedback_by, Some(at("2026-11-27 16:00")));
    assert_eq!(d.progress_by, Some(at("2026-11-30 15:00")));
    assert!(!d.provisional);
    for (kind, due) in [
        (Kind::Consultation, "2026-11-27 16:00"),
        (Kind::Help, "2026-11-30 15:00"),
        (Kind::Opinion, "2026-11-30 15:00"),
        (Kind::Suggestion, "2026-11-30 15:00"),
        (Kind::Report, "2026-12-02 15:00"),
        (Kind::Epidemic, "2026-11-27 19:00"),
    ] {
        let d = compute(
            cal(),
            &DeadlineInput {
                kind,
                origin: Origin::Local,
                priority: Priority::Normal,
                channel: Channel::Phone,
                ..input
            },
            Scope::Route,
        );
        assert_eq!(d.complete_by, Some(at(due)), "{kind}");
        assert_eq!(
            d.accept_by, None,
            "phone calls have no 3-minute acceptance limit"
        );
        assert_eq!(d.notify_by, None);
    }
    let transfer = compute(
        cal(),
        &DeadlineInput {
            route: RouteKind::EmergencyTransfer,
            priority: Priority::Normal,
            ..input
        },
        Scope::Route,
    );
    assert_eq!((transfer.dispatch_by, transfer.complete_by), (None, None));
}

#[test]
fn extensions_follow_art_13_3() {
    let due = at("2026-11-30 15:00");
    let req = ExtensionRequest {
        kind: Kind::Complaint,
        complete_by: due,
        requested_at: at("2026-11-30 13:00"),
        days: 2,
        already_extended: false,
    };
    assert_eq!(extend(cal(), &req), Ok((at("2026-12-02 15:00"), false)));
    let refused = |r: ExtensionRequest| extend(cal(), &r).err().map(|e| e.code());
    assert_eq!(
        refused(ExtensionRequest {
            requested_at: at("2026-11-30 13:01"),
            ..req
        }),
        Some("TOO_LATE")
    );
    assert_eq!(
        refused(ExtensionRequest {
            already_extended: true,
            ..req
        }),
        Some("ALREADY_EXTENDED")
    );
    assert_eq!(
        refused(ExtensionRequest { days: 3, ..req }),
        Some("BAD_LENGTH")
    );
    assert_eq!(
        refused(ExtensionRequest { days: 0, ..req }),
        Some("BAD_LENGTH")
    );
    assert_eq!(
        refused(ExtensionRequest {
            kind: Kind::Help,
            ..req
        }),
        Some("KIND_NOT_EXTENDABLE")
    );
    let msg = extend(
        cal(),
        &ExtensionRequest {
            requested_at: at("2026-11-30 14:00"),
            ..req
        },
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(msg.contains("2026-11-30T13:00:00+08:00"), "{msg}");
}

fn instant() -> impl Strategy<Value = Instant> {
    // 2022-06-01 .. 2027-06-01, minute resolution, spans both calendar edges.
    (0i64..(5 * 365 * 24 * 60)).prop_map(|m| at("2022-06-01 00:00") + Duration::minutes(m))
}

fn first_known() -> NaiveDate {
    NaiveDate::from_ymd_opt(cal().years().next().unwrap_or(2023), 1, 1).unwrap_or_default()
}
fn last_known() -> NaiveDate {
    NaiveDate::from_ymd_opt(cal().years().last().unwrap_or(2026), 12, 31).unwrap_or_default()
}

/// Art. 13(2) for orders of the provincial or national platform: 3 h off
/// a limit counted in working days; an hour limit kept (a consultation's
/// 1 h minus 3 h would fall before the order arrived); the platform's own
/// due time when it is earlier; never before intake.
#[test]
fn platform_orders_advance_working_day_limits_only() {
    let r = at("2026-11-27 15:00");
    let due = |kind, origin, platform_due| {
        compute(
            cal(),
            &DeadlineInput {
                received_at: r,
                kind,
                origin,
                channel: Channel::Platform,
                priority: Priority::Normal,
                route: RouteKind::WorkOrder,
                platform_due,
            },
            Scope::Route,
        )
        .complete_by
    };
    let p = Origin::Provincial;
    assert_eq!(
        due(Kind::Consultation, p, None),
        Some(at("2026-11-27 16:00"))
    );
    assert_eq!(
        due(Kind::Epidemic, Origin::National, None),
        Some(at("2026-11-27 19:00"))
    );
    assert_eq!(
        due(Kind::Help, p, None),
        Some(at("2026-11-30 12:00")),
        "Mon 15:00, 3 h early"
    );
    assert_eq!(due(Kind::Complaint, p, None), Some(at("2026-12-02 12:00")));
    // The platform's own due time, when earlier.
    let own = at("2026-12-01 09:00");
    assert_eq!(due(Kind::Complaint, p, Some(own)), Some(own));
    assert_eq!(
        due(Kind::Complaint, p, Some(at("2026-12-10 09:00"))),
        Some(at("2026-12-02 12:00")),
        "a later one does not extend the limit"
    );
    assert_eq!(
        due(Kind::Consultation, p, Some(at("2026-11-27 14:00"))),
        Some(r),
        "never before intake"
    );
    // A local contact ignores a platform due time.
    assert_eq!(
        due(Kind::Complaint, Origin::Local, Some(own)),
        Some(at("2026-12-02 15:00"))
    );
}

fn any_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Consultation),
        Just(Kind::Help),
        Just(Kind::Opinion),
        Just(Kind::Suggestion),
        Just(Kind::Complaint),
        Just(Kind::Report),
        Just(Kind::Epidemic),
    ]
}

fn any_origin() -> impl Strategy<Value = Origin> {
    prop_oneof![
        Just(Origin::Local),
        Just(Origin::Provincial),
        Just(Origin::National)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the kind, origin, time and platform due time, the
    /// completion deadline is not before the contact was received, and a
    /// platform order's is not later than a local one's.
    #[test]
    fn a_deadline_is_never_before_intake(
        t in instant(),
        kind in any_kind(),
        origin in any_origin(),
        platform in proptest::option::of(-200i64..20_000),
    ) {
        let input = DeadlineInput {
            received_at: t,
            kind,
            origin,
            channel: Channel::Platform,
            priority: Priority::Normal,
            route: RouteKind::WorkOrder,
            platform_due: platform.map(|m| t + Duration::minutes(m)),
        };
        let due = compute(cal(), &input, Scope::Route).complete_by;
        let local = compute(cal(), &DeadlineInput { origin: Origin::Local, ..input }, Scope::Route).complete_by;
        prop_assert!(due.is_some_and(|d| d >= t), "{due:?} before {t}");
        prop_assert!(due <= local, "{due:?} after the local {local:?}");
    }

    #[test]
    fn monotone_in_received_time(a in instant(), b in instant(), n in 1u32..6) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(add_working_days(cal(), lo, n).0 <= add_working_days(cal(), hi, n).0);
    }

    #[test]
    fn never_inside_a_non_working_day(t in instant(), n in 1u32..6) {
        let (due, _) = add_working_days(cal(), t, n);
        let local = due + Duration::hours(8);
        let at_midnight = local.hour() == 0 && local.minute() == 0 && local.second() == 0;
        prop_assert!(at_midnight || cal().is_workday(local.date_naive()).0, "{due} falls inside a day off");
        prop_assert!(due >= t + Duration::days(i64::from(n)));
    }

    #[test]
    fn n_then_m_equals_n_plus_m(t in instant(), n in 1u32..4, m in 1u32..4) {
        let (mid, p1) = add_working_days(cal(), t, n);
        let (end, p2) = add_working_days(cal(), mid, m);
        let (direct, p) = add_working_days(cal(), t, n + m);
        prop_assert_eq!(end, direct);
        prop_assert_eq!(p1 || p2, p);
    }

    #[test]
    fn provisional_exactly_when_data_ends(t in instant(), n in 1u32..6) {
        let (due, prov) = add_working_days(cal(), t, n);
        let local_due = due + Duration::hours(8);
        // The last day consulted: the due day, or the day before at 00:00.
        let last = if local_due.hour() == 0 && local_due.minute() == 0 { local_date(due) - Duration::days(1) } else { local_date(due) };
        let expected = local_date(t) < first_known() || last > last_known();
        prop_assert_eq!(prov, expected, "{} -> {}", t, due);
    }

    #[test]
    fn working_time_in_between_is_exactly_n_days(t in instant(), n in 1u32..4) {
        // Count working minutes between t and due by brute force.
        let (due, _) = add_working_days(cal(), t, n);
        let mut minutes = 0i64;
        let mut x = t;
        while x < due {
            let day = local_date(x);
            let next = (day + Duration::days(1)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() - Duration::hours(8);
            let step_end = next.min(due);
            if cal().is_workday(day).0 {
                minutes += (step_end - x).num_minutes();
            }
            x = step_end;
        }
        prop_assert_eq!(minutes, i64::from(n) * 24 * 60);
        let _ = local_date(due).weekday();
    }
}

/// A utility linkage gets the dispatch and sign limits of a work order only
/// as a special matter (the hotline dispatches it then); plain, it goes to
/// the utility's line directly, which answers for it within the kind's
/// completion limit (Art. 15), like a sub-center for a transfer (Art. 7(3)).
#[test]
fn transfers_and_linkages_have_the_kinds_completion_limit() {
    let input = DeadlineInput {
        received_at: at("2026-11-27 15:00"),
        kind: Kind::Help,
        origin: Origin::Local,
        channel: Channel::Phone,
        priority: Priority::Normal,
        route: RouteKind::UtilityLinkage,
        platform_due: None,
    };
    let plain = compute(cal(), &input, Scope::Route);
    assert_eq!(
        (plain.dispatch_by, plain.complete_by),
        (None, Some(at("2026-11-30 15:00")))
    );
    let transfer = compute(
        cal(),
        &DeadlineInput {
            route: RouteKind::SubcenterTransfer,
            kind: Kind::Consultation,
            ..input
        },
        Scope::Route,
    );
    assert_eq!(
        (transfer.dispatch_by, transfer.complete_by),
        (None, Some(at("2026-11-27 16:00")))
    );
    let emergency = compute(
        cal(),
        &DeadlineInput {
            route: RouteKind::EmergencyTransfer,
            ..input
        },
        Scope::Route,
    );
    assert_eq!(
        emergency.complete_by, None,
        "the emergency line's, not ours"
    );
    let special = compute(
        cal(),
        &DeadlineInput {
            priority: Priority::Special,
            ..input
        },
        Scope::Route,
    );
    assert_eq!(special.dispatch_by, Some(at("2026-11-27 15:10")));
    assert_eq!(special.complete_by, Some(at("2026-11-30 15:00")));
}

/// A limit that reaches past the known calendar makes the decision's
/// deadlines provisional, whichever limit it is: completion or the special
/// matter's progress report.
#[test]
fn a_limit_past_the_calendar_makes_the_deadlines_provisional() {
    let late = DeadlineInput {
        received_at: at("2026-12-31 10:00"),
        kind: Kind::Complaint,
        origin: Origin::Local,
        channel: Channel::Phone,
        priority: Priority::Normal,
        route: RouteKind::WorkOrder,
        platform_due: None,
    };
    assert!(
        compute(cal(), &late, Scope::Route).provisional,
        "completion"
    );
    let progress_only = DeadlineInput {
        kind: Kind::Consultation,
        priority: Priority::Special,
        route: RouteKind::EmergencyTransfer,
        ..late
    };
    let d = compute(cal(), &progress_only, Scope::Route);
    assert_eq!(d.complete_by, None);
    assert!(d.provisional, "the progress report");
    let early = DeadlineInput {
        received_at: at("2026-11-27 10:00"),
        ..late
    };
    assert!(!compute(cal(), &early, Scope::Route).provisional);
}
