//! Message acceptance within 3 minutes (Art. 13(1)): latency once per
//! message, ACCEPT_LATE once per message, in any event order, bounded memory.
mod common;
use chrono::Duration;
use common::at;
use hotline_router::accept::{AcceptConfig, AcceptOutcome, Acceptance, ACCEPT_TARGET_MS};
use hotline_router::Channel;
use proptest::prelude::*;

#[test]
fn accepted_in_time_gives_latency_and_no_alert() {
    let mut a = Acceptance::new(AcceptConfig::default());
    let t0 = at("2026-11-26 09:00");
    assert_eq!(a.arrived("m1", Channel::Sms, t0), AcceptOutcome::Waiting);
    assert_eq!(
        a.accepted("m1", Channel::Sms, t0 + Duration::seconds(95)),
        AcceptOutcome::Accepted {
            channel: Channel::Sms,
            latency_ms: 95_000,
            late: false
        }
    );
    assert_eq!(
        a.accepted("m1", Channel::Sms, t0 + Duration::seconds(95)),
        AcceptOutcome::Replayed
    );
    assert!(a.due(t0 + Duration::hours(1)).is_empty());
}

#[test]
fn unaccepted_message_fires_once_just_after_three_minutes() {
    let mut a = Acceptance::new(AcceptConfig::default());
    let t0 = at("2026-11-26 09:00");
    a.arrived("m1", Channel::Wechat, t0);
    // At exactly 3 min it is not late yet.
    assert!(a
        .due(t0 + Duration::milliseconds(ACCEPT_TARGET_MS))
        .is_empty());
    let late = a.due(t0 + Duration::milliseconds(ACCEPT_TARGET_MS + 1));
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].message_id, "m1");
    assert_eq!(late[0].channel, Channel::Wechat);
    assert_eq!(late[0].due, t0 + Duration::minutes(3));
    assert!(a.due(t0 + Duration::minutes(10)).is_empty());
    // The acceptance still gives the latency, without a second alert.
    assert_eq!(
        a.accepted("m1", Channel::Wechat, t0 + Duration::minutes(12)),
        AcceptOutcome::Accepted {
            channel: Channel::Wechat,
            latency_ms: 720_000,
            late: false
        }
    );
}

#[test]
fn acceptance_before_arrival_and_late_in_one_batch() {
    let mut a = Acceptance::new(AcceptConfig::default());
    let t0 = at("2026-11-26 09:00");
    assert_eq!(
        a.accepted("m2", Channel::Web, t0 + Duration::minutes(5)),
        AcceptOutcome::Waiting
    );
    assert_eq!(
        a.arrived("m2", Channel::Web, t0),
        AcceptOutcome::Accepted {
            channel: Channel::Web,
            latency_ms: 300_000,
            late: true
        }
    );
    assert!(a.due(t0 + Duration::hours(2)).is_empty());
}

#[test]
fn memory_is_bounded_and_settled_messages_are_forgotten() {
    let mut a = Acceptance::new(AcceptConfig {
        max_pending: 100,
        ..Default::default()
    });
    let t0 = at("2026-11-26 09:00");
    for i in 0..150 {
        a.arrived(&format!("m{i}"), Channel::App, t0 + Duration::seconds(i));
    }
    assert_eq!(a.len(), 100);
    assert_eq!(a.evicted, 50);
    assert_eq!(a.due(t0 + Duration::hours(1)).len(), 100);
    a.due(t0 + Duration::hours(26));
    assert!(a.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    /// Events delivered in time order with ticks in between: a message is
    /// reported late exactly once when its acceptance came after 3 minutes
    /// or never came, and never otherwise; every acceptance gives its latency once.
    #[test]
    fn late_exactly_when_past_target(msgs in proptest::collection::vec((0i64..3_600_000, proptest::option::of(0i64..400_000)), 1..60)) {
        let t0 = at("2026-11-26 09:00");
        let mut a = Acceptance::new(AcceptConfig::default());
        let mut evs: Vec<(i64, usize, bool)> = Vec::new();
        for (i, (arr, lat)) in msgs.iter().enumerate() {
            evs.push((*arr, i, false));
            if let Some(l) = lat {
                evs.push((arr + l, i, true));
            }
        }
        evs.sort();
        let mut late = vec![0u32; msgs.len()];
        let mut latencies = vec![Vec::new(); msgs.len()];
        let id = |i: usize| format!("m{i}");
        for (t, i, is_accept) in evs {
            let now = t0 + Duration::milliseconds(t);
            for l in a.due(now) {
                let n: usize = l.message_id[1..].parse().unwrap_or(usize::MAX);
                late[n] += 1;
            }
            let out = if is_accept {
                a.accepted(&id(i), Channel::Sms, now)
            } else {
                a.arrived(&id(i), Channel::Sms, now)
            };
            if let AcceptOutcome::Accepted { latency_ms, late: l, .. } = out {
                latencies[i].push(latency_ms);
                late[i] += u32::from(l);
            }
        }
        for l in a.due(t0 + Duration::hours(3)) {
            let n: usize = l.message_id[1..].parse().unwrap_or(usize::MAX);
            late[n] += 1;
        }
        for (i, (_, lat)) in msgs.iter().enumerate() {
            let expect_late = lat.is_none_or(|l| l > ACCEPT_TARGET_MS);
            prop_assert_eq!(late[i], u32::from(expect_late), "message {}", i);
            match lat {
                Some(l) => prop_assert_eq!(&latencies[i], &vec![*l]),
                None => prop_assert!(latencies[i].is_empty()),
            }
        }
    }
}

/// The edges of what is kept (found by cargo-mutants): an acceptance of
/// exactly 3 minutes is on time; a message is remembered for 24 hours after
/// it was last touched — an acceptance waiting for its arrival, a message
/// accepted (so a replayed acceptance is still a replay), a late one still
/// paired with an acceptance hours later — and forgotten after.
#[test]
fn the_three_minute_edge_and_the_24_hour_memory() {
    let t0 = at("2026-11-26 09:00");
    let min = Duration::minutes;
    let mut a = Acceptance::new(AcceptConfig::default());
    assert!(a.is_empty());
    a.arrived("edge", Channel::Sms, t0);
    assert!(!a.is_empty() && a.len() == 1);
    assert_eq!(
        a.accepted("edge", Channel::Sms, t0 + min(3)),
        AcceptOutcome::Accepted {
            channel: Channel::Sms,
            latency_ms: ACCEPT_TARGET_MS,
            late: false
        }
    );
    a.arrived("over", Channel::Sms, t0);
    assert_eq!(
        a.accepted(
            "over",
            Channel::Sms,
            t0 + Duration::milliseconds(ACCEPT_TARGET_MS + 1)
        ),
        AcceptOutcome::Accepted {
            channel: Channel::Sms,
            latency_ms: ACCEPT_TARGET_MS + 1,
            late: true
        }
    );

    // Accepted, then ticks for an hour: a replayed acceptance is a replay.
    assert!(a.due(t0 + Duration::hours(1)).is_empty());
    assert_eq!(
        a.accepted("edge", Channel::Sms, t0 + min(3)),
        AcceptOutcome::Replayed
    );

    // An acceptance whose arrival is reported an hour later still pairs.
    a.accepted("early", Channel::Web, t0);
    assert!(a.due(t0 + min(30)).is_empty());
    assert_eq!(
        a.arrived("early", Channel::Web, t0 - min(1)),
        AcceptOutcome::Accepted {
            channel: Channel::Web,
            latency_ms: 60_000,
            late: false
        }
    );

    // Late, alerted once, and accepted two hours later: the latency still comes.
    a.arrived("slow", Channel::Wechat, t0);
    assert_eq!(a.due(t0 + min(4)).len(), 1);
    assert!(a.due(t0 + Duration::hours(2)).is_empty());
    assert_eq!(
        a.accepted("slow", Channel::Wechat, t0 + Duration::hours(2)),
        AcceptOutcome::Accepted {
            channel: Channel::Wechat,
            latency_ms: 7_200_000,
            late: false
        }
    );

    // Untouched for more than 24 hours: forgotten.
    a.arrived("lost", Channel::Sms, t0);
    assert_eq!(a.due(t0 + min(4)).len(), 1);
    assert!(a.due(t0 + Duration::hours(25)).is_empty());
    assert_eq!(
        a.accepted("lost", Channel::Sms, t0 + Duration::hours(25)),
        AcceptOutcome::Waiting,
        "forgotten: the acceptance waits for an arrival"
    );
}
