//! What dedup writes into a decision (`dedup::annotate`): the deadlines and
//! guidance of a repeat joining an open case, the cluster's lead unit
//! (Art. 12(3)) and a hotspot's special-matter deadlines. Decisions come from
//! the real rules; the dedup outcomes are written out, so each rule of the
//! annotation is checked on its own (found by cargo-mutants: these were
//! only reached through whole-index tests that did not look at them).
mod common;
use common::{phone_contact, router};
use hotline_router::dedup::{annotate, DedupOutcome};
use hotline_router::{Channel, Decision, Priority, RouteKind};
use std::sync::Arc;

fn decided(text: &str) -> Decision {
    decided_on(Channel::Phone, text)
}

fn decided_on(channel: Channel, text: &str) -> Decision {
    let mut c = phone_contact("a1", text, "510802");
    c.channel = Some(channel);
    let now = c.received_at.unwrap_or_default();
    hotline_router::decide(router(), &c, now).expect("decided")
}

const ORIGINAL: &str = "GY20261120-0123456789abcdef";

fn joins_open_case() -> DedupOutcome {
    DedupOutcome {
        repeat_of: Some(ORIGINAL.into()),
        joins: true,
        repeat_count: 1,
        ..Default::default()
    }
}

/// A repeat joining an open work order takes its case id and keeps only
/// the intake clocks (an SMS's acceptance, a relay): the original case's
/// deadlines run on.
#[test]
fn a_repeat_joining_an_open_work_order_keeps_only_the_intake_clocks() {
    let mut d = decided_on(Channel::Sms, "锦绣华庭小区门口的垃圾堆了好几天没人清运");
    assert_eq!(d.route, RouteKind::WorkOrder);
    let before = d.deadlines.clone();
    assert!(before.accept_by.is_some() && before.complete_by.is_some());
    annotate(router().calendar(), &mut d, &joins_open_case());
    assert_eq!(d.case_id, ORIGINAL);
    assert_eq!(d.dedup.repeat_of, ORIGINAL);
    assert_eq!(d.deadlines.accept_by, before.accept_by);
    assert_eq!(d.deadlines.complete_by, None);
    assert_eq!(d.deadlines.dispatch_by, None);
    assert!(d.guidance.contains(ORIGINAL), "{}", d.guidance);
}

/// An emergency sent by SMS (relayed to its line within the relay limit)
/// that repeats an open case keeps its relay clock and its own guidance:
/// the sender is still told where the matter goes.
#[test]
fn a_repeated_transfer_keeps_its_relay_clock_and_its_guidance() {
    let mut d = decided_on(Channel::Sms, "楼下饭店着火了，浓烟很大");
    assert_ne!(d.route, RouteKind::WorkOrder, "{:?}", d.route);
    let (relay_by, guidance) = (d.deadlines.relay_by, d.guidance.clone());
    assert!(relay_by.is_some(), "{:?}", d.deadlines);
    annotate(router().calendar(), &mut d, &joins_open_case());
    assert_eq!(d.deadlines.relay_by, relay_by);
    assert_eq!(d.guidance, guidance);
}

fn in_cluster(lead_unit: &str) -> DedupOutcome {
    DedupOutcome {
        cluster_id: Some(format!("CL-{ORIGINAL}")),
        cluster_lead_case: ORIGINAL.into(),
        cluster_lead_unit: Some(Arc::from(lead_unit)),
        cluster_size: 2,
        ..Default::default()
    }
}

/// Art. 12(3): a work order of a cluster is led by the unit that received
/// the cluster first; its own unit co-handles, named once.
#[test]
fn a_clusters_work_order_is_led_by_the_first_unit_and_co_handled_by_its_own() {
    let mut d = decided("锦绣华庭小区门口的垃圾堆了好几天没人清运");
    let own = d.lead_unit.clone().expect("a unit");
    annotate(router().calendar(), &mut d, &in_cluster("510800.first"));
    assert_eq!(d.lead_unit.as_deref(), Some("510800.first"));
    assert_eq!(d.co_units.iter().filter(|u| **u == own).count(), 1);

    // Led by its own unit already: nothing moves.
    let mut d = decided("锦绣华庭小区门口的垃圾堆了好几天没人清运");
    let co_before = d.co_units.clone();
    annotate(router().calendar(), &mut d, &in_cluster(&own));
    assert_eq!(d.lead_unit.as_deref(), Some(&*own));
    assert_eq!(d.co_units, co_before);

    // Its own unit already a co-unit: still named once.
    let mut d = decided("锦绣华庭小区门口的垃圾堆了好几天没人清运");
    d.co_units.push(own.clone());
    annotate(router().calendar(), &mut d, &in_cluster("510800.first"));
    assert_eq!(d.co_units.iter().filter(|u| **u == own).count(), 1);

    // Not a work order: the cluster is recorded, the unit is not changed.
    let mut d = decided("锦绣华庭小区门口的垃圾堆了好几天没人清运");
    d.route = RouteKind::DirectAnswer;
    annotate(router().calendar(), &mut d, &in_cluster("510800.first"));
    assert_eq!(d.lead_unit.as_deref(), Some(&*own));
    assert_eq!(d.dedup.cluster_lead_unit, "510800.first");
}

/// A hotspot raised to a special matter adds the special-matter clocks
/// (notify, first feedback, progress) to a new case and keeps its relay
/// and completion limits; a repeat joining an open case gets none (the
/// original case carries them).
#[test]
fn a_special_matter_adds_its_clocks_to_a_new_case_only() {
    let raise = DedupOutcome {
        raise_special: true,
        hotspot: true,
        ..in_cluster("510800.first")
    };
    let mut d = decided("锦绣华庭小区门口的垃圾堆了好几天没人清运");
    let before = d.deadlines.clone();
    assert_eq!(d.priority, Priority::Normal);
    annotate(router().calendar(), &mut d, &raise);
    assert_eq!(d.priority, Priority::Special);
    assert!(d.deadlines.notify_by.is_some(), "{:?}", d.deadlines);
    assert_eq!(d.deadlines.complete_by, before.complete_by);
    assert_eq!(d.deadlines.relay_by, before.relay_by);

    let mut d = decided("锦绣华庭小区门口的垃圾堆了好几天没人清运");
    let joins = DedupOutcome {
        repeat_of: Some(ORIGINAL.into()),
        joins: true,
        ..raise
    };
    annotate(router().calendar(), &mut d, &joins);
    assert_eq!(d.priority, Priority::Special);
    assert_eq!(d.deadlines.notify_by, None, "{:?}", d.deadlines);
    assert_eq!(d.deadlines.complete_by, None);
}
