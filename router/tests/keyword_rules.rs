//! A router built from rules without a trained model (`RuleSources::model`
//! empty): the keyword rules classify alone, and the intake limits of
//! `RouterOptions` hold. Found by cargo-mutants: every other test uses the
//! shipped model, so the keyword path and the age limit were never met.
mod common;
use common::*;
use hotline_router::{
    rules::EMBEDDED, Calendar, Origin, Reject, Router, RouterOptions, RuleSources,
};

fn keyword_router(options: RouterOptions) -> Router {
    let calendar = Calendar::embedded().expect("the embedded calendar");
    Router::build(
        RuleSources {
            model: &[],
            ..EMBEDDED
        },
        calendar,
        options,
    )
    .expect("the embedded rules without a model")
}

/// Without a model the kind and the category come from the rules' cue
/// words, with no confidence attached (so no dispatcher review is asked for).
#[test]
fn without_a_model_the_keyword_rules_classify() {
    let r = keyword_router(RouterOptions::default());
    for (text, category) in [
        ("楼上装修噪音大，电钻响到晚上十点", "env.noise"),
        ("投诉工厂排污水到河里", "env.pollution"),
        ("宏达建筑公司拖欠工资三个月了", "labor.wages"),
    ] {
        let d = hotline_router::decide(
            &r,
            &phone_contact("k", text, "510802"),
            at("2026-11-26 10:00"),
        )
        .expect("decided");
        assert_eq!(&*d.category, category, "{text}");
        assert_eq!(
            d.kind,
            hotline_router::Kind::Complaint,
            "{text}: the cue words"
        );
        assert!(d.confidence.is_none() && d.review.is_none(), "{text}");
    }
}

/// A contact received longer ago than the configured age is refused; one
/// exactly that old is taken; a platform's contact has its own, longer
/// limit.
#[test]
fn contacts_older_than_the_age_limit_are_refused_at_the_limit_taken() {
    let day = chrono::Duration::days(1);
    let r = keyword_router(RouterOptions {
        max_age: Some((day * 3, day * 10)),
        ..RouterOptions::default()
    });
    let now = at("2026-11-26 10:00");
    let aged = |age: chrono::Duration, origin: Origin| {
        let mut c = phone_contact("a", "楼上装修噪音大，电钻响到晚上十点", "510802");
        c.received_at = Some(now - age);
        c.origin = origin;
        hotline_router::decide(&r, &c, now)
    };
    assert!(aged(day * 3, Origin::Local).is_ok(), "exactly the limit");
    assert!(matches!(
        aged(day * 3 + chrono::Duration::seconds(1), Origin::Local),
        Err(Reject::ReceivedTooOld { limit_days: 3, .. })
    ));
    assert!(
        aged(day * 5, Origin::Provincial).is_ok(),
        "the platform's limit"
    );
}

/// The kind the cue words vote for: each rule's weight times its hits, the
/// more serious kind on a tie, the default when no kind rule matched (found
/// by cargo-mutants: the weighting, the tie-break and the empty vote were
/// never looked at).
#[test]
fn the_cue_words_vote_by_weight_times_hits_and_ties_go_to_the_more_serious_kind() {
    use hotline_router::Kind;
    let r = keyword_router(RouterOptions::default());
    let kind = |text: &str| {
        let d = hotline_router::decide(
            &r,
            &phone_contact("v", text, "510802"),
            at("2026-11-26 10:00"),
        )
        .expect("decided");
        (
            d.kind,
            d.rule_ids.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        )
    };
    // help 2 (帮忙) against suggestion 2 (建议): a tie, help is more serious.
    let (k, ids) = kind("建议你们帮忙看一下");
    assert_eq!(k, Kind::Help, "{ids:?}");
    // help 2 × 2 hits (求助, 帮忙) = 4 against complaint 3 × 1 (投诉) = 3.
    let (k, ids) = kind("求助，想投诉一下，请帮忙");
    assert_eq!(k, Kind::Help, "{ids:?}");
    // No kind rule matched: the default kind, said so.
    let (k, ids) = kind("小区东门外的那棵树");
    assert_eq!(k, Kind::Help, "{ids:?}");
    assert!(ids.iter().any(|i| i == "kind.default"), "{ids:?}");
}

/// Other categories' units co-handle (牵办) when their cue words matched at
/// least twice and their unit is not the lead's: one category per unit, at
/// most three, strongest first (found by cargo-mutants: no test had more
/// than one candidate, so none of these conditions was looked at).
#[test]
fn co_units_come_from_other_units_categories_matched_twice_at_most_three() {
    // The shipped categories and seven more, each a made-up cue word, so
    // the hit counts are the test's: (code, unit, cue).
    let extra = [
        ("t.lead", "zjj", "甲"),
        ("t.market", "scjg", "乙"),
        ("t.market2", "scjg", "丙"),
        ("t.lead2", "zjj", "丁"),
        ("t.env", "sthj", "戊"),
        ("t.labor", "rsj", "己"),
        ("t.transport", "jtj", "庚"),
        ("t.edu", "jyj", "辛"),
    ];
    let categories = extra
        .iter()
        .fold(EMBEDDED.categories.to_string(), |mut s, (code, unit, cue)| {
            s.push_str(&format!(
                "\n[[category]]\ncode = \"{code}\"\nname = \"{code}\"\nunit = \"{unit}\"\nkeywords = [\"{cue}\"]\n"
            ));
            s
        });
    let calendar = Calendar::embedded().expect("the embedded calendar");
    let r = Router::build(
        RuleSources {
            categories: &categories,
            model: &[],
            ..EMBEDDED
        },
        calendar,
        RouterOptions::default(),
    )
    .expect("the test's categories");
    let decide = |text: &str| {
        hotline_router::decide(&r, &phone_contact("co", text, ""), at("2026-11-26 10:00"))
            .expect("decided")
    };
    let units = |d: &hotline_router::Decision| -> Vec<String> {
        d.co_units.iter().map(|u| u.to_string()).collect()
    };
    // Lead 6; 乙 5 and 丙 4 share a unit (the stronger counts); 丁 4 is the
    // lead's unit; 戊 3 and 己 2 count; 庚 2 is a fourth (over the bound).
    let d = decide("甲，甲，甲，甲，甲，甲。乙，乙，乙，乙，乙。丙，丙，丙，丙。丁，丁，丁，丁。戊，戊，戊。己，己。庚，庚。");
    assert_eq!(&*d.category, "t.lead");
    assert_eq!(
        units(&d),
        ["510800.scjg", "510800.sthj", "510800.rsj"],
        "{:?}",
        d.rule_ids
    );
    // One hit is not enough; exactly two is.
    let d = decide("甲，甲，甲。辛。");
    assert!(d.co_units.is_empty(), "{:?}", units(&d));
    let d = decide("甲，甲，甲。辛，辛。");
    assert_eq!(units(&d), ["510800.jyj"]);
    // The lead's own unit never co-handles, however often matched.
    let d = decide("甲，甲，甲。丁，丁。");
    assert!(d.co_units.is_empty(), "{:?}", units(&d));
}
