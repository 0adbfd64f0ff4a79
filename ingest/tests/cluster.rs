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
fn node_config(topics: &Topics, node: &str) -> String {
    let key = std::env::temp_dir().join(format!("{}.caller.key", topics.prefix));
    if !key.exists() {
        std::fs::write(&key, [7u8; 32]).expect("caller key");
    }
    let mut c = format!(
        "[stats]\ninterval_secs = 1\nnode = \"{node}\"\n[privacy]\ncaller_key_file = \"{}\"\n",
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
        "[kafka.cluster]\npartitions = 4\nreplication_factor = 1\nby_tenant = \"{p}.by-tenant\"\nchangelog = \"{p}.changelog\"\nmembership = \"{p}.members\"\n[kafka.cluster.tenant_partitions]\n\"510800\" = 0\n\"510700\" = 1\n\"511300\" = 2\n\"511900\" = 3\n",
        p = topics.prefix
    ));
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
    let a = Daemon::start_in(&dir_a, Some(&node_config(&topics, "a")));
    let b = Daemon::start_in(&dir_b, Some(&node_config(&topics, "b")));
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
            city_contact(
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
    let c = Daemon::start_in(&dir_c, Some(&node_config(&topics, "c")));
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
            city_contact(
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

/// The contacts of one tenant for the chaos run: wave 1 has every repeat
/// caller's first contact, the hotspot's first caller and the singles;
/// wave 2 the repeats and the other 11 hotspot callers (12 in all), so the
/// order within a tenant that dedup depends on is the same on any node.
fn tenant_waves(tenant: &str, district: &str, n: usize) -> (Vec<pb::Contact>, Vec<pb::Contact>) {
    let matters = [
        "小区门口的路灯坏了一个多月了，晚上黑黢黢的",
        "楼下烧烤店油烟太大，熏得窗户都开不了",
        "物业不退装修押金，已经拖了半年",
        "小区电梯三天两头坏，老人上下楼很困难",
        "菜市场门口占道经营，车都过不去",
    ];
    let (mut w1, mut w2) = (Vec::new(), Vec::new());
    for (i, m) in matters.iter().enumerate() {
        let phone = format!("1350{n}{i:06}");
        w1.push(city_contact(
            &format!("{tenant}-r{i}-a"),
            tenant,
            district,
            &phone,
            m,
            3_000,
        ));
        w2.push(city_contact(
            &format!("{tenant}-r{i}-b"),
            tenant,
            district,
            &phone,
            m,
            600,
        ));
    }
    let hot = "东风路和建设路口的红绿灯不亮了，车堵成一锅粥";
    for i in 0..12 {
        let c = city_contact(
            &format!("{tenant}-h{i}"),
            tenant,
            district,
            &format!("1360{n}{i:06}"),
            hot,
            1_800 - 60 * i as i64,
        );
        if i == 0 {
            w1.push(c)
        } else {
            w2.push(c)
        }
    }
    // Singles: unrelated matters, so that no order of them makes a cluster.
    let singles = [
        "请问公积金贷款的额度怎么算",
        "孩子的医保卡丢了在哪里补办",
        "想咨询一下新生儿落户要带什么材料",
        "养老金认证在手机上怎么操作",
        "残疾人证到期了去哪里换",
        "请问驾驶证换证需要体检吗",
        "出租车司机绕路多收了二十块钱",
        "学校门口的减速带被压坏了",
        "想问一下不动产登记要预约吗",
        "单位拖欠了三个月工资不发",
    ];
    for (i, text) in singles.iter().enumerate() {
        w1.push(city_contact(
            &format!("{tenant}-s{i}"),
            tenant,
            district,
            &format!("1370{n}{i:06}"),
            text,
            2_400,
        ));
    }
    (w1, w2)
}

/// Produces `contacts` at a steady rate with random keys.
fn produce_steadily(topic: &str, contacts: &[pb::Contact], per_sec: u64) {
    let rt = rt();
    let p = producer();
    rt.block_on(async {
        for (i, c) in contacts.iter().enumerate() {
            let key = format!(
                "{:x}",
                (now_secs() as u64).wrapping_mul(2654435761) ^ i as u64
            );
            p.send(
                rdkafka::producer::FutureRecord::to(topic)
                    .key(key.as_bytes())
                    .payload(&c.encode_to_vec()),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("delivered");
            tokio::time::sleep(Duration::from_millis(1000 / per_sec)).await;
        }
    });
}

/// What dedup said of a contact: the case it repeats and its cluster's lead.
fn links(d: &pb::Decision) -> (String, String) {
    let l = d.dedup.clone().unwrap_or_default();
    (l.repeat_of, l.cluster_lead_case)
}

#[test]
#[ignore = "needs the Kafka-protocol broker that .ci/test starts"]
fn three_nodes_survive_a_kill_a_pause_past_the_session_and_a_newcomer() {
    let rt = rt();
    let topics = rt.block_on(create_topics("chaos", 4));
    // The directories outlive their daemons (a TempDir removes its own on drop).
    let dirs: Vec<TempDir> = ["a", "b", "c", "d", "single"]
        .iter()
        .map(|n| temp_dir(&format!("chaos-{n}")))
        .collect();
    let nodes: Vec<Daemon> = dirs[..3]
        .iter()
        .zip(["a", "b", "c"])
        .map(|(dir, n)| Daemon::start_in(dir, Some(&node_config(&topics, n))))
        .collect();
    let owned = |d: &Daemon| d.metric("hotline_kafka_assigned_partitions{consumer=\"by_tenant\"}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while nodes.iter().map(owned).sum::<f64>() < 4.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the group never formed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (mut wave1, mut wave2) = (Vec::new(), Vec::new());
    for (n, (t, d)) in CITIES.iter().enumerate() {
        let (a, b) = tenant_waves(t, d, n);
        wave1.extend(a);
        wave2.extend(b);
    }
    let all: Vec<pb::Contact> = wave1.iter().chain(&wave2).cloned().collect();
    produce_steadily(&topics.contacts(), &wave1, 40);
    let got = decisions(&topics, wave1.len());
    assert_eq!(got.len(), wave1.len(), "wave 1 decided");
    // Wave 2 at a steady rate while one node is killed, another paused past
    // its session (6 s) and resumed, and a newcomer joins.
    let [a, b, c]: [Daemon; 3] = nodes.try_into().unwrap_or_else(|_| panic!("three nodes"));
    let producing = {
        let topic = topics.contacts();
        let wave = wave2.clone();
        std::thread::spawn(move || produce_steadily(&topic, &wave, 4))
    };
    std::thread::sleep(Duration::from_secs(3));
    let killed_at = std::time::Instant::now();
    a.kill9();
    std::thread::sleep(Duration::from_secs(2));
    let b_pid = b.child.id().to_string();
    let signal = |sig: &str| {
        assert!(std::process::Command::new("kill")
            .args([sig, &b_pid])
            .status()
            .expect("kill")
            .success());
    };
    signal("-STOP");
    std::thread::sleep(Duration::from_secs(8));
    let d = Daemon::start_in(&dirs[3], Some(&node_config(&topics, "d")));
    std::thread::sleep(Duration::from_secs(2));
    signal("-CONT");
    let resumed_ms = now_secs() * 1000;
    producing.join().expect("producer");
    let got = decisions(&topics, all.len());
    let failover = killed_at.elapsed();
    // Every contact decided, each with one decision (a redelivered one the same).
    for ct in &all {
        let ds = got
            .get(&ct.contact_id)
            .unwrap_or_else(|| panic!("{} never decided", ct.contact_id));
        let bodies: HashSet<Vec<u8>> = ds.iter().map(|x| x.encode_to_vec()).collect();
        assert_eq!(
            bodies.len(),
            1,
            "{}: {} different decisions",
            ct.contact_id,
            bodies.len()
        );
    }
    // The paused node noticed and gave its tenants up before publishing:
    // nothing it decided before the pause (its new owner decided that) and
    // nothing it read before the pause is published by it afterwards.
    assert!(
        b.metric("hotline_cluster_paused_total") >= 1.0,
        "the paused node did not fence itself"
    );
    let mut publishers: HashMap<String, HashSet<(String, bool)>> = HashMap::new();
    for m in read_until(&topics.decisions(), Duration::from_secs(20), |_| false) {
        let Some(d) = m.payload().and_then(|b| pb::Decision::decode(b).ok()) else {
            continue;
        };
        let node = header(&m, "hotline.node").unwrap_or_default();
        let after = m.timestamp().to_millis().unwrap_or(0) >= resumed_ms;
        publishers
            .entry(d.contact_id)
            .or_default()
            .insert((node, after));
    }
    let zombie: Vec<&String> = publishers
        .iter()
        .filter(|(_, ps)| ps.contains(&("b".to_string(), true)) && ps.iter().any(|(n, _)| n != "b"))
        .map(|(id, _)| id)
        .collect();
    assert!(
        zombie.is_empty(),
        "published by the paused node after it lost them: {zombie:?}"
    );
    assert!(
        publishers.values().flatten().all(|(n, _)| !n.is_empty()),
        "every decision names its node"
    );
    // The same contacts through one node, in the same waves: the same
    // repeats and clusters.
    let single = Daemon::start_in(&dirs[4], Some(&format!(
        "[[tenant]]\ndir = \"{TENANTS}/510700\"\n[[tenant]]\ndir = \"{TENANTS}/511300\"\n[[tenant]]\ndir = \"{TENANTS}/511900\"\n[privacy]\ncaller_key_file = \"{}\"\n",
        std::env::temp_dir().join(format!("{}.caller.key", topics.prefix)).display()
    )));
    let reference: HashMap<String, (String, String)> = rt.block_on(async {
        let mut out = HashMap::new();
        for ct in &all {
            let dec = single.submit(ct.clone()).await;
            out.insert(ct.contact_id.clone(), links(&dec));
        }
        out
    });
    let mut differ = Vec::new();
    for ct in &all {
        let clustered = got[&ct.contact_id].last().map(links).unwrap_or_default();
        if clustered != reference[&ct.contact_id] {
            differ.push(format!(
                "{}: {clustered:?} vs {:?}",
                ct.contact_id, reference[&ct.contact_id]
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "cluster vs one node:\n{}",
        differ.join("\n")
    );
    // One hotspot per tenant (12 callers within the hour), raised once, as
    // one node raises them.
    let mut hot = HashSet::new();
    read_until(
        &format!("{}.alerts", topics.prefix),
        Duration::from_secs(60),
        |m| {
            if let Some(a) = m.payload().and_then(|b| pb::Alert::decode(b).ok()) {
                if a.kind == pb::AlertKind::Hotspot as i32 {
                    hot.insert(a.alert_id);
                }
            }
            hot.len() >= 4
        },
    );
    assert_eq!(
        single.wait_metric("hotline_alerts_total{kind=\"HOTSPOT\"} ", 4.0),
        hot.len() as f64,
        "hotspots: the cluster's {hot:?}"
    );
    let restores = [&b, &c, &d]
        .iter()
        .map(|n| n.metric("hotline_tenant_restore_seconds_count"))
        .sum::<f64>();
    println!(
        "chaos: {} contacts, failover (kill to every contact decided) {:.1} s, {restores} tenant restores",
        all.len(),
        failover.as_secs_f64()
    );
    drop((b, c, d, single));
}

/// gRPC to any node (README.md, "More than one node"): a contact of a
/// tenant the other node decides for gets that node's decision, repeats
/// included; with its owner just killed and no successor yet, a contact is
/// answered at once, decided without dedup, and the successor's decision —
/// with the repeat found — follows on the decisions topic.
#[test]
#[ignore = "needs the Kafka-protocol broker that .ci/test starts"]
fn grpc_to_any_node_gets_the_owners_decision_and_an_answer_during_failover() {
    let rt = rt();
    let topics = rt.block_on(create_topics("forward", 4));
    let dirs: Vec<TempDir> = ["a", "b", "c"]
        .iter()
        .map(|n| temp_dir(&format!("fwd-{n}")))
        .collect();
    let a = Daemon::start_in(&dirs[0], Some(&node_config(&topics, "a")));
    let b = Daemon::start_in(&dirs[1], Some(&node_config(&topics, "b")));
    let owned = |d: &Daemon| d.metric("hotline_kafka_assigned_partitions{consumer=\"by_tenant\"}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // Both own partitions, and both know an owner of every partition.
    while owned(&a) < 1.0
        || owned(&b) < 1.0
        || a.metric("hotline_cluster_members") < 2.0
        || b.metric("hotline_cluster_members") < 2.0
        || a.metric("hotline_cluster_partitions_decided") < 4.0
        || b.metric("hotline_cluster_partitions_decided") < 4.0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster never formed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Each node owns some tenants and not others: every first contact goes
    // to A, every repeat to B, and every repeat is found.
    let first: HashMap<&str, pb::Decision> = rt.block_on(async {
        let mut out = HashMap::new();
        for (i, (t, d)) in CITIES.iter().enumerate() {
            let c = city_contact(
                &format!("f1-{t}"),
                t,
                d,
                &format!("1380000{i:04}"),
                MATTER,
                900,
            );
            let dec = a.submit(c).await;
            assert!(!dec.tags.contains(&"no_dedup".to_string()), "{t}: {dec:?}");
            out.insert(*t, dec);
        }
        for (i, (t, d)) in CITIES.iter().enumerate() {
            let c = city_contact(
                &format!("f2-{t}"),
                t,
                d,
                &format!("1380000{i:04}"),
                MATTER,
                600,
            );
            let dec = b.submit(c).await;
            let links = dec.dedup.clone().unwrap_or_default();
            assert_eq!(links.repeat_of, out[t].case_id, "{t}: {links:?}");
        }
        out
    });
    for (name, d) in [("a", &a), ("b", &b)] {
        assert!(
            d.metric("hotline_forwarded_total{how=\"owner\"}") >= 1.0,
            "{name} forwarded nothing"
        );
    }
    // A dies; until a successor joins, B answers A's tenants without dedup.
    a.kill9();
    let answered: Vec<pb::Decision> = rt.block_on(async {
        let mut out = Vec::new();
        for (i, (t, d)) in CITIES.iter().enumerate() {
            let c = city_contact(
                &format!("f3-{t}"),
                t,
                d,
                &format!("1380000{i:04}"),
                MATTER,
                300,
            );
            out.push(b.submit(c).await);
        }
        out
    });
    let provisional: Vec<&str> = answered
        .iter()
        .filter(|d| d.tags.contains(&"no_dedup".to_string()))
        .map(|d| d.tenant.as_str())
        .collect();
    assert!(
        !provisional.is_empty(),
        "A's tenants were answered without dedup"
    );
    assert_eq!(
        b.metric("hotline_forwarded_total{how=\"handed_off\"}"),
        provisional.len() as f64
    );
    for d in &answered {
        assert!(
            d.deadlines.is_some() && d.route != 0,
            "an answer with route and deadlines: {d:?}"
        );
    }
    // A successor joins and decides what was handed over: the update.
    std::thread::sleep(Duration::from_secs(7));
    let c = Daemon::start_in(&dirs[2], Some(&node_config(&topics, "c")));
    let got = decisions(&topics, 12);
    for (t, _) in CITIES {
        let ds = got
            .get(&format!("f3-{t}"))
            .unwrap_or_else(|| panic!("no decision of f3-{t} on the topic"));
        let last = ds.last().expect("one");
        assert!(
            !last.tags.contains(&"no_dedup".to_string()),
            "{t}: {last:?}"
        );
        let links = last.dedup.clone().unwrap_or_default();
        assert_eq!(links.repeat_of, first[t].case_id, "{t}: {links:?}");
    }
    drop((b, c));
}

/// A changelog record is what a new owner takes as done: it is on Kafka only
/// after the decision and alerts stored with it. With the decisions topic
/// missing (the broker creates none), a decided contact's changelog record
/// waits; once the topic exists, both arrive.
#[test]
#[ignore = "needs the Kafka-protocol broker that .ci/test starts"]
fn a_changelog_record_waits_for_the_outputs_stored_with_it() {
    let rt = rt();
    let topics = rt.block_on(create_topics("order", 4));
    let late = format!("{}.decisions-late", topics.prefix);
    let config = node_config(&topics, "a")
        .replace(
            &format!("decisions = \"{}\"", topics.decisions()),
            &format!("decisions = \"{late}\""),
        )
        .replace(
            "[kafka.client]\n",
            "produce_timeout_ms = 3000\n[kafka.client]\n",
        );
    let dir = temp_dir("order-a");
    let a = Daemon::start_in(&dir, Some(&config));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // Assigned, restored and announced: a contact sent while its tenant
    // is still restoring is answered without dedup instead (the test's
    // first form raced that under load).
    while a.metric("hotline_kafka_assigned_partitions{consumer=\"by_tenant\"}") < 4.0
        || a.metric("hotline_cluster_partitions_decided") < 4.0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the group never formed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Acknowledged once on the changelog (README.md, "More than one node"):
    // the answer waits too.
    let (t, d) = CITIES[0];
    let submit = {
        let c = city_contact("late-1", t, d, "13800001111", MATTER, 60);
        let url = a.url();
        rt.spawn(async move {
            let mut client = pb::intake_client::IntakeClient::connect(url)
                .await
                .expect("connect");
            client.submit(c).await.map(|r| r.into_inner())
        })
    };
    let on_changelog = |wait: Duration| {
        read_until(&format!("{}.changelog", topics.prefix), wait, |m| {
            changelog_decision(m).as_deref() == Some("late-1")
        })
        .iter()
        .any(|m| changelog_decision(m).as_deref() == Some("late-1"))
    };
    // Sends to the missing topic fail (3 s each) and are retried: the
    // changelog stays without the record meanwhile.
    assert!(
        !on_changelog(Duration::from_secs(8)),
        "the changelog has a decision that is not on Kafka"
    );
    assert!(
        a.metric_with(&["hotline_outbox_unpublished{", "tenant=\"510800\""])
            .unwrap_or(0.0)
            >= 1.0,
        "held in the outbox"
    );
    if submit.is_finished() {
        let r = rt.block_on(submit);
        panic!("answered before it was replicated: {r:?}");
    }
    rt.block_on(create_topic(&late, 4));
    let decided = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(90), submit).await })
        .expect("answered once the topic exists")
        .expect("the submit task")
        .expect("submit");
    assert!(!decided.tags.contains(&"no_dedup".to_string()));
    let got = read_until(&late, Duration::from_secs(30), distinct_decisions(1));
    assert!(
        got.iter().any(|m| m
            .payload()
            .and_then(|b| pb::Decision::decode(b).ok())
            .is_some_and(|x| x.contact_id == "late-1")),
        "the decision reached its topic"
    );
    assert!(
        on_changelog(Duration::from_secs(30)),
        "then its changelog record"
    );
    // Each step of the outbox's cycle was timed, the fence check and the
    // changelog round among them.
    for round in ["read", "fence", "outputs", "changelog"] {
        let n = a
            .metric_with(&[
                "hotline_outbox_round_seconds_count{",
                &format!("round=\"{round}\""),
            ])
            .unwrap_or(0.0);
        assert!(n >= 1.0, "{round}: {n}");
    }
}

/// The contact id of a changelog record that holds a decision.
fn changelog_decision(m: &rdkafka::message::OwnedMessage) -> Option<String> {
    let rec = pb::ChangelogRecord::decode(m.payload()?).ok()?;
    match rec.row? {
        pb::changelog_record::Row::Decision(d) => Some(d.contact_id),
        _ => None,
    }
}
