//! More than one node against the real broker (README.md, "More than one
//! node"): two daemons share four tenants through the by-tenant topic they
//! create themselves; the node assigned a tenant's partition restores its
//! state from the changelog, so after one is killed the other continues
//! every tenant's repeats, and every contact ends with one case.
//! `#[ignore]`: needs the broker `.ci/test` starts.
mod support;
use hotline_proto::v1 as pb;
use prost::Message as _;
use rdkafka::message::Message as _;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use support::kafka::*;
use support::*;

const TENANTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/tenants");

/// The config of one node of the cluster of `topics`: every node keys
/// callers with the same file.
fn node_config(topics: &Topics) -> String {
    let key = std::env::temp_dir().join(format!("{}.caller.key", topics.prefix));
    if !key.exists() {
        std::fs::write(&key, [7u8; 32]).expect("caller key");
    }
    let mut c = format!(
        "[stats]\ninterval_secs = 1\n[privacy]\ncaller_key_file = \"{}\"\n",
        key.display()
    );
    for code in ["510700", "511300", "511900"] {
        c.push_str(&format!("[[tenant]]\ndir = \"{TENANTS}/{code}\"\n"));
    }
    // tansu answers a fetch starting inside a record batch with nothing: the
    // internal topics, read from the middle on takeover, get one record per
    // batch (README.md, "Testing against tansu").
    c.push_str(&topics.config(
        "cluster",
        "[kafka.client]\n\"batch.num.messages\" = \"1\"\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"500\"",
    ));
    c.push_str(&format!(
        "[kafka.cluster]\npartitions = 4\nreplication_factor = 1\nby_tenant = \"{p}.by-tenant\"\nchangelog = \"{p}.changelog\"\n[kafka.cluster.tenant_partitions]\n\"510800\" = 0\n\"510700\" = 1\n\"511300\" = 2\n\"511900\" = 3\n",
        p = topics.prefix
    ));
    c
}

/// A contact of `tenant` from `phone`, received `ago` seconds ago.
fn city(id: &str, tenant: &str, district: &str, phone: &str, text: &str, ago: i64) -> pb::Contact {
    let mut c = contact(id, text);
    c.tenant = tenant.into();
    c.received_at = ts(now_secs() - ago);
    c.caller = Some(pb::Caller {
        phone: phone.into(),
        ..Default::default()
    });
    c.location = Some(pb::Location {
        district_code: district.into(),
        address: String::new(),
    });
    c
}

const CITIES: [(&str, &str); 4] = [
    ("510800", "510802"),
    ("510700", "510703"),
    ("511300", "511302"),
    ("511900", "511902"),
];

const MATTER: &str = "我要投诉小区物业乱收停车费，一个月收三百，物业还不让业主开会";

/// The decisions on the topic, by contact id (the last of each).
fn decisions(topics: &Topics, want: usize) -> HashMap<String, Vec<pb::Decision>> {
    let mut by_id: HashMap<String, Vec<pb::Decision>> = HashMap::new();
    for m in read_until(
        &topics.decisions(),
        Duration::from_secs(90),
        distinct_decisions(want),
    ) {
        if let Some(d) = m.payload().and_then(|b| pb::Decision::decode(b).ok()) {
            by_id.entry(d.contact_id.clone()).or_default().push(d);
        }
    }
    by_id
}

#[test]
#[ignore = "needs the Kafka-protocol broker that .ci/test starts"]
fn a_second_node_takes_over_every_tenant_with_its_state() {
    let rt = rt();
    let topics = rt.block_on(create_topics("cluster", 4));
    let (dir_a, dir_b) = (temp_dir("cluster-a"), temp_dir("cluster-b"));
    let a = Daemon::start_in(&dir_a, Some(&node_config(&topics)));
    let b = Daemon::start_in(&dir_b, Some(&node_config(&topics)));
    // Both are in the by-tenant group before anything is produced.
    for d in [&a, &b] {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while d.metric("hotline_kafka_assigned_partitions{consumer=\"by_tenant\"}") < 1.0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no partitions assigned"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let p = producer();
    // A first contact per tenant, each from its own caller, keyed at random.
    let first: Vec<pb::Contact> = CITIES
        .iter()
        .enumerate()
        .map(|(i, (t, d))| {
            city(
                &format!("first-{t}"),
                t,
                d,
                &format!("1390000{i:04}"),
                MATTER,
                600,
            )
        })
        .collect();
    rt.block_on(produce_all(
        &p,
        &topics.contacts(),
        first
            .iter()
            .map(|c| (format!("k{}", now_secs()).into_bytes(), c.encode_to_vec()))
            .collect(),
    ));
    let got = decisions(&topics, 4);
    let mut cases = HashMap::new();
    for (t, _) in CITIES {
        let d = got
            .get(&format!("first-{t}"))
            .and_then(|v| v.last())
            .unwrap_or_else(|| panic!("no decision for {t}: {:?}", got.keys()));
        assert_eq!(d.tenant, t);
        cases.insert(t, d.case_id.clone());
    }
    // The internal topics were created by the daemons.
    for t in [
        format!("{}.by-tenant", topics.prefix),
        format!("{}.changelog", topics.prefix),
    ] {
        let records = read_until(&t, Duration::from_secs(20), count(1));
        assert!(!records.is_empty(), "{t} holds records");
    }
    // One node dies and a replacement joins once its session expired (tansu
    // reassigns a dead member's partitions only when a member joins:
    // README.md, "Testing against tansu"). The survivor and the newcomer,
    // whose store is empty, share the partitions and restore their state.
    a.kill9();
    std::thread::sleep(Duration::from_secs(8));
    let dir_c = temp_dir("cluster-c");
    let c = Daemon::start_in(&dir_c, Some(&node_config(&topics)));
    let owned = |d: &Daemon| d.metric("hotline_kafka_assigned_partitions{consumer=\"by_tenant\"}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while owned(&b) + owned(&c) < 4.0 || owned(&c) < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no takeover: b {} c {}",
            owned(&b),
            owned(&c)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The same callers again: repeats of their first contacts, whichever
    // node decided those.
    let again: Vec<pb::Contact> = CITIES
        .iter()
        .enumerate()
        .map(|(i, (t, d))| {
            city(
                &format!("again-{t}"),
                t,
                d,
                &format!("1390000{i:04}"),
                MATTER,
                60,
            )
        })
        .collect();
    rt.block_on(produce_all(
        &p,
        &topics.contacts(),
        again
            .iter()
            .map(|c| (format!("j{}", c.contact_id).into_bytes(), c.encode_to_vec()))
            .collect(),
    ));
    let got = decisions(&topics, 8);
    for (t, _) in CITIES {
        let d = got
            .get(&format!("again-{t}"))
            .and_then(|v| v.last())
            .unwrap_or_else(|| panic!("no decision for the repeat of {t}"));
        let links = d.dedup.clone().unwrap_or_default();
        assert_eq!(links.repeat_of, cases[t], "{t}: {links:?}");
    }
    // Every contact has one case: duplicates on the topic (redelivery) are
    // the same decision.
    let ids: HashSet<&String> = got.keys().collect();
    assert_eq!(ids.len(), 8, "{ids:?}");
    for (id, ds) in &got {
        let cases: HashSet<&str> = ds.iter().map(|d| d.case_id.as_str()).collect();
        assert_eq!(cases.len(), 1, "{id}: {cases:?}");
    }
    drop((b, c));
}
