//! The composition of the stages: normalize → classify → scope → route →
//! deadlines, into one [`Decision`]. Pure: `now` is a parameter.
use crate::classify::classify;
use crate::deadlines::{self, DeadlineInput, Scope, SHANGHAI};
use crate::ids;
use crate::model::{Contact, Decision, DedupLinks, Instant, Origin, Priority, RouteKind};
use crate::normalize::normalize;
use crate::reject::Reject;
use crate::route::{district, route, unit_target};
use crate::router::Router;
use crate::scope::{priority, scope};
use chrono::Datelike as _;
use std::fmt::Write;
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// Decides one contact as seen at `now` (used only to refuse contacts dated
/// in the future). Deterministic: the same router, contact and `now` always
/// give the same decision.
pub fn decide(router: &Router, contact: &Contact, now: Instant) -> Result<Decision, Reject> {
    let norm = normalize(contact, now, &router.area_code)?;
    let hits = router.matcher.scan(&norm.text);
    let mut rule_ids: Vec<Arc<str>> = Vec::with_capacity(12);

    let class = classify(router, contact, &hits, &mut rule_ids);
    let prio = priority(router, &hits, &mut rule_ids);
    let district_idx = district(router, &contact.location.district_code, &mut rule_ids);
    let mut category = router.categories[class.category].code.clone();

    let (route_kind, targets, lead_unit, co_units, guidance_base) =
        match scope(router, &norm.text, &hits, &mut rule_ids) {
            Some(s) => {
                let mut lead = None;
                if let Some(u) = s.utility {
                    let line = &router.utility[u];
                    if let Some(c) = &line.category {
                        if contact.category_hint.trim().is_empty() {
                            category = c.clone();
                        }
                    }
                    // A special-matter outage is a case the hotline follows: the
                    // supervising unit leads it.
                    if prio != Priority::Normal {
                        if let Some(t) = line
                            .supervisor
                            .and_then(|sup| unit_target(router, sup, district_idx, true))
                        {
                            lead = Some(t.code.clone());
                        }
                    }
                }
                (s.route, s.targets, lead, Vec::new(), Some(s.guidance))
            }
            None => {
                let r = route(router, &class, district_idx, &hits, &mut rule_ids);
                (r.route, r.targets, r.lead_unit, r.co_units, r.answer)
            }
        };

    let input = DeadlineInput {
        received_at: norm.received_at,
        kind: class.kind,
        origin: contact.origin,
        channel: norm.channel,
        priority: prio,
        route: route_kind,
    };
    let dl = deadlines::compute(&router.calendar, &input, Scope::Route);
    if dl.complete_by.is_some() {
        rule_ids.push(ids::DEADLINE_KIND.clone());
        if contact.origin != Origin::Local {
            rule_ids.push(ids::DEADLINE_PLATFORM_ADVANCE.clone());
        }
    }
    if dl.provisional {
        rule_ids.push(ids::DEADLINE_PROVISIONAL.clone());
    }
    if contact.enterprise {
        rule_ids.push(ids::ROUTE_ENTERPRISE.clone());
    }

    let guidance = match (route_kind, guidance_base) {
        (RouteKind::WorkOrder, _) => {
            let unit = targets.first().map(|t| &*t.name).unwrap_or("相关单位");
            let mut g = format!("已形成工单转{unit}办理");
            if let Some(due) = dl.complete_by {
                let _ = write!(
                    g,
                    "，办理时限至{}",
                    due.with_timezone(&SHANGHAI).format("%Y-%m-%d %H:%M")
                );
            }
            g.push('。');
            g
        }
        (_, Some(g)) => g.to_string(),
        (_, None) => String::new(),
    };

    let mut tags = Vec::new();
    if contact.enterprise {
        tags.push("enterprise");
    }
    match prio {
        Priority::Special => tags.push("special"),
        Priority::SpecialEmergency => tags.push("special_emergency"),
        Priority::Normal => {}
    }
    if contact.origin != Origin::Local {
        tags.push("platform");
    }
    if dl.provisional {
        tags.push("provisional");
    }

    Ok(Decision {
        contact_id: contact.contact_id.clone(),
        case_id: case_id(&router.case_prefix, norm.received_at, &contact.contact_id),
        route: route_kind,
        targets,
        lead_unit,
        co_units,
        kind: class.kind,
        category,
        priority: prio,
        deadlines: dl,
        dedup: DedupLinks::default(),
        rule_ids,
        guidance,
        channel: norm.channel,
        origin: contact.origin,
        enterprise: contact.enterprise,
        district_code: contact.location.district_code.trim().to_string(),
        received_at: norm.received_at,
        caller_ref: caller_ref(&router.options.caller_secret, &norm.caller_key),
        tags,
    })
}

/// `<prefix><local date>-<16 hex digits of xxh3(contact_id)>`: stable for a
/// contact id, so a retried contact gets the same case id.
pub fn case_id(prefix: &str, received_at: Instant, contact_id: &str) -> String {
    let d = received_at.with_timezone(&SHANGHAI).date_naive();
    format!(
        "{prefix}{:04}{:02}{:02}-{:016x}",
        d.year(),
        d.month(),
        d.day(),
        contact_key(contact_id)
    )
}

/// The 64-bit key of a contact id: the last part of the case id it opens,
/// and the store's index key for both lookups (by contact and by case).
pub fn contact_key(contact_id: &str) -> u64 {
    xxh3_64(contact_id.as_bytes())
}

/// The contact key a case id was made from (its 16 hex digits after the
/// last `-`), whatever the prefix it was made with.
pub fn case_key(case_id: &str) -> Option<u64> {
    let (_, hex) = case_id.rsplit_once('-')?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// Keyed BLAKE3 hash of the caller key, 128 bits in hex.
pub fn caller_ref(secret: &[u8; 32], caller_key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h = blake3::keyed_hash(secret, caller_key.as_bytes());
    let mut s = String::with_capacity(32);
    for b in &h.as_bytes()[..16] {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}
