//! Call windows: constructed days whose figures are known exactly, replays,
//! late events, window edges, and order independence.
mod common;
use chrono::Duration;
use common::at;
use hotline_router::calls::{Applied, CallEventKind as K, CallsConfig, Counts, QueueCalls, Window};
use proptest::prelude::*;

fn secs(base: &str, s: i64) -> hotline_router::Instant {
    at(base) + Duration::seconds(s)
}

#[test]
fn a_constructed_hour_gives_exact_figures() {
    let mut q = QueueCalls::new(CallsConfig {
        short_abandon: chrono::TimeDelta::seconds(5),
        ..Default::default()
    });
    // 20 calls from 09:00: 14 answered (10 within 3 s), 4 abandoned (2 within 3 s, which are
    // also short abandons at 5 s), 2 abandoned after 10 s.
    for i in 0..20 {
        let id = format!("c{i}");
        let t0 = secs("2026-11-26 09:00", i * 120);
        assert_eq!(q.apply(&id, K::Offered, t0), Applied::Counted);
        let outcome = match i {
            0..=9 => (K::Answered, 2),
            10..=13 => (K::Answered, 8),
            14..=15 => (K::Abandoned, 2),
            16..=17 => (K::Abandoned, 4),
            _ => (K::Abandoned, 10),
        };
        q.apply(&id, outcome.0, t0 + Duration::seconds(outcome.1));
        q.apply(&id, K::Ended, t0 + Duration::seconds(60));
    }
    let c = q.window(Window::Hour1, at("2026-11-26 09:59"));
    assert_eq!(
        c,
        Counts {
            offered: 20,
            answered: 14,
            abandoned: 6,
            short_abandoned: 4,
            answered_within_3s: 10,
            abandoned_within_3s: 2
        }
    );
    assert_eq!(c.answer_rate(), Some(14.0 / 16.0));
    assert_eq!(c.service_level(), Some(10.0 / 14.0));
    assert_eq!(c.service_level_with_abandons(), Some(12.0 / 20.0));
    // Calls are offered every 2 min from 09:00 to 09:38: the 15 min up to 09:59 hold none,
    // the 15 min up to 09:38 (09:24..09:38) hold eight.
    assert_eq!(q.window(Window::Min15, at("2026-11-26 09:59")).offered, 0);
    assert_eq!(
        q.window(Window::Min15, at("2026-11-26 09:38")).offered,
        8,
        "09:24..09:38"
    );
}

#[test]
fn replays_count_once_and_order_does_not_matter() {
    let mut q = QueueCalls::new(CallsConfig::default());
    let t = at("2026-11-26 10:00");
    assert_eq!(
        q.apply("a", K::Answered, t + Duration::seconds(2)),
        Applied::Pending
    );
    assert_eq!(q.apply("a", K::Offered, t), Applied::Counted);
    assert_eq!(q.apply("a", K::Offered, t), Applied::Replayed);
    assert_eq!(
        q.apply("a", K::Answered, t + Duration::seconds(2)),
        Applied::Replayed
    );
    let c = q.window(Window::Min15, t);
    assert_eq!((c.offered, c.answered, c.answered_within_3s), (1, 1, 1));
}

#[test]
fn late_events_are_counted_as_late_and_still_counted() {
    let mut q = QueueCalls::new(CallsConfig {
        lateness: chrono::TimeDelta::seconds(60),
        ..Default::default()
    });
    q.apply("new", K::Offered, at("2026-11-26 10:10"));
    assert_eq!(
        q.apply("old", K::Offered, at("2026-11-26 10:00")),
        Applied::LateCounted
    );
    assert_eq!(q.late, 1);
    assert_eq!(q.window(Window::Min15, at("2026-11-26 10:10")).offered, 2);
    // Beyond the 24 h kept: only counted as late and too old.
    q.apply("newest", K::Offered, at("2026-11-28 10:00"));
    assert_eq!(
        q.apply("ancient", K::Offered, at("2026-11-26 09:00")),
        Applied::TooOld
    );
    assert_eq!(q.too_old, 1);
}

#[test]
fn the_calendar_day_starts_at_shanghai_midnight() {
    let mut q = QueueCalls::new(CallsConfig::default());
    q.apply("before", K::Offered, at("2026-11-25 23:59"));
    q.apply("after", K::Offered, at("2026-11-26 00:00"));
    q.apply("later", K::Offered, at("2026-11-26 08:30"));
    assert_eq!(q.window(Window::Day, at("2026-11-26 09:00")).offered, 2);
    assert_eq!(q.window(Window::Hour24, at("2026-11-26 09:00")).offered, 3);
}

#[test]
fn tracked_calls_are_bounded() {
    let mut q = QueueCalls::new(CallsConfig {
        max_calls: 100,
        ..Default::default()
    });
    for i in 0..1000 {
        q.apply(&format!("c{i}"), K::Offered, secs("2026-11-26 10:00", i));
    }
    assert!(q.tracked() <= 100);
    assert_eq!(q.evicted, 900);
    assert_eq!(
        q.window(Window::Hour1, secs("2026-11-26 10:00", 999))
            .offered,
        1000,
        "counts survive eviction"
    );
    q.expire(at("2026-11-28 10:00"));
    assert_eq!(q.tracked(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any order of the same events gives the same figures.
    #[test]
    fn order_independent(calls in proptest::collection::vec((0i64..3000, 0i64..20, any::<bool>()), 1..60), seed in any::<u64>()) {
        let mut events = Vec::new();
        for (i, (start, wait, answered)) in calls.iter().enumerate() {
            let t0 = secs("2026-11-26 10:00", *start);
            events.push((format!("c{i}"), K::Offered, t0));
            events.push((format!("c{i}"), if *answered { K::Answered } else { K::Abandoned }, t0 + Duration::seconds(*wait)));
        }
        let run = |evs: &[(String, K, hotline_router::Instant)]| {
            let mut q = QueueCalls::new(CallsConfig { lateness: chrono::TimeDelta::seconds(100_000), ..Default::default() });
            for (id, k, t) in evs {
                q.apply(id, *k, *t);
            }
            Window::ALL.map(|w| q.window(w, secs("2026-11-26 10:00", 3100)))
        };
        let expected = run(&events);
        let mut shuffled = events.clone();
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(run(&shuffled), expected);
        let total = expected[2];
        prop_assert_eq!(total.offered, calls.len() as u64);
        prop_assert_eq!(total.answered + total.abandoned, calls.len() as u64);
    }
}

#[test]
fn answer_rate_alarm_fires_once_per_crossing() {
    use hotline_router::calls::{AnswerRateAlarm, RateCrossing};
    let mut alarm = AnswerRateAlarm::new(0.95, 20);
    let counts = |offered, answered| Counts {
        offered,
        answered,
        ..Default::default()
    };
    assert_eq!(alarm.check(&counts(10, 5)), None, "too few calls");
    assert_eq!(alarm.check(&counts(20, 19)), None, "95 % is on target");
    assert_eq!(
        alarm.check(&counts(21, 19)),
        Some(RateCrossing::Low { rate: 19.0 / 21.0 })
    );
    assert_eq!(
        alarm.check(&counts(30, 25)),
        None,
        "still low: no second alert"
    );
    assert!(alarm.is_low());
    assert_eq!(
        alarm.check(&counts(40, 38)),
        Some(RateCrossing::Recovered { rate: 0.95 })
    );
    assert_eq!(alarm.check(&counts(40, 39)), None);
}

#[test]
fn answer_wait_is_reported_once_per_answered_call_in_either_order() {
    let mut q = QueueCalls::new(CallsConfig::default());
    let t0 = secs("2026-11-26 09:00", 0);
    assert_eq!(
        q.apply_measured("a", K::Offered, t0),
        (Applied::Counted, None)
    );
    assert_eq!(
        q.apply_measured("a", K::Answered, t0 + Duration::milliseconds(2_500)),
        (Applied::Counted, Some(2_500))
    );
    // Replayed: no second wait.
    assert_eq!(
        q.apply_measured("a", K::Answered, t0 + Duration::milliseconds(2_500)),
        (Applied::Replayed, None)
    );
    // Answer seen before the offer: the wait comes with the offer.
    assert_eq!(
        q.apply_measured("b", K::Answered, t0 + Duration::seconds(9)),
        (Applied::Pending, None)
    );
    assert_eq!(
        q.apply_measured("b", K::Offered, t0 + Duration::seconds(2)),
        (Applied::Counted, Some(7_000))
    );
    // Abandoned calls have no answer wait.
    q.apply("c", K::Offered, t0);
    assert_eq!(
        q.apply_measured("c", K::Abandoned, t0 + Duration::seconds(4))
            .1,
        None
    );
}

/// The 24-hour window holds a whole day of minutes (found by cargo-mutants:
/// no test looked back further than an hour): a call 23 h 50 min old
/// counts, one 24 h 10 min old does not, and an event arriving 30 minutes
/// late into that day still counts.
#[test]
fn the_24_hour_window_reaches_back_a_whole_day() {
    let mut q = QueueCalls::new(CallsConfig::default());
    let now = at("2026-11-27 12:00");
    // 50 minutes ago is 23 h after "day": in a ring of fewer than 24 h of
    // minutes it would take that call's place.
    for (id, ago) in [("old", 24 * 60 + 10), ("day", 23 * 60 + 50), ("hour", 50)] {
        let t = now - Duration::minutes(ago);
        q.apply(id, K::Offered, t);
        q.apply(id, K::Answered, t + Duration::seconds(2));
    }
    let c = q.window(Window::Hour24, now);
    assert_eq!(
        (c.offered, c.answered, c.answered_within_3s),
        (2, 2, 2),
        "{c:?}"
    );
    assert_eq!(q.window(Window::Hour1, now).offered, 1);
    // Late by 30 minutes (within the lateness kept), 23 h old: still counted.
    let t = now - Duration::minutes(23 * 60);
    q.apply("late", K::Offered, t);
    assert_eq!(q.window(Window::Hour24, now).offered, 3);
}

/// No eligible call gives no rate (not 0 %, not NaN), and the windows carry
/// the names the metrics' `window` label uses.
#[test]
fn empty_windows_have_no_rate_and_windows_their_label_names() {
    let empty = Counts::default();
    assert_eq!(empty.answer_rate(), None);
    assert_eq!(empty.service_level(), None);
    assert_eq!(empty.service_level_with_abandons(), None);
    let names: Vec<&str> = Window::ALL.iter().map(|w| w.as_str()).collect();
    assert_eq!(names, ["15m", "1h", "24h", "day"]);
}

/// The lateness edge (found by cargo-mutants): an event exactly `lateness`
/// behind the newest one is on time, a millisecond more is late.
#[test]
fn an_event_exactly_the_allowed_lateness_behind_is_on_time() {
    let mut q = QueueCalls::new(CallsConfig {
        lateness: chrono::TimeDelta::seconds(60),
        ..Default::default()
    });
    let newest = at("2026-11-26 10:10");
    q.apply("new", K::Offered, newest);
    assert_eq!(
        q.apply("edge", K::Offered, newest - Duration::seconds(60)),
        Applied::Counted
    );
    assert_eq!(
        q.apply(
            "late",
            K::Offered,
            newest - Duration::seconds(60) - Duration::milliseconds(1)
        ),
        Applied::LateCounted
    );
    assert_eq!(q.late, 1);
}

/// With no short-abandon threshold (the default) no abandon is short, not
/// even one at the instant of the offer; with one, the threshold itself is
/// short and a millisecond more is not.
#[test]
fn short_abandons_need_a_threshold_and_include_its_edge() {
    let t0 = at("2026-11-26 09:00");
    let mut none = QueueCalls::new(CallsConfig::default());
    none.apply("a", K::Offered, t0);
    none.apply("a", K::Abandoned, t0);
    let c = none.window(Window::Hour1, t0);
    assert_eq!((c.abandoned, c.short_abandoned), (1, 0), "{c:?}");

    let mut five = QueueCalls::new(CallsConfig {
        short_abandon: chrono::TimeDelta::seconds(5),
        ..Default::default()
    });
    five.apply("edge", K::Offered, t0);
    five.apply("edge", K::Abandoned, t0 + Duration::seconds(5));
    five.apply("over", K::Offered, t0);
    five.apply(
        "over",
        K::Abandoned,
        t0 + Duration::seconds(5) + Duration::milliseconds(1),
    );
    let c = five.window(Window::Hour1, t0 + Duration::seconds(6));
    assert_eq!((c.abandoned, c.short_abandoned), (2, 1), "{c:?}");
}

/// A call is remembered (so a replayed event is not counted twice) until
/// 24 h after its last event, that instant included.
#[test]
fn calls_are_forgotten_24_hours_after_their_last_event() {
    let mut q = QueueCalls::new(CallsConfig::default());
    let now = at("2026-11-27 12:00");
    let day = Duration::hours(24);
    q.apply("hour", K::Offered, now - Duration::hours(1));
    q.apply("23h", K::Offered, now - Duration::hours(23));
    q.apply("edge", K::Offered, now - day);
    q.apply("over", K::Offered, now - day - Duration::milliseconds(1));
    assert_eq!(q.tracked(), 4);
    q.expire(now);
    assert_eq!(q.tracked(), 3, "only the call older than 24 h is forgotten");
    q.expire(now + Duration::milliseconds(1));
    assert_eq!(q.tracked(), 2);
    // Forgotten means a replay counts again; remembered means it does not.
    assert_eq!(
        q.apply("23h", K::Offered, now - Duration::hours(23)),
        Applied::Replayed
    );
    q.expire(now + day);
    assert_eq!(q.tracked(), 0);
}

/// The state restored after a restart is the state the alarm goes on from:
/// restored low, a low window raises nothing again and a good one recovers;
/// restored not low, a low window is a new crossing.
#[test]
fn a_restored_answer_rate_alarm_goes_on_from_the_restored_state() {
    use hotline_router::calls::{AnswerRateAlarm, RateCrossing};
    let low = Counts {
        offered: 40,
        answered: 30,
        ..Default::default()
    };
    let good = Counts {
        offered: 40,
        answered: 40,
        ..Default::default()
    };
    let mut alarm = AnswerRateAlarm::new(0.95, 20);
    assert!(!alarm.is_low(), "a new alarm is not low");
    alarm.restore(true);
    assert!(alarm.is_low());
    assert_eq!(
        alarm.check(&low),
        None,
        "already reported before the restart"
    );
    assert_eq!(
        alarm.check(&good),
        Some(RateCrossing::Recovered { rate: 1.0 })
    );
    assert!(!alarm.is_low());
    alarm.restore(false);
    assert_eq!(alarm.check(&low), Some(RateCrossing::Low { rate: 0.75 }));
    alarm.restore(false);
    assert!(!alarm.is_low());
}

/// An event whatever its date (a gateway's clock at zero sends 1970 or
/// earlier) is tracked like any other, so it is forgotten and evicted too:
/// a call the expiry cannot see would stay for ever (found by cargo-mutants).
#[test]
fn calls_dated_before_1970_are_forgotten_like_any_other() {
    let mut q = QueueCalls::new(CallsConfig::default());
    let zero = chrono::DateTime::from_timestamp(0, 0).expect("the epoch");
    q.apply("epoch", K::Offered, zero);
    q.apply("before", K::Offered, zero - Duration::seconds(1));
    assert_eq!(q.tracked(), 2);
    q.expire(at("2026-11-27 12:00"));
    assert_eq!(q.tracked(), 0);
}

/// The 24-hour window is 1 440 minutes ending with `now`'s minute: a call
/// offered 23 h 59 min before counts, one offered 24 h before does not
/// (found by cargo-mutants: a window of 1 441 minutes passed).
#[test]
fn the_24_hour_window_is_exactly_a_day_of_minutes() {
    let mut q = QueueCalls::new(CallsConfig::default());
    let now = at("2026-11-27 12:00");
    q.apply("day", K::Offered, now - Duration::hours(24));
    q.apply("in", K::Offered, now - Duration::minutes(24 * 60 - 1));
    assert_eq!(q.window(Window::Hour24, now).offered, 1);
    assert_eq!(
        q.window(Window::Hour24, now - Duration::minutes(1)).offered,
        2
    );
}
