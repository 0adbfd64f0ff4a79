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
