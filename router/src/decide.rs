//! The composition of the stages: normalize → safety → classify → scope →
//! route → deadlines, into one [`Decision`]. Pure: `now` is a parameter.
//!
//! Safety comes first: an emergency is transferred to its line whatever
//! else the text says (Art. 10(3), 15), and a text that names a danger is
//! never refused as empty.
use crate::classify::classify;
use crate::deadlines::{self, DeadlineInput, Scope, RELAY_LIMIT, SHANGHAI};
use crate::ids;
use crate::model::{
    Channel, Contact, Decision, DedupLinks, Instant, Origin, Priority, RouteKind, SafetyLevel,
};
use crate::normalize::normalize;
use crate::reject::Reject;
use crate::route::{district, route, unit_target};
use crate::router::Router;
use crate::scope::{priority, scope, Scoped};
use crate::strings::push_fixed2;
use chrono::Datelike as _;
use std::fmt::Write;
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// The checks that need the rules: the district code is empty, the city's
/// or one of its districts'; `received_at` is within the configured age
/// for its origin (so a contact older than the retention period can never
/// be decided again as a new case once its record is purged).
fn admissible(
    router: &Router,
    contact: &Contact,
    received_at: Instant,
    now: Instant,
) -> Result<(), Reject> {
    let code = contact.location.district_code.trim();
    if !code.is_empty() && code != router.city_code && !router.district_index.contains_key(code) {
        let shown: String = code.chars().take(16).collect();
        return Err(Reject::InvalidDistrict(shown));
    }
    if let Some((local, platform)) = router.options.max_age {
        let limit = if contact.origin == Origin::Local {
            local
        } else {
            platform
        };
        let age = now - received_at;
        if age > limit {
            return Err(Reject::ReceivedTooOld {
                age_days: age.num_days(),
                limit_days: limit.num_days(),
            });
        }
    }
    Ok(())
}

/// Decides one contact as seen at `now` (used only to refuse contacts dated
/// in the future). Deterministic: the same router, contact and `now` always
/// give the same decision.
pub fn decide(router: &Router, contact: &Contact, now: Instant) -> Result<Decision, Reject> {
    let norm = normalize(contact, now, &router.area_code)?;
    admissible(router, contact, norm.received_at, now)?;
    let hits = router.matcher.scan(&norm.text);
    let safety = router.safety.check(&norm.text, hits.spans());
    let mut rule_ids: Vec<Arc<str>> = Vec::with_capacity(12);
    rule_ids.extend(safety.rule_ids.iter().cloned());
    let first_line = safety
        .lines
        .first()
        .map(|&l| &router.safety.lines[usize::from(l)]);
    // A text contact cannot be put through: the center relays it (Art. 15).
    let relay = safety.level == SafetyLevel::Emergency && norm.channel != Channel::Phone;

    let class = classify(router, contact, &norm.text, &hits, &mut rule_ids);
    let mut special_units = Vec::new();
    let prio = priority(router, &hits, &mut rule_ids, &mut special_units);
    let district_idx = district(router, contact, &mut rule_ids);
    let mut category = router.categories[class.category].code.clone();

    let scoped = match (safety.level, first_line) {
        (SafetyLevel::Emergency, Some(line)) => Some(Scoped {
            route: RouteKind::EmergencyTransfer,
            targets: safety
                .lines
                .iter()
                .map(|&l| router.safety.lines[usize::from(l)].target.clone())
                .collect(),
            guidance: if relay {
                line.relay_guidance.clone()
            } else {
                line.phone_guidance.clone()
            },
            utility: None,
        }),
        (level, _) => scope(
            router,
            &norm.text,
            &hits,
            level != SafetyLevel::None,
            &mut rule_ids,
        ),
    };
    let (route_kind, mut targets, mut lead_unit, mut co_units, guidance_base) = match scoped {
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

    // Not sure enough of the kind or category: the work order goes to the
    // center's dispatchers (派单员) with the alternatives, not to a unit as
    // if certain.
    let review = (route_kind == RouteKind::WorkOrder)
        .then(|| {
            review_reason(
                contact,
                class.confidence.as_ref(),
                router.options.review_threshold,
            )
        })
        .flatten();
    if review.is_some() {
        rule_ids.push(ids::CLASSIFY_REVIEW.clone());
        if let Some(t) = unit_target(router, router.coordinator, district_idx, false) {
            lead_unit = Some(t.code.clone());
            targets = vec![t.clone()];
            co_units.clear();
        }
    }

    if prio != Priority::Normal {
        special_targets(
            router,
            &special_units,
            district_idx,
            route_kind,
            &mut targets,
            &mut lead_unit,
        );
    }

    let input = DeadlineInput {
        received_at: norm.received_at,
        kind: class.kind,
        origin: contact.origin,
        channel: norm.channel,
        priority: prio,
        route: route_kind,
        platform_due: contact.platform_due,
    };
    let mut dl = deadlines::compute(&router.calendar, &input, Scope::Route);
    if relay || safety.level == SafetyLevel::Possible {
        dl.relay_by = Some(norm.received_at + RELAY_LIMIT);
    }
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

    let mut guidance = match (route_kind, guidance_base) {
        (RouteKind::WorkOrder, _) => {
            let unit = targets.first().map(|t| &*t.name).unwrap_or("相关单位");
            let (before, after) = if review.is_some() {
                ("已形成工单，由", "派单员确定承办单位后转办")
            } else {
                ("已形成工单转", "办理")
            };
            // Room for the time limit too: "，办理时限至yyyy-mm-dd hh:mm。".
            let mut g = String::with_capacity(before.len() + unit.len() + after.len() + 40);
            g.push_str(before);
            g.push_str(unit);
            g.push_str(after);
            if let Some(due) = dl.complete_by {
                g.push_str("，办理时限至");
                push_minute(&mut g, due.with_timezone(&SHANGHAI));
            }
            g.push('。');
            g
        }
        (_, Some(g)) => g.to_string(),
        (_, None) => String::new(),
    };
    if let (SafetyLevel::Possible, Some(line)) = (safety.level, first_line) {
        guidance.push_str(&line.possible_guidance);
    }

    let mut tags = Vec::new();
    if contact.enterprise {
        tags.push("enterprise");
    }
    if route_kind == RouteKind::WorkOrder {
        if let Some(id) = scope_check(router, &hits) {
            rule_ids.push(id.clone());
            tags.push("scope_check");
        }
    }
    if review.is_some() {
        tags.push("review");
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
        safety: safety.level,
        safety_rule: safety.rule_ids.first().cloned(),
        safety_lines: safety
            .lines
            .iter()
            .map(|&l| router.safety.lines[usize::from(l)].target.code.clone())
            .collect(),
        relay,
        deadlines: dl,
        dedup: DedupLinks::default(),
        rule_ids,
        confidence: class.confidence,
        review,
        guidance,
        channel: norm.channel,
        origin: contact.origin,
        enterprise: contact.enterprise,
        // The district inferred from the address or text when none was given.
        district_code: match contact.location.district_code.trim() {
            "" => district_idx
                .and_then(|i| router.district_code(i))
                .unwrap_or_default()
                .to_string(),
            code => code.to_string(),
        },
        received_at: norm.received_at,
        caller_ref: if router.options.publish_caller_ref {
            caller_ref(&router.options.caller_secret, &norm.caller_key)
        } else {
            String::new()
        },
        tags,
    })
}

/// Why a work order needs a dispatcher's review: a head the classifier
/// decided (not an agent's hint) below `threshold`, with the alternatives.
fn review_reason(
    contact: &Contact,
    confidence: Option<&crate::classify::Confidence>,
    threshold: f32,
) -> Option<String> {
    let c = confidence?;
    let kind_unsure = contact.kind_hint.is_none() && c.kind < threshold;
    let cat_unsure = contact.category_hint.trim().is_empty() && c.category < threshold;
    if !kind_unsure && !cat_unsure {
        return None;
    }
    let mut s = String::with_capacity(160);
    if kind_unsure {
        unsure(
            &mut s,
            "kind",
            c.kind,
            threshold,
            c.kinds.iter().map(|(k, p)| (k.as_str(), *p)),
        );
    }
    if cat_unsure {
        if kind_unsure {
            s.push_str("; ");
        }
        let alternatives = c.categories.iter().map(|(code, p)| (&**code, *p));
        unsure(&mut s, "category", c.category, threshold, alternatives);
    }
    Some(s)
}

/// `<head> 0.42 < 0.50 (a 0.42, b 0.31, c 0.10)`: one unsure head of a
/// review reason.
fn unsure<'a>(
    s: &mut String,
    head: &str,
    p: f32,
    threshold: f32,
    alternatives: impl Iterator<Item = (&'a str, f32)>,
) {
    s.push_str(head);
    s.push(' ');
    push_fixed2(s, p);
    s.push_str(" < ");
    push_fixed2(s, threshold);
    s.push_str(" (");
    for (i, (name, p)) in alternatives.enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(name);
        s.push(' ');
        push_fixed2(s, p);
    }
    s.push(')');
}

/// The first `[[scope_check]]` rule a work order's text matched (Art. 10:
/// scope not settled by the text; verify with the unit first).
fn scope_check<'a>(router: &'a Router, hits: &'a crate::matcher::Hits) -> Option<&'a Arc<str>> {
    router
        .matcher
        .matched(hits)
        .find(|(stage, _, _)| matches!(stage, crate::matcher::Stage::ScopeCheck(_)))
        .map(|(_, id, _)| id)
}

/// `<prefix><local date>-<16 hex digits of xxh3(contact_id)>`: stable for a
/// contact id, so a retried contact gets the same case id.
pub fn case_id(prefix: &str, received_at: Instant, contact_id: &str) -> String {
    let d = received_at.with_timezone(&SHANGHAI).date_naive();
    let key = contact_key(contact_id);
    // yyyymmdd of any year chrono represents fits a u32 (at most 262 143);
    // `{:04}` of a negative year is not 4 digits: format! writes those.
    match u32::try_from(d.year()) {
        Ok(year) => format_case_id(prefix, year * 10_000 + d.month() * 100 + d.day(), key),
        Err(_) => format!(
            "{prefix}{:04}{:02}{:02}-{key:016x}",
            d.year(),
            d.month(),
            d.day()
        ),
    }
}

/// `<prefix><date, 8 digits>-<key, 16 hex digits>`: a case id from its parts.
pub fn format_case_id(prefix: &str, yyyymmdd: u32, key: u64) -> String {
    let mut s = String::with_capacity(prefix.len() + 26);
    s.push_str(prefix);
    push_decimal(&mut s, yyyymmdd, 8);
    s.push('-');
    push_hex(&mut s, &key.to_be_bytes());
    s
}

/// Two lower-case hex digits per byte, written sixteen bytes at a time.
fn push_hex(s: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for chunk in bytes.chunks(16) {
        let mut buf = [0u8; 32];
        for (pair, b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 15)];
        }
        s.push_str(std::str::from_utf8(&buf[..2 * chunk.len()]).unwrap_or_default());
    }
}

/// `n` in decimal, zero-padded to at least `width` digits (as `{:0width$}`;
/// `width` at most 10, the digits of `u32::MAX`).
fn push_decimal(s: &mut String, n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let (mut n, mut i) = (n, buf.len());
    while n > 0 || i == buf.len() {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = i.min(buf.len().saturating_sub(width));
    s.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

/// `%Y-%m-%d %H:%M` of a local time, without chrono's format parser.
fn push_minute(s: &mut String, t: chrono::DateTime<chrono::FixedOffset>) {
    use chrono::Timelike as _;
    // chrono signs years outside 0..=9999: those take its format.
    let year = match u32::try_from(t.year()) {
        Ok(y) if y <= 9999 => y,
        _ => {
            let _ = write!(s, "{}", t.format("%Y-%m-%d %H:%M"));
            return;
        }
    };
    push_decimal(s, year, 4);
    s.push('-');
    push_decimal(s, t.month(), 2);
    s.push('-');
    push_decimal(s, t.day(), 2);
    s.push(' ');
    push_decimal(s, t.hour(), 2);
    s.push(':');
    push_decimal(s, t.minute(), 2);
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
    let h = blake3::keyed_hash(secret, caller_key.as_bytes());
    let mut s = String::with_capacity(32);
    push_hex(&mut s, &h.as_bytes()[..16]);
    s
}

/// A special matter (Art. 13(4)): the departments its rules name and the
/// local government of its district (区/县人民政府) are told within 3
/// minutes, so they are targets beside the unit the category names; when
/// no unit but the center was found, the first department leads.
fn special_targets(
    router: &Router,
    units: &[usize],
    district_idx: Option<usize>,
    route_kind: RouteKind,
    targets: &mut Vec<crate::model::Target>,
    lead_unit: &mut Option<Arc<str>>,
) {
    for &u in units.iter().chain(router.local_government.iter()) {
        if let Some(t) = unit_target(router, u, district_idx, true) {
            if !targets.iter().any(|x| x.code == t.code) {
                targets.push(t.clone());
            }
        }
    }
    let center = unit_target(router, router.coordinator, district_idx, false).map(|t| &t.code);
    let placed = match lead_unit {
        Some(l) => route_kind != RouteKind::WorkOrder || Some(&*l) != center,
        None => false,
    };
    if !placed {
        if let Some(t) = units
            .first()
            .and_then(|&u| unit_target(router, u, district_idx, true))
        {
            *lead_unit = Some(t.code.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone as _, Utc};
    use proptest::prelude::*;

    proptest! {
        /// The hand-written date and time are chrono's `%Y-%m-%d %H:%M`,
        /// also for years of fewer than four digits and negative ones.
        #[test]
        fn minute_is_chronos_format(secs in -62_000_000_000i64..8_000_000_000_000i64) {
            let Some(t) = Utc.timestamp_opt(secs, 0).single() else { return Ok(()) };
            let local = t.with_timezone(&SHANGHAI);
            let mut s = String::new();
            push_minute(&mut s, local);
            prop_assert_eq!(s, local.format("%Y-%m-%d %H:%M").to_string());
        }

        #[test]
        fn hex_is_formats_lower_case_hex(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut s = String::new();
            push_hex(&mut s, &bytes);
            let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(s, want);
        }

        #[test]
        fn decimal_is_zero_padded_like_format(n in any::<u32>(), width in 0usize..=10) {
            let mut s = String::new();
            push_decimal(&mut s, n, width);
            prop_assert_eq!(s, format!("{n:0width$}"));
        }

        /// The case id is `<prefix><yyyymmdd>-<16 hex>`, as `format!` writes it.
        #[test]
        fn case_id_is_the_formatted_one(secs in -62_000_000_000i64..8_000_000_000_000i64, id in "[a-z0-9-]{1,20}") {
            let Some(t) = Utc.timestamp_opt(secs, 0).single() else { return Ok(()) };
            let d = t.with_timezone(&SHANGHAI).date_naive();
            let want = format!("GY{:04}{:02}{:02}-{:016x}", d.year(), d.month(), d.day(), contact_key(&id));
            prop_assert_eq!(case_id("GY", t, &id), want);
        }
    }
}
