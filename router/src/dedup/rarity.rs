//! How telling a character is of a problem: a character most contacts use
//! (小, 区, 上, 说 …) tells nothing about which matter a text is on; one few
//! use (牛, 粪, 厕, 井 …) tells a lot. Weights are inverse document
//! frequencies over the classifier's training contacts
//! (`router/data/corpus/train*.jsonl`, simplified and folded as matching
//! folds them), counted once and embedded as `router/data/char_df.txt`;
//! `router/tests/rarity.rs` recounts them and fails when the file is stale.
//!
//! The weights let two texts be compared on what their problems share
//! ([`terms`], [`overlap`]) without a word list: the rarest characters of
//! each text's problem part are kept, and two texts agree as much as the
//! weight of the characters they share.
use std::sync::LazyLock;

/// The embedded document frequencies: a header `# documents N`, then one
/// `character count` line each.
pub const EMBEDDED: &str = include_str!("../../data/char_df.txt");

/// Characters used by more than this share of contacts weigh nothing.
const COMMON: f64 = 0.06;

/// Terms kept per text.
pub const TERMS: usize = 8;

/// Weights by code point (characters outside the Basic Multilingual Plane
/// are not terms).
struct Weights(Box<[u8]>);

static WEIGHTS: LazyLock<Weights> = LazyLock::new(|| Weights::parse(EMBEDDED));

impl Weights {
    fn parse(text: &str) -> Weights {
        let mut lines = text.lines();
        let docs: f64 = lines
            .next()
            .and_then(|h| h.strip_prefix("# documents "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(1.0);
        // A character no contact of the corpus used is as rare as they come.
        let unseen = weight_of(0.0, docs);
        let mut w = vec![unseen; 1 << 16].into_boxed_slice();
        for l in lines {
            let mut it = l.split(' ');
            let (Some(c), Some(n)) = (it.next(), it.next()) else {
                continue;
            };
            let (Some(c), Ok(n)) = (c.chars().next(), n.trim().parse::<f64>()) else {
                continue;
            };
            if let Some(slot) = u16::try_from(u32::from(c))
                .ok()
                .and_then(|i| w.get_mut(usize::from(i)))
            {
                *slot = weight_of(n, docs);
            }
        }
        // 0 marks an empty term slot: it weighs nothing.
        if let Some(w0) = w.first_mut() {
            *w0 = 0;
        }
        Weights(w)
    }
}

/// `ln((docs + 1) / (df + 1))` in sixteenths (an inverse document
/// frequency, smoothed so that an unseen character is finite), 0 for the
/// common characters.
fn weight_of(df: f64, docs: f64) -> u8 {
    if df > COMMON * docs {
        return 0;
    }
    let idf = ((docs + 1.0) / (df + 1.0)).ln().max(0.0);
    (idf * 16.0).round().clamp(0.0, 255.0) as u8
}

/// The weight of a term (0: not telling).
pub fn weight(t: u16) -> u8 {
    WEIGHTS.0.get(usize::from(t)).copied().unwrap_or(0)
}

/// Whether a character can be a term: an ideograph or an ASCII letter
/// (digits are numbers of buildings and lines, compared by the places).
fn termable(c: char) -> bool {
    c.is_ascii_lowercase() || crate::normalize::is_ideograph(c)
}

/// The [`TERMS`] most telling distinct characters of `segs` (0 = none),
/// the rarest first; among equals, the earliest.
pub fn terms(segs: &[&str]) -> [u16; TERMS] {
    let table = &WEIGHTS.0;
    let mut best: [(u8, u16); TERMS] = [(0, 0); TERMS];
    for c in segs.iter().flat_map(|s| s.chars()).filter(|c| termable(*c)) {
        let Ok(t) = u16::try_from(u32::from(c)) else {
            continue;
        };
        let w = table.get(usize::from(t)).copied().unwrap_or(0);
        // Most characters are common (weight 0) or weigh less than the
        // lightest kept: one comparison each.
        if w <= best[TERMS - 1].0 {
            continue;
        }
        if best.iter().any(|(_, x)| *x == t) {
            continue;
        }
        // Insert keeping the order (weight descending, then first seen).
        if let Some(pos) = best.iter().position(|(bw, bt)| *bt == 0 || w > *bw) {
            best[pos..].rotate_right(1);
            best[pos] = (w, t);
        }
    }
    best.map(|(_, t)| t)
}

/// How much two texts' problems share: the weight of their common terms
/// over the smaller of their total weights (a short text contained in a
/// long one scores 1). 0 when either has none.
pub fn overlap(a: &super::text::Problem, b: &super::text::Problem) -> f64 {
    let total = |w: &[u8; TERMS]| w.iter().map(|x| u32::from(*x)).sum::<u32>();
    let (wa, wb) = (total(&a.weights), total(&b.weights));
    if wa == 0 || wb == 0 {
        return 0.0;
    }
    let shared: u32 = a
        .terms
        .iter()
        .zip(a.weights)
        .filter(|(t, _)| **t != 0 && b.terms.contains(t))
        .map(|(_, w)| u32::from(w))
        .sum();
    f64::from(shared) / f64::from(wa.min(wb))
}

/// Counts, for [`EMBEDDED`], in how many of `texts` each character occurs
/// (after the folding matching does): the file's text.
pub fn count(texts: &[&str]) -> String {
    let mut df: std::collections::BTreeMap<char, u32> = Default::default();
    for t in texts {
        let mut seen: Vec<char> = super::text::matter_chars_raw(t)
            .chars()
            .filter(|c| termable(*c))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        for c in seen {
            *df.entry(c).or_default() += 1;
        }
    }
    let mut out = format!("# documents {}\n", texts.len());
    for (c, n) in df {
        out.push_str(&format!("{c} {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any texts: the overlap is between 0 and 1, the same both ways,
        /// and 1 for a text with terms against itself.
        #[test]
        fn overlap_is_a_symmetric_share(a in "\\PC{0,40}", b in "\\PC{0,40}") {
            let p = |s: &str| {
                let mut p = crate::dedup::text::Problem::default();
                p.set_terms(terms(&[s]));
                p
            };
            let (pa, pb) = (p(&a), p(&b));
            let x = overlap(&pa, &pb);
            prop_assert!((0.0..=1.0).contains(&x), "{x}");
            prop_assert!((x - overlap(&pb, &pa)).abs() < 1e-12);
            if pa.weights.iter().any(|w| *w > 0) {
                prop_assert!((overlap(&pa, &pa) - 1.0).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn common_characters_weigh_nothing_and_rare_ones_much() {
        let w = |c: char| weight(c as u16);
        assert_eq!(w('小'), 0, "小 is in most contacts");
        assert!(w('牛') > 64, "{}", w('牛'));
        assert!(w('粪') > w('水'));
    }

    /// Found by cargo-mutants: the formula was only seen through the
    /// ranks it gives.
    #[test]
    fn a_weight_is_the_smoothed_inverse_document_frequency_in_sixteenths() {
        assert_eq!(weight_of(0.0, 2.0), 18, "16 ln 3");
        assert_eq!(weight_of(1.0, 100.0), 63, "16 ln 50.5");
        // In exactly COMMON of the contacts: still telling; above: not.
        assert_eq!(COMMON * 100.0, 6.0);
        assert_eq!(weight_of(6.0, 100.0), 43, "16 ln (101/7)");
        assert_eq!(weight_of(7.0, 100.0), 0);
    }

    /// Terms of equal weight keep the order they were seen in.
    #[test]
    fn among_equally_telling_characters_the_earliest_comes_first() {
        let pair = ('\u{4e00}'..='\u{9fa5}')
            .filter(|c| weight(*c as u16) > 0)
            .collect::<Vec<_>>()
            .windows(2)
            .find(|w| weight(w[0] as u16) == weight(w[1] as u16))
            .map(|w| (w[0], w[1]));
        let Some((a, b)) = pair else {
            panic!("no two characters of equal weight");
        };
        let t = terms(&[&format!("{a}{b}")]);
        assert_eq!(&t[..2], &[a as u16, b as u16]);
        let t = terms(&[&format!("{b}{a}")]);
        assert_eq!(&t[..2], &[b as u16, a as u16]);
    }

    #[test]
    fn terms_are_the_rarest_distinct_characters() {
        let t = terms(&["养牛场粪水直接往沟里排"]);
        assert!(t.contains(&('牛' as u16)) && t.contains(&('粪' as u16)));
        assert!(!t.contains(&('小' as u16)));
        let mut sorted: Vec<u8> = t.iter().filter(|x| **x != 0).map(|x| weight(*x)).collect();
        let before = sorted.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(before, sorted, "rarest first");
    }

    #[test]
    fn overlap_is_shared_weight_over_the_smaller_text() {
        let p = |s: &str| {
            let mut p = crate::dedup::text::Problem::default();
            p.set_terms(terms(&[s]));
            p
        };
        let (a, b, c) = (
            p("牛场臭"),
            p("养牛的场子粪水直接往沟里排臭得很"),
            p("楼顶违章搭建钢架"),
        );
        assert!(overlap(&a, &b) > 0.5, "{}", overlap(&a, &b));
        assert_eq!(overlap(&a, &c), 0.0);
        assert_eq!(overlap(&a, &Default::default()), 0.0);
        assert!((overlap(&a, &a) - 1.0).abs() < 1e-9);
    }
}
