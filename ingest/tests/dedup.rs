//! Dedup in the daemon: repeats join the original case, clusters and a
//! hotspot across callers, escalation raised once, and the index surviving
//! `kill -9` through the embedded store.
mod support;
use hotline_proto::v1 as pb;
use support::*;

fn c(id: &str, phone: &str, text: &str, secs_ago: i64) -> pb::Contact {
    let mut x = contact(id, text);
    x.caller = Some(pb::Caller {
        phone: phone.into(),
        ..Default::default()
    });
    x.location = Some(pb::Location {
        district_code: "510802".into(),
        address: String::new(),
    });
    x.received_at = ts(now_secs() - secs_ago);
    x
}

const ESCALATION: &str = "hotline_alerts_total{kind=\"ESCALATION\"} ";
const HOTSPOT: &str = "hotline_alerts_total{kind=\"HOTSPOT\"} ";

#[test]
fn repeats_clusters_hotspots_and_escalation_survive_a_restart() {
    let dir = temp_dir("dedup");
    let rt = rt();
    let d = Daemon::start_in(&dir, None);
    let me = "13812340000";
    let first = rt.block_on(d.submit(c(
        "d-0",
        me,
        "我要反映锦绣华庭3号楼电梯坏了一个多星期，物业一直不修",
        7200,
    )));
    let again = [
        "还是上次反映的锦绣华庭电梯的事，到现在还没修好",
        "錦繡華庭三號樓的電梯還是壞的，物業不管",
        "第四次打电话了，锦绣华庭电梯故障一直没人修",
    ];
    for (i, t) in again.iter().enumerate() {
        let x = rt.block_on(d.submit(c(&format!("d-{}", i + 1), me, t, 7000 - i as i64 * 100)));
        let l = x.dedup.clone().unwrap_or_default();
        assert_eq!(l.repeat_of, first.case_id, "{t}");
        assert_eq!(l.repeat_count, i as u32 + 1);
        assert_eq!(x.case_id, first.case_id);
    }
    let data = d.dir.join("data");
    let stored = |kind: pb::AlertKind| {
        stored_alerts(&data)
            .iter()
            .filter(|(k, _, _)| *k == kind as i32)
            .count()
    };
    // Stored with the decision that raised it: durable when the answer
    // comes, so a kill -9 right after it does not lose it.
    assert_eq!(stored(pb::AlertKind::Escalation), 1);
    assert_eq!(
        d.wait_metric(ESCALATION, 1.0),
        1.0,
        "escalated at the third repeat"
    );
    // The gauge is set once a second.
    d.wait_ticks("deadlines", 1.0);
    assert_eq!(
        d.metric("hotline_open_cases{tenant=\"510800\"} "),
        1.0,
        "repeats open no case of their own"
    );

    // Twelve neighbours on one outage within the hour: one cluster, one hotspot.
    let mut lead = String::new();
    for i in 0..12 {
        let x = rt.block_on(d.submit(c(
            &format!("o-{i}"),
            &format!("1390000{i:04}"),
            "东坝新区停水了，到现在还没来水",
            3000 - i * 60,
        )));
        let l = x.dedup.clone().unwrap_or_default();
        if i == 0 {
            lead = x.case_id.clone();
        } else {
            assert_eq!(l.cluster_lead_case, lead);
            assert_eq!(l.cluster_size, i as u32 + 1);
        }
    }
    assert_eq!(stored(pb::AlertKind::Hotspot), 1, "stored with the 12th");
    assert_eq!(d.wait_metric(HOTSPOT, 1.0), 1.0);
    // The ticket system can read the original decision by its case.
    let got = rt.block_on(async {
        d.client()
            .await
            .get_decision(pb::GetDecisionRequest {
                key: Some(pb::get_decision_request::Key::CaseId(first.case_id.clone())),
            })
            .await
            .expect("get")
            .into_inner()
    });
    assert_eq!(got.contact_id, "d-0");
    d.kill9();

    // Restarted: the index is rebuilt from the store.
    let d = Daemon::start_in(&dir, None);
    let x = rt.block_on(d.submit(c("d-9", me, "锦绣华庭电梯还坏着", 600)));
    let l = x.dedup.clone().unwrap_or_default();
    assert_eq!(
        (l.repeat_of.as_str(), l.repeat_count),
        (first.case_id.as_str(), 4)
    );
    let y = rt.block_on(d.submit(c("o-99", "13900009999", "东坝新区还是没水", 300)));
    assert_eq!(y.dedup.clone().unwrap_or_default().cluster_lead_case, lead);
    d.wait_ticks("deadlines", 2.0);
    assert_eq!(
        d.metric(ESCALATION),
        0.0,
        "not raised again after the restart"
    );
    assert_eq!(d.metric(HOTSPOT), 0.0, "not raised again after the restart");

    // The case is completed: the next contact on it reopens it.
    rt.block_on(async {
        let ev = pb::OrderEvent {
            case_id: first.case_id.clone(),
            r#type: pb::OrderEventType::Completed as i32,
            at: ts(now_secs() - 200),
            ..Default::default()
        };
        d.order_events(vec![ev]).await;
    });
    let z = rt.block_on(d.submit(c("d-10", me, "锦绣华庭电梯又坏了", 100)));
    let l = z.dedup.clone().unwrap_or_default();
    assert!(l.reopen, "{l:?}");
    assert_eq!(z.case_id, first.case_id);
    assert!(z.tags.iter().any(|t| t == "reopen"));

    // Restarted again: the completion is replayed before the reopening, so
    // the reopened case is still tracked and the next contact joins it.
    d.wait_ticks("deadlines", 2.0);
    let open = d.metric("hotline_open_cases{tenant=\"510800\"} ");
    assert!(open >= 1.0);
    d.kill9();
    let d = Daemon::start_in(&dir, None);
    assert_eq!(
        d.wait_metric("hotline_open_cases{tenant=\"510800\"} ", open),
        open
    );
    let w = rt.block_on(d.submit(c("d-11", me, "锦绣华庭电梯又坏了还没修", 50)));
    let l = w.dedup.clone().unwrap_or_default();
    assert!(!l.reopen, "open again, not to be reopened twice: {l:?}");
    assert_eq!(w.case_id, first.case_id);
}

/// A work order opened 45 days ago and never completed: after a restart,
/// the caller's next contacts still join it (the index restores the open
/// case's contacts from the store past the 30-day repeat window), and the
/// third repeat escalates it (Art. 27(1)).
#[test]
fn an_unresolved_case_older_than_the_repeat_window_takes_repeats_after_a_restart() {
    let dir = temp_dir("dedup-unresolved");
    let rt = rt();
    // Old contacts are admitted for this test (the default is 3 days).
    let cfg = "[pipeline]\nmax_age_days = 50\n";
    let d = Daemon::start_in(&dir, Some(cfg));
    let me = "13812345678";
    let day = 86_400;
    let first = rt.block_on(d.submit(c(
        "u-0",
        me,
        "翠云小区门口的下水道堵了，污水流到路上",
        45 * day,
    )));
    let second = rt.block_on(d.submit(c(
        "u-1",
        me,
        "翠云小区门口下水道还是堵着，上次反映过",
        44 * day,
    )));
    assert_eq!(second.case_id, first.case_id);
    d.kill9();

    let d = Daemon::start_in(&dir, Some(cfg));
    let third = rt.block_on(d.submit(c(
        "u-2",
        me,
        "翠云小区下水道堵塞的事一个多月了没人管",
        2 * day,
    )));
    let l = third.dedup.clone().unwrap_or_default();
    assert_eq!(
        (l.repeat_of.as_str(), l.repeat_count, third.case_id.as_str()),
        (first.case_id.as_str(), 2, first.case_id.as_str()),
        "43 days after the last contact, the open case still takes the repeat"
    );
    assert!(!third.tags.iter().any(|t| t == "escalation"));
    let fourth = rt.block_on(d.submit(c("u-3", me, "翠云小区门口的下水道还是堵的，污水横流", day)));
    assert_eq!(fourth.case_id, first.case_id);
    assert!(
        fourth.tags.iter().any(|t| t == "escalation"),
        "the third repeat of an unresolved case escalates: {:?}",
        fourth.tags
    );
}
