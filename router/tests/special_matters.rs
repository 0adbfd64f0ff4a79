//! Special matters and special emergencies (Art. 13(4)): the local
//! government of the district (区/县人民政府) and the departments that
//! handle such a matter are targets beside what routing found, the
//! department leads when routing found only the center, and the three
//! special clocks are set — also after an emergency transfer.
mod common;
use common::*;
use hotline_router::{decide, Priority, RouteKind};

fn codes(d: &hotline_router::Decision) -> Vec<String> {
    d.targets.iter().map(|t| t.code.to_string()).collect()
}

#[test]
fn special_matters_name_the_local_government_and_the_department() {
    let now = at("2026-11-26 10:00");
    let cases = [
        // (text, district, priority, route, must be targets, lead)
        (
            "荣山镇这边山体滑坡了，把路堵死了，房子也有裂缝",
            "510802",
            Priority::SpecialEmergency,
            RouteKind::WorkOrder,
            vec!["510802.gov", "510802.yjj"],
            "510802.yjj",
        ),
        (
            "嘉陵江里大面积死鱼，河流被污染了",
            "510811",
            Priority::Special,
            RouteKind::WorkOrder,
            vec!["510811.gov", "510811.sthj"],
            "510811.sthj",
        ),
        (
            "后山着大火了，火势很大，已经烧了好几亩林子",
            "510822",
            Priority::SpecialEmergency,
            RouteKind::EmergencyTransfer,
            vec!["119", "510822.gov", "510822.yjj"],
            "510822.yjj",
        ),
        (
            "小区附近化工厂爆炸了，好多人受伤",
            "510821",
            Priority::SpecialEmergency,
            RouteKind::EmergencyTransfer,
            vec!["119", "510821.gov", "510821.yjj"],
            "510821.yjj",
        ),
    ];
    for (i, (text, district, prio, route, want, lead)) in cases.into_iter().enumerate() {
        let c = phone_contact(&format!("sp-{i}"), text, district);
        let d = match decide(router(), &c, now) {
            Ok(d) => d,
            Err(e) => panic!("{text}: {e:?}"),
        };
        assert_eq!((d.priority, d.route), (prio, route), "{text}");
        let got = codes(&d);
        for w in want {
            assert!(got.iter().any(|g| g == w), "{text}: {w} not in {got:?}");
        }
        assert_eq!(d.lead_unit.as_deref(), Some(lead), "{text}");
        assert_eq!(
            d.deadlines.notify_by,
            Some(at("2026-11-26 10:03")),
            "{text}"
        );
        assert_eq!(
            d.deadlines.first_feedback_by,
            Some(at("2026-11-26 11:00")),
            "{text}"
        );
        assert!(d.deadlines.progress_by.is_some(), "{text}");
    }
}

#[test]
fn an_ordinary_matter_names_no_local_government() {
    let c = phone_contact(
        "n-1",
        "我们小区的物业费收得太高了，想咨询一下标准",
        "510802",
    );
    let d = decide(router(), &c, at("2026-11-26 10:00")).expect("decided");
    assert_eq!(d.priority, Priority::Normal);
    assert!(
        !codes(&d).iter().any(|c| c.ends_with(".gov")),
        "{:?}",
        codes(&d)
    );
}

/// A special matter whose category already found a unit keeps that unit as
/// the lead; the matter's department and the local government are told
/// beside it (found by cargo-mutants: every case above either had the
/// department as the category's unit or no unit but the center).
#[test]
fn the_categorys_unit_keeps_the_lead_of_a_special_matter() {
    let c = phone_contact(
        "sp-lead",
        "上周那家饭馆集体食物中毒的事，市场监管什么时候给说法",
        "510802",
    );
    let d = decide(router(), &c, at("2026-11-26 10:00")).expect("decided");
    assert_eq!(
        (d.priority, d.route),
        (Priority::SpecialEmergency, RouteKind::WorkOrder)
    );
    assert_eq!(d.lead_unit.as_deref(), Some("510802.scjg"));
    assert_eq!(codes(&d), ["510802.scjg", "510802.wjw", "510802.gov"]);
}
