//! The trained classifier of kind and category (Art. 12, 13(2)) on the
//! labeled corpus of `router/data/corpus/`: the held-out split, never
//! trained or tuned on, scored with floors; the texts the classifier issue
//! names; invariance to greetings, filler, punctuation and script; and the
//! shipped model reproduced from the training split.
mod common;

use common::{at, field, jsonl, phone_contact, router};
use hotline_router::classifier::TrainConfig;
use hotline_router::rules::EMBEDDED;
use hotline_router::{decide, Caller, Channel, Contact, Decision, Kind, RouteKind};
use proptest::prelude::*;

struct Labeled {
    text: String,
    kind: Kind,
    category: String,
}

fn corpus(name: &str) -> Vec<Labeled> {
    jsonl(&format!("data/corpus/{name}"))
        .iter()
        .map(|v| Labeled {
            text: field(v, "text"),
            kind: Kind::parse(&field(v, "kind")).unwrap_or_else(|| panic!("kind in {v}")),
            category: field(v, "category"),
        })
        .collect()
}

fn decide_text(text: &str) -> Decision {
    let c = phone_contact("cls", text, "510802");
    decide(router(), &c, at("2026-11-26 10:00")).unwrap_or_else(|r| panic!("{text}: {r}"))
}

/// Scores a held-out file: its size, kind and category accuracy, and the
/// coverage and category precision at the review threshold (0.5).
fn score(name: &str) -> (usize, f64, f64, f64, f64) {
    let held = corpus(name);
    let (mut kind_ok, mut cat_ok, mut covered, mut covered_ok) = (0, 0, 0, 0);
    for l in &held {
        let d = decide_text(&l.text);
        kind_ok += usize::from(d.kind == l.kind);
        let cok = *d.category == *l.category;
        cat_ok += usize::from(cok);
        let conf = d
            .confidence
            .as_ref()
            .map(|c| c.kind.min(c.category))
            .unwrap_or(0.0);
        if conf >= 0.5 {
            covered += 1;
            covered_ok += usize::from(cok);
        }
    }
    let n = held.len() as f64;
    let r = (
        held.len(),
        kind_ok as f64 / n,
        cat_ok as f64 / n,
        covered as f64 / n,
        covered_ok as f64 / covered.max(1) as f64,
    );
    println!(
        "{name} {}: kind {:.3}, category {:.3}; confidence ≥ 0.5: coverage {:.3}, category precision {:.3}",
        r.0, r.1, r.2, r.3, r.4
    );
    r
}

/// The held-out split (another author's, never trained or tuned on): kind
/// and category accuracy, and dispatch precision at the review threshold.
/// Floors just under the shipped model's measurement (kind 0.871,
/// category 0.920; at confidence ≥ 0.5, 85.7 % of contacts with category
/// precision 0.953).
#[test]
fn heldout_accuracy_has_floors() {
    floors("heldout.jsonl", 600, (0.87, 0.91, 0.85, 0.95));
}

/// A second held-out writer (`heldout_i.jsonl`: people calling for their
/// parents, villagers, migrant workers; never trained or tuned on), whose
/// voice is farther from the training writers': floors just under the
/// shipped model's measurement (kind 0.842, category 0.800; at confidence
/// ≥ 0.5, 73.7 % of contacts with category precision 0.893). The issue's
/// 95 % dispatch precision at the review threshold is not met here.
#[test]
fn a_second_heldout_writer_has_floors() {
    floors("heldout_i.jsonl", 400, (0.83, 0.79, 0.72, 0.88));
}

/// Holds a held-out file of at least `min` contacts to floors of kind and
/// category accuracy, and of coverage and category precision at 0.5.
fn floors(name: &str, min: usize, (kind, category, coverage, precision): (f64, f64, f64, f64)) {
    let (n, ka, ca, cov, prec) = score(name);
    assert!(n >= min, "{name}: {n} contacts");
    assert!(ka >= kind, "{name}: kind accuracy {ka:.3} < {kind}");
    assert!(
        ca >= category,
        "{name}: category accuracy {ca:.3} < {category}"
    );
    assert!(
        cov >= coverage,
        "{name}: coverage {cov:.3} < {coverage} at 0.5"
    );
    assert!(
        prec >= precision,
        "{name}: dispatch precision {prec:.3} < {precision} at 0.5"
    );
}

/// The texts the classifier issue names, as a dispatcher would decide them.
#[test]
fn the_issue_texts_classify_as_a_dispatcher_would() {
    for (text, kind) in [
        ("公租房的申请条件是什么", Kind::Consultation),
        ("灵活就业人员怎么参加职工养老保险", Kind::Consultation),
        ("出租车司机拒载还绕路多收钱", Kind::Complaint),
        ("学校强制学生购买指定的教辅资料", Kind::Complaint),
        ("物业乱收停车费", Kind::Complaint),
    ] {
        assert_eq!(decide_text(text).kind, kind, "{text}");
    }
    let d = decide_text("马路中间的隔离栏被撞坏了");
    assert_ne!(d.kind, Kind::Epidemic);
    assert_ne!(&*d.category, "health.epidemic");
    assert_ne!(d.route, RouteKind::EmergencyTransfer, "{:?}", d.rule_ids);
    let d = decide_text("身份证过期了怎么办");
    assert_eq!(&*d.category, "public.security_admin");
    for (text, category) in [
        ("驾校收费后不安排练车也不退钱", "transport"),
        ("楼下的垃圾好几天没人清运", "urban.management"),
        ("出租车司机拒载还绕路多收钱", "transport"),
        ("灵活就业人员怎么参加职工养老保险", "labor.social_insurance"),
    ] {
        assert_eq!(&*decide_text(text).category, category, "{text}");
    }
    let d = decide_text("个人所得税汇算清缴怎么操作");
    assert_eq!(d.route, RouteKind::SubcenterTransfer);
    assert_eq!(d.kind, Kind::Consultation);
}

/// Every decision carries the classifier's confidence and three
/// alternatives; one it is not sure of goes to the center's dispatchers
/// with the reason, and rule ids name the model and its evidence.
#[test]
fn confidence_alternatives_and_review() {
    let d = decide_text("物业乱收停车费");
    let c = d.confidence.as_ref().expect("confidence");
    assert_eq!(c.kinds.len(), 3);
    assert_eq!(c.categories.len(), 3);
    assert_eq!(c.kinds[0].0, d.kind);
    assert_eq!(*c.categories[0].0, *d.category);
    assert!(c.kinds.windows(2).all(|w| w[0].1 >= w[1].1));
    assert!(d.rule_ids.iter().any(|r| &**r == "classify.model"));
    assert!(d.review.is_none());
    // Which subsidy, nobody can tell: no category is likely enough.
    let d = decide_text("那个补贴咋个还没发");
    let reason = d.review.as_deref().expect("review");
    assert!(reason.contains("category"), "{reason}");
    assert_eq!(d.targets.first().map(|t| &*t.code), Some("510800.rx"));
    assert!(d.tags.contains(&"review"));
    // An agent's hints win and are not reviewed.
    let mut c = Contact {
        contact_id: "h".into(),
        channel: Some(Channel::Phone),
        received_at: Some(at("2026-11-26 10:00")),
        caller: Caller {
            phone: "13800138000".into(),
            ..Default::default()
        },
        content: "公租房的申请条件是什么".into(),
        ..Default::default()
    };
    c.kind_hint = Some(Kind::Consultation);
    c.category_hint = "housing.realestate".into();
    let d = decide(router(), &c, at("2026-11-26 10:00")).expect("decide");
    assert_eq!(&*d.category, "housing.realestate");
    assert!(d.review.is_none());
}

/// A decision of the model names, after `classify.model`, the keyword
/// rules whose cues weighed for the kind and category it chose — at most
/// three, strongest first — and no rule that weighed against them (found
/// by cargo-mutants: the evidence was never looked at).
#[test]
fn the_models_decision_names_the_cues_that_weighed_for_it() {
    let evidence = |d: &Decision| -> Vec<String> {
        d.rule_ids
            .iter()
            .skip_while(|r| &***r != "classify.model")
            .skip(1)
            .take_while(|r| r.starts_with("kind.") || r.starts_with("category."))
            .map(|r| r.to_string())
            .collect()
    };
    let d = decide_text("我要投诉小区物业乱收停车费，一个月收三百");
    assert!(d.rule_ids.iter().any(|r| &**r == "classify.model"));
    let e = evidence(&d);
    assert!(
        e.iter().any(|r| r.starts_with("kind.complaint")),
        "{e:?} in {:?}",
        d.rule_ids
    );
    assert!(e.contains(&format!("category.{}", d.category)), "{e:?}");
    assert!(e.len() <= 3, "{e:?}");
    // A question about a complaint: the consultation cue weighs against a
    // complaint and for a consultation, whichever the model chose.
    let d = decide_text("请问怎么投诉物业乱收费");
    let e = evidence(&d);
    let kind = format!("kind.{}", d.kind.as_str());
    assert!(
        e.iter()
            .filter(|r| r.starts_with("kind."))
            .all(|r| *r == kind || r.starts_with(&format!("{kind}."))),
        "{:?} chose {kind}: {e:?}",
        d.rule_ids
    );
}

/// The model in `router/data/model/` is the one the training split gives:
/// a changed corpus or feature set without retraining fails here.
#[test]
fn shipped_model_is_trained_from_the_corpus() {
    // As `hotlined train --corpus router/data/corpus` reads it: every
    // `*.jsonl` but the held-out ones, in name order.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl") && !n.starts_with("heldout"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let train: Vec<Labeled> = files.iter().flat_map(|f| corpus(f)).collect();
    let labeled: Vec<(&str, Kind, &str)> = train
        .iter()
        .map(|l| (l.text.as_str(), l.kind, l.category.as_str()))
        .collect();
    let model = router().train_model(&labeled, &TrainConfig::default());
    assert!(
        model.to_bytes() == EMBEDDED.model,
        "router/data/model/classifier.bin is stale: run hotlined train --corpus router/data/corpus --out router/data/model/classifier.bin"
    );
}

fn heldout_texts() -> &'static [String] {
    static T: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        corpus("heldout.jsonl")
            .into_iter()
            .map(|l| l.text)
            .collect()
    })
}

const GREETINGS: &[&str] = &["你好，", "喂 ", "您好！", "嗯 那个 ", "喂喂，你好 "];
const TAILS: &[&str] = &["", "。", "！！", "，谢谢", " 谢谢你们", "…", "~"];

proptest! {
    /// Greetings, filler and punctuation around a text, and writing it in
    /// traditional characters, do not change its kind or category.
    #[test]
    fn greetings_filler_punctuation_and_script_do_not_change_the_answer(
        i in any::<prop::sample::Index>(),
        greet in prop::sample::select(GREETINGS),
        tail in prop::sample::select(TAILS),
    ) {
        let texts = heldout_texts();
        let text = &texts[i.index(texts.len())];
        let plain = decide_text(text);
        let wrapped = decide_text(&format!("{greet}{text}{tail}"));
        prop_assert_eq!(plain.kind, wrapped.kind, "{}", text);
        prop_assert_eq!(&plain.category, &wrapped.category, "{}", text);
    }
}

#[test]
fn traditional_characters_do_not_change_the_answer() {
    for (s, t) in [
        ("物业乱收停车费", "物業亂收停車費"),
        ("出租车司机拒载还绕路多收钱", "出租車司機拒載還繞路多收錢"),
        ("楼下的垃圾好几天没人清运", "樓下的垃圾好幾天沒人清運"),
    ] {
        let (a, b) = (decide_text(s), decide_text(t));
        assert_eq!((a.kind, &a.category), (b.kind, &b.category), "{s} / {t}");
    }
}

/// A re-dispatch names a unit; the category it means is the first of the
/// decision's alternatives that unit handles, else the unit's only one.
#[test]
fn category_of_a_redispatch_to_a_unit() {
    let r = common::router();
    // 住建局 handles several categories: the alternatives decide.
    assert_eq!(
        r.category_for_unit("510802.zjj", ["transport", "housing.realestate"])
            .as_deref(),
        Some("housing.realestate")
    );
    assert_eq!(
        r.category_for_unit("510800.zjj", ["transport"]).as_deref(),
        None
    );
    // 交通运输局 handles one: no alternative needed.
    assert_eq!(
        r.category_for_unit("510823.jtj", std::iter::empty())
            .as_deref(),
        Some("transport")
    );
    assert_eq!(r.category_for_unit("no.such", ["transport"]), None);
}

/// When the model is unsure of the kind (its top below the review
/// threshold), a question's cue words make the contact a consultation, with
/// the model's own probability for consultation as the confidence; without
/// such a cue the model's top kind stands (found by cargo-mutants: no test
/// had the model unsure and the cue disagreeing with it).
#[test]
fn an_unsure_model_yields_to_a_questions_cue_words() {
    use hotline_router::{Calendar, Router, RouterOptions};
    let text = "问一下，小区垃圾没人清运，能不能处理";
    let sure = decide_text(text);
    let top = sure.confidence.as_ref().expect("confidence").kinds[0];
    assert_ne!(
        top.0,
        Kind::Consultation,
        "the model's own reading: {top:?}"
    );
    assert_eq!(sure.kind, top.0, "a sure model decides");
    // The same rules with a threshold no probability reaches: always unsure.
    let unsure = Router::build(
        EMBEDDED,
        Calendar::embedded().expect("calendar"),
        RouterOptions {
            review_threshold: 1.01,
            ..RouterOptions::default()
        },
    )
    .expect("rules");
    let d = decide(
        &unsure,
        &phone_contact("u", text, "510802"),
        at("2026-11-26 10:00"),
    )
    .expect("decided");
    assert_eq!(d.kind, Kind::Consultation, "{:?}", d.rule_ids);
    assert!(
        d.rule_ids
            .iter()
            .any(|r| &**r == "kind.consultation.question"),
        "{:?}",
        d.rule_ids
    );
    let c = d.confidence.as_ref().expect("confidence");
    let want = c
        .kinds
        .iter()
        .find(|k| k.0 == Kind::Consultation)
        .map_or(0.0, |k| k.1);
    assert_eq!(c.kind, want, "{:?}", c.kinds);
    // No question cue: the model's top kind, unsure as it is.
    let plain = "小区垃圾没人清运，麻烦处理";
    let d = decide(
        &unsure,
        &phone_contact("p", plain, "510802"),
        at("2026-11-26 10:00"),
    )
    .expect("decided");
    let top = d.confidence.as_ref().expect("confidence").kinds[0];
    assert_eq!(
        (d.kind, d.confidence.as_ref().map(|c| c.kind)),
        (top.0, Some(top.1))
    );
    // The review names the head that is unsure: with the kind given by an
    // agent, only the category (found by cargo-mutants: `<` → `==`).
    let mut hinted = phone_contact("h", plain, "510802");
    hinted.kind_hint = Some(Kind::Complaint);
    let d = decide(&unsure, &hinted, at("2026-11-26 10:00")).expect("decided");
    let reason = d.review.as_deref().expect("the category is unsure");
    assert!(reason.starts_with("category "), "{reason}");
    assert!(!reason.contains("kind "), "{reason}");
    // A probability exactly at the threshold is sure enough: no review.
    let at_threshold = |p: f32| {
        Router::build(
            EMBEDDED,
            Calendar::embedded().expect("calendar"),
            RouterOptions {
                review_threshold: p,
                ..RouterOptions::default()
            },
        )
        .expect("rules")
    };
    let p = d.confidence.as_ref().expect("confidence").category;
    let d = decide(&at_threshold(p), &hinted, at("2026-11-26 10:00")).expect("decided");
    assert_eq!(d.review, None, "category at {p}");
    let mut hinted = phone_contact("k", plain, "510802");
    hinted.category_hint = "urban.management".into();
    let p = decide(&unsure, &hinted, at("2026-11-26 10:00"))
        .expect("decided")
        .confidence
        .expect("confidence")
        .kind;
    let d = decide(&at_threshold(p), &hinted, at("2026-11-26 10:00")).expect("decided");
    assert_eq!(d.review, None, "kind at {p}");
}
