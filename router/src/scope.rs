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

/// The empty-contact rule's filler phrases (Art. 10(5)), normalized like
/// contact text, longest first, with the characters they start with: a
/// text is read once, and only at a character that starts a phrase are the
/// phrases compared.
#[derive(Debug, Default)]
pub struct Filler {
    phrases: Vec<String>,
    /// First characters of the phrases, sorted.
    first: Vec<char>,
}

impl Filler {
    pub fn new(phrases: &[String]) -> Filler {
        let mut phrases: Vec<String> = phrases
            .iter()
            .map(|f| crate::normalize::normalize_text(f))
            .filter(|f| !f.is_empty())
            .collect();
        phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let mut first: Vec<char> = phrases.iter().filter_map(|p| p.chars().next()).collect();
        first.sort_unstable();
        first.dedup();
        Filler { phrases, first }
    }

    /// The length in bytes of the longest phrase that starts `rest`, whose
    /// first character is `c`.
    fn at(&self, rest: &str, c: char) -> Option<usize> {
        if self.first.binary_search(&c).is_err() {
            return None;
        }
        self.phrases
            .iter()
            .find(|p| rest.starts_with(p.as_str()))
            .map(String::len)
    }
}

/// Whether fewer than `min` letters, digits and CJK characters are left
/// once filler phrases are removed (read from the left, the longest phrase
/// at each place, like a leftmost-longest search); stops at `min`.
fn lacks_substance(text: &str, filler: &Filler, min: usize) -> bool {
    if min == 0 {
        return false;
    }
    let mut n = 0;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(len) = filler.at(rest, c) {
            rest = &rest[len..];
            continue;
        }
        if crate::normalize::is_ideograph(c) || c.is_alphanumeric() {
            n += 1;
            if n >= min {
                return false;
            }
        }
        rest = &rest[c.len_utf8()..];
    }
    true
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
        && lacks_substance(text, &router.empty.filler, router.empty.min_chars)
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

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::{AhoCorasick, MatchKind};
    use proptest::prelude::*;

    const PHRASES: &[&str] = &[
        "你好",
        "您好",
        "喂",
        "谢谢",
        "没事",
        "有人吗",
        "hi",
        "hello",
        "我要反映",
    ];

    /// The definition: remove every leftmost-longest occurrence, count what is left.
    fn reference(text: &str, min: usize) -> bool {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(PHRASES)
            .unwrap_or_else(|e| panic!("{e}"));
        let left = ac.replace_all(text, &vec![""; PHRASES.len()]);
        left.chars()
            .filter(|c| crate::normalize::is_ideograph(*c) || c.is_alphanumeric())
            .count()
            < min
    }

    proptest! {
        #[test]
        fn filler_is_removed_as_a_leftmost_longest_search_would(
            parts in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(PHRASES).prop_map(str::to_string),
                    proptest::sample::select(vec!["停", "水", "h", "e", "l", "o", "i", "好", "你", "!", " ", "1"])
                        .prop_map(str::to_string),
                ],
                0..12,
            ),
            min in 0usize..6,
        ) {
            let owned: Vec<String> = PHRASES.iter().map(|p| p.to_string()).collect();
            let text: String = parts.concat();
            prop_assert_eq!(
                lacks_substance(&text, &Filler::new(&owned), min),
                reference(&text, min),
                "{:?} min {}", text, min
            );
        }
    }

    #[test]
    fn greetings_alone_lack_substance_and_a_request_does_not() {
        let owned: Vec<String> = PHRASES.iter().map(|p| p.to_string()).collect();
        let f = Filler::new(&owned);
        assert!(lacks_substance("喂喂你好有人吗", &f, 4));
        assert!(lacks_substance("hello hi 谢谢", &f, 4));
        assert!(!lacks_substance("你好我家停水了", &f, 4));
        assert!(!lacks_substance("hellx", &f, 4));
    }
}
