//! Stage 2, classify: the kind of a request (which fixes its completion
//! limit) and its category (which fixes the unit). An agent's hint wins;
//! otherwise the trained classifier (`crate::classifier`) decides, with its
//! probabilities and alternatives, and the keyword rules are its cue
//! features; without a model the keyword rules decide alone.
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
    /// What the classifier said, when a model decided a head.
    pub confidence: Option<Confidence>,
}

/// The classifier's probabilities: of the kind and category decided (1.0
/// for a head an agent's hint decided) and the three likeliest of each.
#[derive(Debug, Clone, PartialEq)]
pub struct Confidence {
    pub kind: f32,
    pub category: f32,
    pub kinds: Vec<(Kind, f32)>,
    pub categories: Vec<(Arc<str>, f32)>,
}

/// Alternatives kept per head.
const ALTERNATIVES: usize = 3;

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
    text: &str,
    hits: &Hits,
    rule_ids: &mut Vec<Arc<str>>,
) -> Classification {
    if let Some(rt) = &router.classifier {
        return with_model(router, rt, contact, text, hits, rule_ids);
    }
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
        confidence: None,
    }
}

/// The category an agent's hint names, if it names a known one (recording
/// an unknown one).
fn hinted_category(
    router: &Router,
    contact: &Contact,
    rule_ids: &mut Vec<Arc<str>>,
) -> Option<usize> {
    let hint = contact.category_hint.trim();
    if hint.is_empty() {
        return None;
    }
    match router.category_by_code.get(hint) {
        Some(&c) => {
            rule_ids.push(ids::CATEGORY_HINT.clone());
            Some(c)
        }
        None => {
            rule_ids.push(ids::CATEGORY_HINT_UNKNOWN.clone());
            None
        }
    }
}

fn with_model(
    router: &Router,
    rt: &crate::router::ClassifierRt,
    contact: &Contact,
    text: &str,
    hits: &Hits,
    rule_ids: &mut Vec<Arc<str>>,
) -> Classification {
    let cues: Vec<(u32, &Arc<str>)> = router.matcher.cues(hits).collect();
    let mut p = rt.model.predict_text(text, &cues);
    let hinted_kind = contact.kind_hint;
    if hinted_kind.is_some() {
        rule_ids.push(ids::KIND_HINT.clone());
    }
    let hinted_cat = hinted_category(router, contact, rule_ids);
    let (kind, kind_p) = match (hinted_kind, p.kinds.first()) {
        (Some(k), _) => (k, 1.0),
        (None, Some(&(k, pr))) if pr >= router.options.review_threshold => (k, pr),
        // Unsure (a text unlike the corpus, e.g. a tax question for 12366):
        // a question's explicit cue words (怎么办理, 请问 …) make it a
        // consultation, the shortest limit.
        (None, top) => {
            let mut cue = Vec::new();
            match rule_kind(router, hits, &mut cue) {
                Some(Kind::Consultation) => {
                    rule_ids.extend(cue);
                    let pr = p
                        .kinds
                        .iter()
                        .find(|x| x.0 == Kind::Consultation)
                        .map_or(0.0, |x| x.1);
                    (Kind::Consultation, pr)
                }
                _ => top.copied().unwrap_or((router.default_kind, 0.0)),
            }
        }
    };
    let (category, cat_p) = match (hinted_cat, p.categories.first()) {
        (Some(c), _) => (c, 1.0),
        (None, Some(&(i, pr))) => (
            rt.categories
                .get(i)
                .copied()
                .unwrap_or(router.default_category),
            pr,
        ),
        (None, None) => (router.default_category, 0.0),
    };
    if hinted_kind.is_none() || hinted_cat.is_none() {
        rule_ids.push(ids::CLASSIFY_MODEL.clone());
        // Moved, not cloned: a reference count is an atomic operation.
        rule_ids.extend(std::mem::take(&mut p.evidence));
    }
    let secondary = secondary_categories(router, category, hits);
    let categories = p
        .categories
        .iter()
        .take(ALTERNATIVES)
        .filter_map(|&(i, pr)| {
            let c = rt.categories.get(i)?;
            Some((router.categories[*c].code.clone(), pr))
        })
        .collect();
    Classification {
        kind,
        category,
        secondary,
        confidence: Some(Confidence {
            kind: kind_p,
            category: cat_p,
            kinds: p.kinds.iter().take(ALTERNATIVES).copied().collect(),
            categories,
        }),
    }
}

/// Categories besides `primary` whose keywords matched at least twice and
/// whose unit is another: their units co-handle (牵办), strongest first.
fn secondary_categories(router: &Router, primary: usize, hits: &Hits) -> Vec<usize> {
    let mut matched: Vec<(usize, u32)> = router
        .matcher
        .matched(hits)
        .filter_map(|(stage, _, n)| match stage {
            Stage::Category(i) => Some((i, n)),
            _ => None,
        })
        .collect();
    matched.sort_by_key(|m| std::cmp::Reverse(m.1));
    let primary_unit = router.categories[primary].unit;
    let mut secondary: Vec<usize> = Vec::new();
    for &(c, n) in &matched {
        let unit = router.categories[c].unit;
        if c != primary
            && n >= SECONDARY_MIN_HITS
            && unit != primary_unit
            && !secondary.iter().any(|&s| router.categories[s].unit == unit)
            && secondary.len() < MAX_SECONDARY
        {
            secondary.push(c);
        }
    }
    secondary
}

fn classify_kind(router: &Router, hits: &Hits, rule_ids: &mut Vec<Arc<str>>) -> Kind {
    rule_kind(router, hits, rule_ids).unwrap_or_else(|| {
        rule_ids.push(ids::KIND_DEFAULT.clone());
        router.default_kind
    })
}

/// The kind the keyword rules vote for (weighted hits, the more serious on
/// a tie), appending the rules used; `None` when no kind rule matched.
fn rule_kind(router: &Router, hits: &Hits, rule_ids: &mut Vec<Arc<str>>) -> Option<Kind> {
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
    let kind = best?;
    for (stage, id, _) in router.matcher.matched(hits) {
        if matches!(stage, Stage::Kind(i) if router.kinds[i].kind == kind) {
            rule_ids.push(id.clone());
        }
    }
    Some(kind)
}

fn classify_category(
    router: &Router,
    contact: &Contact,
    hits: &Hits,
    rule_ids: &mut Vec<Arc<str>>,
) -> (usize, Vec<usize>) {
    if let Some(c) = hinted_category(router, contact, rule_ids) {
        return (c, Vec::new());
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
    let secondary = secondary_categories(router, primary, hits);
    (primary, secondary)
}
