//! Stage 3, scope: what the hotline does not handle itself.
//!
//! - Art. 10(5): empty content (only greetings and filler) is not accepted,
//!   unless it names a danger (emergencies are decided before, in `safety`).
//! - Art. 10(1), (2), (4), (6): litigation and other procedures, secrets and
//!   privacy, military matters, unlawful requests are not accepted, with guidance.
//! - Art. 7: tax goes to the 12366 sub-center, police conduct to 966110.
//! - Art. 15: water, power and gas go to the utility lines.
//! - Art. 13(4): special matters and special emergencies raise the priority.
use crate::matcher::{Hits, Stage};
use crate::model::{Priority, RouteKind, Target};
use crate::router::{LineRt, Router};
use std::sync::Arc;

/// A route fixed by scope, before ordinary routing.
#[derive(Debug, Clone)]
pub struct Scoped {
    pub route: RouteKind,
    pub targets: Vec<Target>,
    pub guidance: Arc<str>,
    /// Utility matters: index of the utility line, for its supervisor and category.
    pub utility: Option<usize>,
}

/// The Art. 13(4) priority of a text, appending the special rules that
/// raised it; `units` gets the departments those rules name.
pub fn priority(
    router: &Router,
    hits: &Hits,
    rule_ids: &mut Vec<Arc<str>>,
    units: &mut Vec<usize>,
) -> Priority {
    let mut p = Priority::Normal;
    for (stage, id, _) in router.matcher.matched(hits) {
        if let Stage::Special(i) = stage {
            if let Some(s) = router.special.get(i) {
                p = p.max(s.priority);
                for u in &s.units {
                    if !units.contains(u) {
                        units.push(*u);
                    }
                }
            }
            rule_ids.push(id.clone());
        }
    }
    p
}

/// Whether fewer than `min` letters, digits and CJK characters are left
/// once filler words are removed (each occurrence, leftmost-longest, in one
/// pass); stops counting at `min`.
fn lacks_substance(text: &str, filler: Option<&aho_corasick::AhoCorasick>, min: usize) -> bool {
    let word = |s: &str| {
        s.chars()
            .filter(|c| crate::normalize::is_ideograph(*c) || c.is_alphanumeric())
            .count()
    };
    let Some(ac) = filler else {
        return word(text) < min;
    };
    let mut n = 0;
    let mut at = 0;
    for m in ac.find_iter(text) {
        n += word(&text[at..m.start()]);
        if n >= min {
            return false;
        }
        at = m.end();
    }
    n + word(&text[at..]) < min
}

/// The best-matching line of one table: most keyword hits, file order on ties.
fn best_line<'a>(
    router: &'a Router,
    hits: &'a Hits,
    pick: impl Fn(Stage) -> Option<usize>,
    rule_ids: &mut Vec<Arc<str>>,
) -> Vec<(usize, &'a Arc<str>)> {
    let mut m: Vec<(usize, u32, &Arc<str>)> = router
        .matcher
        .matched(hits)
        .filter_map(|(s, id, n)| pick(s).map(|i| (i, n, id)))
        .collect();
    m.sort_by_key(|x| std::cmp::Reverse(x.1));
    for (_, _, id) in &m {
        rule_ids.push((*id).clone());
    }
    m.into_iter().map(|(i, _, id)| (i, id)).collect()
}

fn transfer(route: RouteKind, table: &[LineRt], picked: &[(usize, &Arc<str>)]) -> Option<Scoped> {
    let (first, _) = *picked.first()?;
    Some(Scoped {
        route,
        targets: picked
            .iter()
            .map(|(i, _)| table[*i].target.clone())
            .collect(),
        guidance: table[first].guidance.clone(),
        utility: None,
    })
}

/// Applies the scope rules in order of precedence; `None` means ordinary
/// routing. A text that `names_danger` is never refused as empty.
pub fn scope(
    router: &Router,
    text: &str,
    hits: &Hits,
    names_danger: bool,
    rule_ids: &mut Vec<Arc<str>>,
) -> Option<Scoped> {
    // Only short texts can be empty; skip the work for the rest.
    if !names_danger
        && text.chars().count() <= 32
        && lacks_substance(text, router.empty.filler.as_ref(), router.empty.min_chars)
    {
        rule_ids.push(router.empty.id.clone());
        return Some(Scoped {
            route: RouteKind::NotAccepted,
            targets: Vec::new(),
            guidance: router.empty.guidance.clone(),
            utility: None,
        });
    }
    for (stage, id, _) in router.matcher.matched(hits) {
        if let Stage::NotAccepted(i) = stage {
            rule_ids.push(id.clone());
            return Some(Scoped {
                route: RouteKind::NotAccepted,
                targets: Vec::new(),
                guidance: router.not_accepted[i].guidance.clone(),
                utility: None,
            });
        }
    }
    let sub = best_line(
        router,
        hits,
        |s| match s {
            Stage::Subcenter(i) => Some(i),
            _ => None,
        },
        rule_ids,
    );
    if let Some(mut s) = transfer(RouteKind::SubcenterTransfer, &router.subcenter, &sub) {
        s.targets.truncate(1);
        return Some(s);
    }
    let util = best_line(
        router,
        hits,
        |s| match s {
            Stage::Utility(i) => Some(i),
            _ => None,
        },
        rule_ids,
    );
    if let Some(mut s) = transfer(RouteKind::UtilityLinkage, &router.utility, &util) {
        s.utility = util.first().map(|(i, _)| *i);
        return Some(s);
    }
    None
}
