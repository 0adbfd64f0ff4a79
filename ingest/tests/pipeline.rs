//! The per-contact transform in-process: contacts decided together (one
//! lock of the dedup index, as a stream's chunk is) against one at a time.
mod support;
use hotline_ingest::admit::pipeline::{Decided, Pipeline, Refusal};
use hotline_ingest::state::dedup::DedupStage;
use hotline_ingest::state::orders::Orders;
use hotline_proto::v1 as pb;
use hotline_router::dedup::text::EMBEDDED_MATTERS;
use hotline_router::dedup::{Dedup, DedupConfig, DedupRules};
use hotline_router::tracker::TrackerConfig;
use hotline_router::Router;
use prost::Message;
use std::sync::{Arc, Mutex};

fn pipeline() -> Result<Pipeline, Box<dyn std::error::Error>> {
    let router = Arc::new(Router::embedded().map_err(|e| format!("{e:?}"))?);
    let rules = Arc::new(DedupRules::new(DedupConfig::default(), EMBEDDED_MATTERS)?);
    let index = Arc::new(Mutex::new(Dedup::new(rules.clone(), &router)));
    let orders = Orders::new(&router, TrackerConfig::default(), Some(index.clone()));
    Ok(Pipeline::new(
        router,
        Some(DedupStage {
            rules,
            index,
            orders,
        }),
    ))
}

/// `support::contact` from caller `phone` at `at` (unix seconds).
fn contact(id: &str, phone: &str, text: &str, at: i64) -> pb::Contact {
    let mut c = support::contact(id, text);
    c.received_at = support::ts(at);
    if let Some(caller) = c.caller.as_mut() {
        caller.phone = phone.into();
    }
    c
}

/// Contacts decided together get exactly the decisions, rows and
/// refusals they get one at a time — repeats of a caller and a cluster
/// of callers inside the same call included, matched in order.
#[test]
fn deciding_together_is_deciding_one_at_a_time() -> Result<(), Box<dyn std::error::Error>> {
    let at = 1_795_700_000;
    let cs = vec![
        contact("p-1", "13800138001", "幸福小区停水了，一直没来水", at),
        contact("p-2", "13800138002", "幸福小区停水，家里没水", at + 60),
        contact(
            "p-3",
            "13800138001",
            "幸福小区还是停水，上次反映过",
            at + 120,
        ),
        contact("p-4", "", "路灯坏了", at + 130),
        contact("p-5", "13800138003", "幸福小区停水好几个小时了", at + 180),
        contact("p-1", "13800138001", "幸福小区停水了，一直没来水", at),
        contact("p-6", "13800138004", "请问公积金怎么提取", at + 200),
    ];
    let now = chrono::DateTime::from_timestamp(at + 300, 0).ok_or("time")?;
    let together = pipeline()?.decide_many(&cs, now);
    let single = pipeline()?;
    let apart: Vec<_> = cs.iter().map(|c| single.decide_one(c, now)).collect();
    assert_eq!(together.len(), cs.len());
    // The stored row: the decision it encodes, its dedup record, its keys.
    let view = |r: &Result<Decided, Refusal>| match r {
        Ok(d) => Ok((
            pb::Decision::decode(d.row.body.as_slice()).ok(),
            d.row.matter.clone(),
            (d.row.contact_id.clone(), d.row.case_id.clone()),
        )),
        Err(e) => Err(e.clone()),
    };
    for (i, (a, b)) in together.iter().zip(&apart).enumerate() {
        assert_eq!(view(a), view(b), "contact {i}");
    }
    // The calls had something to match: a refusal, a repeat, a cluster.
    assert!(together[3].is_err(), "a phone contact without a number");
    let links = |i: usize| {
        together[i]
            .as_ref()
            .ok()
            .and_then(|d| d.decision.dedup.clone())
            .unwrap_or_default()
    };
    assert!(!links(2).repeat_of.is_empty(), "p-3 repeats p-1");
    assert!(
        !links(4).cluster_id.is_empty(),
        "p-5 joins the outage of p-1 and p-2"
    );
    Ok(())
}

/// A platform's order over the wire (Art. 13(2)): its own due time
/// (`platform_due_at`) wins when earlier than the computed limit, and a
/// provincial consultation keeps its hour instead of falling before intake.
#[test]
fn a_platform_order_keeps_its_due_time() -> Result<(), Box<dyn std::error::Error>> {
    let p = pipeline()?;
    let at = 1_795_700_000; // 2026-11-26 (Thu) 20:13 Asia/Shanghai
    let now = chrono::DateTime::from_timestamp(at + 5, 0).ok_or("time")?;
    let due_of = |c: &pb::Contact| -> Result<i64, Box<dyn std::error::Error>> {
        let d = p.decide_one(c, now).map_err(|r| format!("{r:?}"))?;
        let dl = d.decision.deadlines.ok_or("no deadlines")?;
        Ok(dl.complete_by.ok_or("no complete_by")?.seconds)
    };
    let mut c = contact("pl-1", "13800138011", "投诉小区物业乱收停车费", at);
    c.origin = pb::Origin::Provincial as i32;
    c.kind_hint = pb::Kind::Complaint as i32;
    let computed = due_of(&c)?;
    // Other callers: the same caller's same matter would be a repeat.
    c.contact_id = "pl-2".into();
    if let Some(k) = c.caller.as_mut() {
        k.phone = "13800138012".into();
    }
    c.platform_due_at = support::ts(at + 86_400);
    assert_eq!(due_of(&c)?, at + 86_400, "the platform's earlier due time");
    assert!(computed > at + 86_400);
    c.contact_id = "pl-3".into();
    if let Some(k) = c.caller.as_mut() {
        k.phone = "13800138013".into();
    }
    c.content = "请问公租房的申请条件是什么".into();
    c.kind_hint = pb::Kind::Consultation as i32;
    c.platform_due_at = None;
    assert_eq!(due_of(&c)?, at + 3_600, "a consultation keeps its hour");
    Ok(())
}
