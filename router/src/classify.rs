//! Stage 2, classify: the kind of a request (which fixes its completion
//! limit) and its category (which fixes the unit), from keyword rules; an
//! agent's hint wins over the rules.
use crate::ids;
use crate::matcher::{Hits, Stage};
use crate::model::{Contact, Kind};
use crate::router::Router;
use std::sync::Arc;

/// Categories beyond the first that need this many keyword hits to bring
/// their unit in as a co-unit.
const SECONDARY_MIN_HITS: u32 = 2;
/// At most this many co-units come from secondary categories.
const MAX_SECONDARY: usize = 3;

/// Outcome of classification.
#[derive(Debug, Clone)]
pub struct Classification {
    pub kind: Kind,
    /// Index into the router's categories.
    pub category: usize,
    /// Other strongly matched categories, strongest first.
    pub secondary: Vec<usize>,
}

/// When scores tie, the more serious kind wins.
fn severity(k: Kind) -> u8 {
    match k {
        Kind::Epidemic => 7,
        Kind::Report => 6,
        Kind::Complaint => 5,
        Kind::Help => 4,
        Kind::Suggestion => 3,
        Kind::Opinion => 2,
        Kind::Consultation => 1,
    }
}

/// Classifies one contact from its scan hits, appending the rule ids used.
pub fn classify(
    router: &Router,
    contact: &Contact,
    hits: &Hits,
    rule_ids: &mut Vec<Arc<str>>,
) -> Classification {
    let kind = match contact.kind_hint {
        Some(k) => {
            rule_ids.push(ids::KIND_HINT.clone());
            k
        }
        None => classify_kind(router, hits, rule_ids),
    };
    let (category, secondary) = classify_category(router, contact, hits, rule_ids);
    Classification {
        kind,
        category,
        secondary,
    }
}

fn classify_kind(router: &Router, hits: &Hits, rule_ids: &mut Vec<Arc<str>>) -> Kind {
    let mut score = [0u32; 7];
    for (stage, _, n) in router.matcher.matched(hits) {
        if let Stage::Kind(i) = stage {
            let r = &router.kinds[i];
            score[r.kind as usize] += r.weight * n;
        }
    }
    let best = Kind::ALL
        .iter()
        .copied()
        .filter(|k| score[*k as usize] > 0)
        .max_by_key(|k| (score[*k as usize], severity(*k)));
    match best {
        Some(kind) => {
            for (stage, id, _) in router.matcher.matched(hits) {
                if matches!(stage, Stage::Kind(i) if router.kinds[i].kind == kind) {
                    rule_ids.push(id.clone());
                }
            }
            kind
        }
        None => {
            rule_ids.push(ids::KIND_DEFAULT.clone());
            router.default_kind
        }
    }
}

fn classify_category(
    router: &Router,
    contact: &Contact,
    hits: &Hits,
    rule_ids: &mut Vec<Arc<str>>,
) -> (usize, Vec<usize>) {
    let hint = contact.category_hint.trim();
    if !hint.is_empty() {
        if let Some(&c) = router.category_by_code.get(hint) {
            rule_ids.push(ids::CATEGORY_HINT.clone());
            return (c, Vec::new());
        }
        rule_ids.push(ids::CATEGORY_HINT_UNKNOWN.clone());
    }
    let mut matched: Vec<(usize, u32, &Arc<str>)> = router
        .matcher
        .matched(hits)
        .filter_map(|(stage, id, n)| match stage {
            Stage::Category(i) => Some((i, n, id)),
            _ => None,
        })
        .collect();
    // Strongest first; file order breaks ties (stable sort).
    matched.sort_by_key(|m| std::cmp::Reverse(m.1));
    let Some(&(primary, _, id)) = matched.first() else {
        rule_ids.push(ids::CATEGORY_DEFAULT.clone());
        return (router.default_category, Vec::new());
    };
    rule_ids.push(id.clone());
    let primary_unit = router.categories[primary].unit;
    let mut secondary = Vec::new();
    for &(c, n, _) in &matched[1..] {
        let unit = router.categories[c].unit;
        if n >= SECONDARY_MIN_HITS
            && unit != primary_unit
            && !secondary
                .iter()
                .any(|&s: &usize| router.categories[s].unit == unit)
            && secondary.len() < MAX_SECONDARY
        {
            secondary.push(c);
        }
    }
    (primary, secondary)
}
