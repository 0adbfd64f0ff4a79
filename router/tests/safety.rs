//! Life safety (Art. 10(3), 15) on texts written for it by authors who never
//! saw the rules: `data/safety/tuning.jsonl`, `tuning2.jsonl` and
//! `tuning3.jsonl` (the rules were tuned on them; `tuning2` and `tuning3`
//! were the held-out sets of the first and second rounds, each tuned on in
//! the round after it was measured) and `data/safety/holdout.jsonl` (never
//! tuned on; scored with a floor).
//! Each line: `{"id", "channel", "text", "expect", "lines", "note"}`, with
//! `expect` one of EMERGENCY (with the acceptable `lines`, best first), NONE,
//! GAS_LINE (a gas smell with no one ill: the gas company's line), REFUSE
//! (Art. 10) and CONSULT_PROCEDURE (how to start a procedure: answered).
//!
//! Run with `--nocapture` to see the report.
mod common;

use chrono::Duration;
use common::{at, field, jsonl, router};
use hotline_router::{
    decide, Caller, Channel, Contact, Decision, Location, RouteKind, SafetyLevel,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Case {
    id: String,
    channel: Channel,
    text: String,
    expect: String,
    lines: Vec<String>,
}

fn load(name: &str) -> Vec<Case> {
    jsonl(&format!("tests/data/safety/{name}"))
        .iter()
        .map(|v| {
            let s = |k: &str| field(v, k);
            Case {
                id: s("id"),
                channel: Channel::parse(&s("channel")).unwrap_or(Channel::Phone),
                text: s("text"),
                expect: s("expect"),
                lines: v["lines"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn contact(id: &str, channel: Channel, text: &str) -> Contact {
    let caller = match channel {
        Channel::Wechat => Caller {
            wechat_openid: "oSAFETY0001".into(),
            ..Default::default()
        },
        Channel::Web | Channel::App => Caller {
            account_id: "acct-safety".into(),
            ..Default::default()
        },
        _ => Caller {
            phone: "13800138000".into(),
            ..Default::default()
        },
    };
    Contact {
        contact_id: id.into(),
        channel: Some(channel),
        received_at: Some(at("2026-11-26 10:00")),
        caller,
        content: text.into(),
        location: Location {
            district_code: "510802".into(),
            address: String::new(),
        },
        ..Default::default()
    }
}

fn decide_text(id: &str, channel: Channel, text: &str) -> Decision {
    let c = contact(id, channel, text);
    decide(router(), &c, at("2026-11-26 10:00")).unwrap_or_else(|r| panic!("{id}: {text}: {r}"))
}

fn lines_of(d: &Decision) -> Vec<&str> {
    d.targets.iter().map(|t| &*t.code).collect()
}

const GAS_LINE: &str = "0839-3312345";

/// What one set scored.
#[derive(Debug, Default)]
struct Score {
    emergencies: usize,
    /// EMERGENCY_TRANSFER with an acceptable line among the targets.
    caught: usize,
    /// ... and the first target is an acceptable line.
    first_line_right: usize,
    /// Flagged as possible: in front of an agent, not transferred.
    possible: usize,
    missed: Vec<String>,
    wrong_line: Vec<String>,
    safe: usize,
    false_emergency: Vec<String>,
    false_possible: Vec<String>,
    gas: usize,
    gas_right: usize,
    gas_wrong: Vec<String>,
    refuse: usize,
    refused: usize,
    not_refused: Vec<String>,
    consult: usize,
    consult_answered: usize,
    wrongly_refused: Vec<String>,
    /// Text contacts transferred as emergencies that carry the relay clock.
    text_emergencies: usize,
    relayed: usize,
}

fn score(cases: &[Case]) -> Score {
    let mut s = Score::default();
    for c in cases {
        let d = decide_text(&c.id, c.channel, &c.text);
        let lines = lines_of(&d);
        let emergency = d.route == RouteKind::EmergencyTransfer;
        assert_eq!(emergency, d.safety == SafetyLevel::Emergency, "{}", c.id);
        if emergency && c.channel != Channel::Phone {
            s.text_emergencies += 1;
            if d.relay
                && d.deadlines.relay_by == Some(at("2026-11-26 10:00") + Duration::minutes(3))
            {
                s.relayed += 1;
            }
        }
        let tag = format!("{} {}", c.id, c.text);
        match c.expect.as_str() {
            "EMERGENCY" => {
                s.emergencies += 1;
                if emergency && lines.iter().any(|l| c.lines.iter().any(|x| x == l)) {
                    s.caught += 1;
                    if lines
                        .first()
                        .is_some_and(|l| c.lines.iter().any(|x| x == l))
                    {
                        s.first_line_right += 1;
                    }
                } else if emergency {
                    s.wrong_line
                        .push(format!("{tag} → {lines:?}, want {:?}", c.lines));
                } else if d.safety == SafetyLevel::Possible {
                    s.possible += 1;
                    s.missed
                        .push(format!("{tag} → POSSIBLE {:?}", d.safety_rule));
                } else {
                    s.missed.push(format!("{tag} → {:?}", d.route));
                }
            }
            "NONE" => {
                s.safe += 1;
                match d.safety {
                    SafetyLevel::Emergency => s.false_emergency.push(format!("{tag} → {lines:?}")),
                    SafetyLevel::Possible => s
                        .false_possible
                        .push(format!("{tag} → {:?}", d.safety_rule)),
                    SafetyLevel::None => {}
                }
            }
            "GAS_LINE" => {
                s.gas += 1;
                if d.route == RouteKind::UtilityLinkage && lines.contains(&GAS_LINE) {
                    s.gas_right += 1;
                } else {
                    s.gas_wrong.push(format!("{tag} → {:?} {lines:?}", d.route));
                }
            }
            "REFUSE" => {
                s.refuse += 1;
                if d.route == RouteKind::NotAccepted {
                    s.refused += 1;
                } else {
                    s.not_refused.push(format!("{tag} → {:?}", d.route));
                }
            }
            "CONSULT_PROCEDURE" => {
                s.consult += 1;
                if d.route == RouteKind::NotAccepted {
                    s.wrongly_refused.push(tag);
                } else {
                    s.consult_answered += 1;
                }
            }
            other => panic!("{}: unknown expect {other}", c.id),
        }
    }
    s
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// Prints the report; texts of misses only where `show_texts`.
fn report(name: &str, s: &Score, show_texts: bool) {
    let flagged = s.caught + s.wrong_line.len() + s.possible;
    println!("== {name}");
    println!(
        "emergencies {}: transferred to a right line {} ({:.1} %), first line right {}, wrong line {}, \
         possible only {}, flagged at all {} ({:.1} %), missed {}",
        s.emergencies,
        s.caught,
        pct(s.caught, s.emergencies),
        s.first_line_right,
        s.wrong_line.len(),
        s.possible,
        flagged,
        pct(flagged, s.emergencies),
        s.missed.len() - s.possible
    );
    println!(
        "not emergencies {}: false emergency {} ({:.1} %), false possible {} ({:.1} %)",
        s.safe,
        s.false_emergency.len(),
        pct(s.false_emergency.len(), s.safe),
        s.false_possible.len(),
        pct(s.false_possible.len(), s.safe)
    );
    println!(
        "gas without symptoms {}: gas line {}; refusals {}: refused {}; how-to {}: answered {}; \
         text emergencies {}: relay clock {}",
        s.gas,
        s.gas_right,
        s.refuse,
        s.refused,
        s.consult,
        s.consult_answered,
        s.text_emergencies,
        s.relayed
    );
    for (what, list) in [
        ("missed", &s.missed),
        ("wrong line", &s.wrong_line),
        ("false emergency", &s.false_emergency),
        ("false possible", &s.false_possible),
        ("gas", &s.gas_wrong),
        ("not refused", &s.not_refused),
        ("wrongly refused", &s.wrongly_refused),
    ] {
        for m in list.iter() {
            if show_texts {
                println!("  {what}: {m}");
            } else {
                println!("  {what}: {}", m.split(' ').next().unwrap_or_default());
            }
        }
    }
}

/// The set the rules were tuned on: every emergency is transferred to a
/// right line; every text emergency carries the relay clock.
#[test]
fn tuning_set() {
    let mut cases = load("tuning.jsonl");
    cases.extend(load("tuning2.jsonl"));
    cases.extend(load("tuning3.jsonl"));
    assert!(cases.len() >= 600, "{} cases", cases.len());
    let s = score(&cases);
    report("tuning, tuning2, tuning3 (tuned on)", &s, true);
    assert!(
        s.missed.is_empty() && s.wrong_line.is_empty(),
        "emergencies not transferred"
    );
    assert_eq!(
        s.relayed, s.text_emergencies,
        "text emergencies without relay clock"
    );
    assert!(
        s.false_emergency.len() * 10 <= s.safe,
        "false emergencies over 10 %"
    );
    assert_eq!(s.gas_right, s.gas, "gas without symptoms");
    assert_eq!(s.refused, s.refuse, "refusals");
    assert_eq!(s.consult_answered, s.consult, "how-to questions refused");
}

/// The set never tuned on: its figures are reported as they are, with
/// floors at what was measured the first time it was run (so a change that
/// makes it worse fails). Its texts are not printed, so that no one tunes
/// on them by reading a failure. Written by a third author in the third
/// round (the first two rounds' held-out sets are `tuning2` and `tuning3`).
#[test]
fn holdout_set() {
    let cases = load("holdout.jsonl");
    assert!(cases.len() >= 200, "{} cases", cases.len());
    let s = score(&cases);
    report("holdout (never tuned on)", &s, false);
    let flagged = s.caught + s.wrong_line.len() + s.possible;
    // First measured: 99 of 123 transferred to a right line, 106 flagged,
    // 11 of 62 false emergencies, 8 of 14 refused, 14 of 14 answered, 10 of
    // 12 gas smells to the gas line.
    assert!(s.caught >= 99, "transferred {} < 99", s.caught);
    assert!(flagged >= 106, "flagged {flagged} < 106");
    // 11 at the first measurement; 14 after the review's fixes (markers no
    // longer read inside other words, masks hide only terms they cover,
    // a hypothesis does not carry into the next clause): three more alarms
    // on texts about no danger, the price of catching the review's cases.
    assert!(
        s.false_emergency.len() <= 14,
        "false emergencies {} > 14",
        s.false_emergency.len()
    );
    assert!(s.refused >= 8, "refused {} < 8", s.refused);
    assert!(
        s.consult_answered >= 14,
        "how-to answered {} < 14",
        s.consult_answered
    );
    assert!(s.gas_right >= 10, "gas line {} < 10", s.gas_right);
    assert_eq!(
        s.relayed, s.text_emergencies,
        "text emergencies without relay clock"
    );
}

/// The examples the issue names, as a dispatcher would decide them.
#[test]
fn issue_examples() {
    let emergencies = [
        ("着火了", "119"),
        ("救命啊", "110"),
        ("车祸了", "122"),
        ("老人之前有心脏病，现在突然昏迷了，叫不醒", "120"),
        ("以前也被偷过，现在小偷又在撬我家门", "110"),
        ("孩子吞了硬币卡住了，喘不上气", "120"),
        ("工地上有人从架子上摔下来了，流了很多血", "120"),
        ("电梯里有烟，还关着人出不来", "119"),
        ("河里有人落水了，在往下漂", "119"),
        ("对面居民楼三楼窗户往外冒火，里面好像还有人", "119"),
        ("有人撬我家隔壁的门，现在还在里面", "110"),
    ];
    for (i, (text, line)) in emergencies.iter().enumerate() {
        let d = decide_text(&format!("ex{i}"), Channel::Phone, text);
        assert_eq!(d.route, RouteKind::EmergencyTransfer, "{text}");
        assert!(lines_of(&d).contains(line), "{text}: {:?}", lines_of(&d));
        assert!(
            !d.relay && d.deadlines.relay_by.is_none(),
            "{text}: a call is put through"
        );
        assert!(d.guidance.contains("已为您转接"), "{text}: {}", d.guidance);
    }
    // A text contact cannot be put through: the center relays it.
    let d = decide_text("wx", Channel::Wechat, "我被人关在屋里出不去，他们在打我");
    assert_eq!(d.route, RouteKind::EmergencyTransfer);
    assert_eq!(lines_of(&d).first(), Some(&"110"));
    assert!(d.relay);
    assert_eq!(
        d.deadlines.relay_by,
        Some(at("2026-11-26 10:00") + Duration::minutes(3))
    );
    assert!(!d.guidance.contains("已为您转接"), "{}", d.guidance);
    assert!(
        d.guidance.contains("正在通知") && d.guidance.contains("110"),
        "{}",
        d.guidance
    );
    // Questions about a service are not emergencies.
    for text in [
        "请问120急救车出车收费标准是多少",
        "我要投诉120的态度，上周叫车来了半个小时",
        "消防通道被堵了好几天了",
    ] {
        let d = decide_text("q", Channel::Phone, text);
        assert_eq!(d.safety, SafetyLevel::None, "{text}: {:?}", d.rule_ids);
        assert_ne!(d.route, RouteKind::EmergencyTransfer, "{text}");
    }
    // Gas: with symptoms an emergency, without the gas company's line.
    let d = decide_text("g1", Channel::Phone, "家里煤气味很重，我妈头晕想吐");
    assert_eq!(d.route, RouteKind::EmergencyTransfer);
    assert_eq!(lines_of(&d), vec!["119", "120"]);
    let d = decide_text("g2", Channel::Phone, "楼道里有很大的煤气味");
    assert_eq!(d.route, RouteKind::UtilityLinkage);
    assert_eq!(lines_of(&d), vec![GAS_LINE]);
    // Refusals only where Art. 10 says.
    for text in [
        "法院已经判了，我不服，你们帮我改判",
        "帮我查一下前妻现在住在哪里",
    ] {
        let d = decide_text("r", Channel::Phone, text);
        assert_eq!(d.route, RouteKind::NotAccepted, "{text}");
    }
    let d = decide_text("c", Channel::Phone, "劳动仲裁怎么申请");
    assert_eq!(d.route, RouteKind::DirectAnswer, "{:?}", d.rule_ids);
    // Mentioned without asking the hotline to handle it: verify first.
    let d = decide_text(
        "s",
        Channel::Phone,
        "法院判了对方赔钱，可是对方一直不给，社区也不管",
    );
    assert_eq!(d.route, RouteKind::WorkOrder);
    assert!(d.tags.contains(&"scope_check"), "{:?}", d.tags);
}

/// Cases a reviewer found dropped: a marker read inside another word (那年轻人,
/// 从前面, 马上回, 主要是), a mask inside a term (困难 in 呼吸困难, 抢钱 in
/// 抢钱包), a mask next to one (尾气 by 追尾, 被电瓶车 before 车撞了), an
/// everyday `about` word (停车场), a past or a hypothesis carried into a
/// present clause.
#[test]
fn review_cases_are_emergencies() {
    for (text, line) in [
        ("那年轻人拿着刀在砍人", "110"),
        ("一辆货车从前面冲过来把人撞倒了", "122"),
        ("他说马上回来杀了我", "110"),
        ("我打电话主要是楼下有人拿刀砍人", "110"),
        ("我爸之前有心脏病，突然晕倒了", "120"),
        ("他会不会死啊，一直叫不醒", "120"),
        ("小区电线老化有隐患，楼下着火了", "119"),
        ("我爸刚出院回家就晕倒了叫不醒", "120"),
        ("我老婆呼吸困难", "120"),
        ("街上有人抢钱包", "110"),
        ("我妈被电瓶车撞了", "122"),
        ("两车追尾气囊都弹出来了", "122"),
        ("快叫救护车，在万达广场停车场", "120"),
        ("我要报警，停车场有人撬车门", "110"),
    ] {
        let d = decide_text("rv", Channel::Phone, text);
        assert_eq!(
            d.route,
            RouteKind::EmergencyTransfer,
            "{text}: {:?}",
            d.rule_ids
        );
        assert!(lines_of(&d).contains(&line), "{text}: {:?}", lines_of(&d));
    }
}

/// A danger word the rules cannot place is a possible emergency: the
/// normal route stands, an agent relays or dismisses it within 3 minutes.
#[test]
fn possible_emergency_keeps_its_route_and_gets_the_clock() {
    let d = decide_text(
        "p",
        Channel::Phone,
        "楼下有人一直在吵架，还在推搡，感觉挺危险",
    );
    assert_eq!(d.safety, SafetyLevel::Possible, "{:?}", d.rule_ids);
    assert_ne!(d.route, RouteKind::EmergencyTransfer);
    assert_eq!(
        d.deadlines.relay_by,
        Some(at("2026-11-26 10:00") + Duration::minutes(3))
    );
    assert!(d
        .safety_rule
        .as_deref()
        .is_some_and(|r| r.ends_with(".possible")));
    // Its line, for the agent's alert, whatever unit the route names.
    assert_eq!(d.safety_lines.first().map(|l| &**l), Some("110"));
    assert!(d.guidance.contains("请立即拨打"), "{}", d.guidance);
}

/// Very short texts that name a danger are never refused as empty.
#[test]
fn short_dangers_are_not_refused_as_empty() {
    for text in [
        "救命",
        "着火",
        "车祸",
        "有人晕了",
        "打人啦",
        "著火了",
        "車禍",
    ] {
        let d = decide_text("s", Channel::Sms, text);
        assert_eq!(d.route, RouteKind::EmergencyTransfer, "{text}");
    }
    let d = decide_text("e", Channel::Phone, "喂，你好");
    assert_eq!(d.route, RouteKind::NotAccepted);
}

fn caught_emergencies() -> &'static [(Channel, String)] {
    static C: std::sync::OnceLock<Vec<(Channel, String)>> = std::sync::OnceLock::new();
    C.get_or_init(|| {
        load("tuning.jsonl")
            .into_iter()
            .chain(load("tuning2.jsonl"))
            .chain(load("tuning3.jsonl"))
            .filter(|c| c.expect == "EMERGENCY")
            .filter(|c| {
                decide_text(&c.id, c.channel, &c.text).route == RouteKind::EmergencyTransfer
            })
            .map(|c| (c.channel, c.text))
            .collect()
    })
}

const GREETINGS: &[&str] = &[
    "你好，",
    "喂喂 ",
    "您好，我想反映一下，",
    "那个，",
    "嗯 就是说 ",
    "12345吗？",
];
const PAST: &[&str] = &[
    "去年我家也出过事。",
    "以前我就打过电话。",
    "上个月这里也发生过一次。",
    "之前反映过别的问题。",
];
const TAILS: &[&str] = &["", "。", "！！", "，谢谢", " 快点", "？", "…"];

proptest! {
    /// Greetings, filler, a past sentence or punctuation around an
    /// emergency never remove it.
    #[test]
    fn wrapping_never_removes_an_emergency(
        i in any::<prop::sample::Index>(),
        greet in prop::sample::select(GREETINGS),
        past in prop::option::of(prop::sample::select(PAST)),
        tail in prop::sample::select(TAILS),
        past_after in any::<bool>(),
    ) {
        let all = caught_emergencies();
        prop_assume!(!all.is_empty());
        let (channel, text) = &all[i.index(all.len())];
        let past = past.unwrap_or("");
        let wrapped = if past_after {
            format!("{greet}{text}{tail}。{past}")
        } else {
            format!("{past}{greet}{text}{tail}")
        };
        let d = decide_text("prop", *channel, &wrapped);
        prop_assert_eq!(d.route, RouteKind::EmergencyTransfer, "{}", wrapped);
    }
}

/// Each rule of the clause reading, with a text that holds only if the rule
/// works (found missing by cargo-mutants: the sets above hold whole-set
/// rates, which a broken rule can keep).
#[test]
fn each_tense_and_sentence_rule_decides_its_own_text() {
    use SafetyLevel::{Emergency, Possible};
    let level = |text: &str| decide_text("rule", Channel::Phone, text).safety;
    let cases: &[(&str, SafetyLevel, &str)] = &[
        // A worry is only possible: a danger term, a service, the generic cry.
        ("晚上总怕起火", Possible, "worry + danger term"),
        ("担心要出人命", Possible, "worry + generic cry"),
        // A past that names a danger carries to the next two clauses of its sentence ...
        ("去年家里被偷过，小偷一直没抓到", SafetyLevel::None, "past carried"),
        // ... not past them ...
        (
            "去年家里被偷过，后来装了门，又换了锁，小偷在撬门",
            Emergency,
            "carry ends after two clauses",
        ),
        // ... and not into the next sentence.
        ("上个月家里被偷过一次。小偷在撬我家的门", Emergency, "a sentence ends the past"),
        // A service named in a sentence about its price is no call for it;
        // in the next sentence it is.
        ("救护车收费太贵了。快叫救护车", Emergency, "about ends with its sentence"),
        // A marker after the term in its clause places it.
        ("楼下着火是昨天晚上的事", SafetyLevel::None, "a marker after the term"),
        // A marker more than ~24 characters away in one long clause does not.
        (
            "去年我们那边有个老房子因为电线老化出了事大家都吓得不得了物业一直都不管不问的楼下着火了",
            Emergency,
            "a marker out of reach before",
        ),
        (
            "楼下着火了物业的人说什么都不管我们这些住户都很着急不知道怎么办好去年",
            Emergency,
            "a marker out of reach after",
        ),
    ];
    let mut wrong = Vec::new();
    for (text, want, rule) in cases {
        let got = level(text);
        if got != *want {
            wrong.push(format!("{rule}: {text}: {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A worried service call is not a call; nor one in a sentence that
    // asks its price in another clause.
    assert_ne!(level("担心到时候要叫救护车"), Emergency);
    assert_ne!(level("打120叫救护车，收费标准是多少"), Emergency);
    // Gas and symptoms together are an emergency; worried about, they are not.
    assert_eq!(level("家里煤气味很大，我妈头晕"), Emergency);
    assert_ne!(level("担心煤气漏了会头晕"), Emergency);
}
