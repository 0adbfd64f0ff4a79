//! Routing edges a whole-set score does not pin (found by cargo-mutants):
//! of several knowledge-base answers the one with the most keyword hits
//! wins (file order on a tie), and `route.multi_unit` is named only when a
//! work order has more than one unit.
mod common;
use common::{at, phone_contact, router};
use hotline_router::{decide, RouteKind};

fn decided(text: &str) -> hotline_router::Decision {
    let c = phone_contact("route-edge", text, "510802");
    decide(router(), &c, at("2026-11-26 10:00")).unwrap_or_else(|r| panic!("{text}: {r}"))
}

/// The direct answer to a consultation (the agent's kind hint: this is
/// about which answer, not about the classifier).
fn kb_answer(text: &str) -> Option<String> {
    let mut c = phone_contact("route-kb", text, "510802");
    c.kind_hint = Some(hotline_router::Kind::Consultation);
    let d = decide(router(), &c, at("2026-11-26 10:00")).unwrap_or_else(|r| panic!("{text}: {r}"));
    assert_eq!(d.route, RouteKind::DirectAnswer, "{text}: {d:?}");
    // The answer's id follows the route's (the classifier's evidence may
    // name knowledge-base rules before it).
    d.rule_ids
        .iter()
        .skip_while(|r| &***r != "route.direct_answer")
        .nth(1)
        .map(|r| r.to_string())
}

#[test]
fn the_answer_with_most_keyword_hits_wins() {
    // 身份证 twice against 社保卡 once, and the other way round.
    assert_eq!(
        kb_answer("社保卡和身份证都丢了，身份证怎么补办").as_deref(),
        Some("kb.idcard.reissue")
    );
    assert_eq!(
        kb_answer("身份证丢了，社保卡也丢了，社保卡怎么补办").as_deref(),
        Some("kb.social_card")
    );
    // A tie: the earlier entry of kb.toml.
    assert_eq!(
        kb_answer("身份证和社保卡都丢了怎么补办").as_deref(),
        Some("kb.idcard.reissue")
    );
}

#[test]
fn multi_unit_is_named_only_for_several_units() {
    let one = decided("我要投诉小区门口的路灯坏了好几天了");
    assert_eq!(one.route, RouteKind::WorkOrder);
    let multi =
        |d: &hotline_router::Decision| d.rule_ids.iter().any(|r| &**r == "route.multi_unit");
    assert_eq!(
        multi(&one),
        one.targets.len() > 1,
        "{:?} {:?}",
        one.targets,
        one.rule_ids
    );
    assert!(one.co_units.is_empty() && !multi(&one), "{one:?}");
    let several = decided("小区物业把楼道和绿化带占了摆摊，物业费照收，城管也不管乱摆摊占道经营");
    assert!(several.targets.len() > 1, "{:?}", several.targets);
    assert!(multi(&several), "{:?}", several.rule_ids);
}

/// A work order's guidance names the unit and the time limit as the
/// caller is told them; one a dispatcher reviews says so instead.
#[test]
fn a_work_orders_guidance_names_its_unit_and_time_limit() {
    let mut seen_review = false;
    let mut seen_sure = false;
    // The held-out contacts: both kinds of work order occur among them.
    for v in common::jsonl("data/corpus/heldout.jsonl") {
        let text = &common::field(&v, "text");
        let d = decided(text);
        // A possible danger appends its line's advice (not this test's).
        if d.route != RouteKind::WorkOrder || d.safety != hotline_router::SafetyLevel::None {
            continue;
        }
        let unit = d
            .targets
            .first()
            .map(|t| t.name.to_string())
            .unwrap_or_default();
        let (before, after) = if d.review.is_some() {
            seen_review = true;
            ("已形成工单，由", "派单员确定承办单位后转办")
        } else {
            seen_sure = true;
            ("已形成工单转", "办理")
        };
        let limit = d.deadlines.complete_by.map_or(String::new(), |t| {
            let local = t.with_timezone(
                &chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| panic!("UTC+8")),
            );
            format!("，办理时限至{}", local.format("%Y-%m-%d %H:%M"))
        });
        assert_eq!(
            d.guidance,
            format!("{before}{unit}{after}{limit}。"),
            "{text}"
        );
        if seen_sure && seen_review {
            break;
        }
    }
    assert!(
        seen_sure && seen_review,
        "sure {seen_sure}, review {seen_review}"
    );
}
