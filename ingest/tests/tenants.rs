//! Several cities in one daemon (README.md, "Tenants"): the shipped
//! Guangyuan rules as the default tenant and the three example tenants of
//! `deploy/config/tenants/`. Each contact is decided by its city's rules
//! (units, districts, lines), under its case-id prefix, into its own store;
//! repeats, order events, stats and metrics stay within a city; a restart
//! restores each city's state from its own store.
mod support;
use hotline_proto::v1 as pb;
use support::*;

const TENANTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config/tenants");

fn config() -> String {
    let mut c = String::from("[stats]\ninterval_secs = 1\n");
    for code in ["510700", "511300", "511900"] {
        c.push_str(&format!("[[tenant]]\ndir = \"{TENANTS}/{code}\"\n"));
    }
    c
}

#[test]
fn each_city_is_decided_by_its_own_rules_into_its_own_store() {
    let dir = temp_dir("tenants-rules");
    let d = Daemon::start_in(&dir, Some(&config()));
    let rt = rt();
    rt.block_on(async {
        // Named by the tenant field: Mianyang's rules, prefix and units.
        let my = d
            .submit(city_contact(
                "t-my-1",
                "510700",
                "510703",
                "13900000001",
                "我要投诉小区物业乱收停车费，一个月收三百",
                5,
            ))
            .await;
        assert_eq!(my.tenant, "510700");
        assert!(my.case_id.starts_with("MY2"), "{}", my.case_id);
        assert!(
            my.lead_unit.starts_with("510703."),
            "the district's unit of 涪城区: {}",
            my.lead_unit
        );
        // Named by the district code's city (511302 → 511300).
        let nc = d
            .submit(city_contact(
                "t-nc-1",
                "",
                "511302",
                "13900000002",
                "我要投诉小区物业乱收停车费，一个月收三百",
                5,
            ))
            .await;
        assert_eq!(nc.tenant, "511300");
        assert!(nc.case_id.starts_with("NC2"), "{}", nc.case_id);
        assert!(nc.lead_unit.starts_with("511302."), "{}", nc.lead_unit);
        // The city's own utility line, from its own scope.toml.
        let water = d
            .submit(city_contact(
                "t-bz-1",
                "511900",
                "511902",
                "13900000003",
                "家里停水两天了，什么时候来水",
                5,
            ))
            .await;
        assert_eq!(water.route, pb::RouteKind::UtilityLinkage as i32);
        assert!(
            water.targets.iter().any(|t| t.code == "0827-3212345"),
            "{:?}",
            water.targets
        );
        // A district of no served city, and no district: the default tenant.
        for (id, district) in [("t-gy-1", "510802"), ("t-gy-2", "")] {
            let gy = d
                .submit(city_contact(
                    id,
                    "",
                    district,
                    "13900000004",
                    "小区路灯坏了好几天了",
                    5,
                ))
                .await;
            assert_eq!(gy.tenant, "510800", "{district:?}");
            assert!(gy.case_id.starts_with("GY2"), "{}", gy.case_id);
        }
        // A tenant not served here is refused, with its reason.
        let err = d
            .client()
            .await
            .submit(city_contact(
                "t-xx-1",
                "440100",
                "440103",
                "13900000005",
                "路灯坏了",
                5,
            ))
            .await
            .expect_err("refused");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.message().contains("UNKNOWN_TENANT"),
            "{}",
            err.message()
        );
        // GetDecision finds a city's decision by case id and by contact id.
        let mut c = d.client().await;
        let by_case = c
            .get_decision(pb::GetDecisionRequest {
                key: Some(pb::get_decision_request::Key::CaseId(nc.case_id.clone())),
            })
            .await
            .expect("by case id")
            .into_inner();
        assert_eq!(by_case.contact_id, "t-nc-1");
        let by_contact = c
            .get_decision(pb::GetDecisionRequest {
                key: Some(pb::get_decision_request::Key::ContactId("t-my-1".into())),
            })
            .await
            .expect("by contact id")
            .into_inner();
        assert_eq!(by_contact.case_id, my.case_id);
    });
    // Each city's decisions in its own store.
    let data = dir.join("data");
    let ids = |p: std::path::PathBuf| -> Vec<String> {
        let mut v: Vec<String> = stored_decisions(&p)
            .iter()
            .map(|x| x["contactId"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(data.join("tenants/510700")), vec!["t-my-1"]);
    assert_eq!(ids(data.join("tenants/511300")), vec!["t-nc-1"]);
    assert_eq!(ids(data.join("tenants/511900")), vec!["t-bz-1"]);
    assert_eq!(ids(data.clone()), vec!["t-gy-1", "t-gy-2"]);
    // Per-city gauges.
    for code in ["510800", "510700", "511300", "511900"] {
        let label = format!("tenant=\"{code}\"");
        assert!(
            d.metric_with(&["hotline_open_cases{", &label]).is_some(),
            "hotline_open_cases for {code}"
        );
    }
}

#[test]
fn repeats_order_events_and_stats_stay_within_a_city_across_a_restart() {
    let dir = temp_dir("tenants-state");
    let text = "我要投诉小区物业乱收停车费，一个月收三百，物业还不让业主开会";
    let phone = "13900000011";
    let d = Daemon::start_in(&dir, Some(&config()));
    let rt = rt();
    let (first_my, first_nc) = rt.block_on(async {
        let my = d
            .submit(city_contact("r-my-1", "510700", "510703", phone, text, 5))
            .await;
        // The same caller and words in another city: a matter of that city.
        let nc = d
            .submit(city_contact("r-nc-1", "511300", "511302", phone, text, 5))
            .await;
        let links = nc.dedup.clone().unwrap_or_default();
        assert!(
            links.repeat_of.is_empty(),
            "no repeat across cities: {links:?}"
        );
        assert_eq!(nc.route, pb::RouteKind::WorkOrder as i32);
        // An order event goes to the city its case id names.
        let s = d
            .order_events(vec![pb::OrderEvent {
                case_id: my.case_id.clone(),
                r#type: pb::OrderEventType::Dispatched as i32,
                at: ts(now_secs() - 1),
                unit: my.lead_unit.clone(),
                ..Default::default()
            }])
            .await;
        assert_eq!((s.accepted, s.rejected), (1, 0), "{s:?}");
        // A case id of no city served here is unknown.
        let s = d
            .order_events(vec![pb::OrderEvent {
                case_id: "XX20261128-0000000000000000".into(),
                r#type: pb::OrderEventType::Dispatched as i32,
                at: ts(now_secs() - 1),
                ..Default::default()
            }])
            .await;
        assert_eq!((s.accepted, s.rejected), (0, 1), "{s:?}");
        // Stats by city; an unknown city is NOT_FOUND.
        let mut stats = pb::stats_client::StatsClient::connect(d.url())
            .await
            .expect("connect");
        let mut w = stats
            .watch(pb::WatchRequest {
                tenant: "511300".into(),
                ..Default::default()
            })
            .await
            .expect("watch")
            .into_inner();
        let snap = w.message().await.expect("stream").expect("a snapshot");
        assert_eq!(snap.tenant, "511300");
        assert_eq!(snap.open_cases, 1, "the Nanchong case only");
        let err = stats
            .watch(pb::WatchRequest {
                tenant: "440100".into(),
                ..Default::default()
            })
            .await
            .expect_err("unknown tenant");
        assert_eq!(err.code(), tonic::Code::NotFound);
        (my, nc)
    });
    d.kill9();
    // After a crash each city's index comes back from its own store.
    let d = Daemon::start_in(&dir, Some(&config()));
    rt.block_on(async {
        let my = d
            .submit(city_contact("r-my-2", "510700", "510703", phone, text, 5))
            .await;
        let links = my.dedup.clone().unwrap_or_default();
        assert_eq!(links.repeat_of, first_my.case_id, "{links:?}");
        let nc = d
            .submit(city_contact("r-nc-2", "511300", "511302", phone, text, 5))
            .await;
        let links = nc.dedup.clone().unwrap_or_default();
        assert_eq!(links.repeat_of, first_nc.case_id, "{links:?}");
        // Call events name their city; an unknown one is rejected.
        let summary = d
            .client()
            .await
            .report_call_events(tokio_stream::iter(vec![
                pb::CallEvent {
                    call_id: "call-bz-1".into(),
                    r#type: pb::CallEventType::Offered as i32,
                    at: ts(now_secs() - 2),
                    queue: "12345".into(),
                    tenant: "511900".into(),
                    ..Default::default()
                },
                pb::CallEvent {
                    call_id: "call-xx-1".into(),
                    r#type: pb::CallEventType::Offered as i32,
                    at: ts(now_secs() - 2),
                    queue: "12345".into(),
                    tenant: "440100".into(),
                    ..Default::default()
                },
            ]))
            .await
            .expect("call events")
            .into_inner();
        assert_eq!((summary.accepted, summary.rejected), (1, 1), "{summary:?}");
    });
    // The Bazhong call is in Bazhong's window, not the default tenant's.
    d.wait_ticks("service_targets", 2.0);
    let offered = |tenant: &str| {
        d.metric_with(&[
            "hotline_window_calls{",
            "outcome=\"offered\"",
            "window=\"15m\"",
            "queue=\"12345\"",
            &format!("tenant=\"{tenant}\""),
        ])
        .unwrap_or(0.0)
    };
    assert_eq!(offered("511900"), 1.0);
    assert_eq!(offered("510800"), 0.0);
}
