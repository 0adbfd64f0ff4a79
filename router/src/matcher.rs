//! One Aho–Corasick automaton over every keyword of every rule, so a text is
//! scanned once whatever the number of rules (daachorse's character-wise
//! double array: one step per character, where a byte automaton takes
//! three per Chinese character); [`Hits`] then says which rules
//! matched (any keyword, any `with` if given, no `unless`), and where the
//! positional patterns (the life-safety terms and markers, which need
//! clauses and order) occurred.
use crate::normalize::normalize_text;
use crate::rules::{Keyworded, RulesError};
use daachorse::CharwiseDoubleArrayAhoCorasick;
use std::collections::HashMap;
use std::sync::Arc;

/// Which stage a rule belongs to, with its index in that stage's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Kind(usize),
    Category(usize),
    NotAccepted(usize),
    ScopeCheck(usize),
    Subcenter(usize),
    Utility(usize),
    Special(usize),
    Kb(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Keyword,
    With,
    Unless,
}

#[derive(Debug)]
struct RuleMeta {
    id: Arc<str>,
    stage: Stage,
    needs_with: bool,
    /// The rule's cue feature for the classifier
    /// ([`crate::classifier::rule_feature`] of its id), hashed once here.
    cue: u32,
}

/// Collects rules, then compiles them into a [`Matcher`].
#[derive(Default)]
pub struct MatcherBuilder {
    rules: Vec<RuleMeta>,
    patterns: Vec<String>,
    pattern_index: HashMap<String, usize>,
    refs: Vec<Vec<(u32, Slot)>>,
    positional: Vec<bool>,
}

impl MatcherBuilder {
    /// Adds one rule; keywords are normalized like contact text.
    pub fn add(
        &mut self,
        file: &str,
        rule: &dyn Keyworded,
        stage: Stage,
        errors: &mut Vec<RulesError>,
    ) {
        let idx = self.rules.len() as u32;
        let mut err = |msg: String| {
            errors.push(RulesError {
                file: file.into(),
                msg: format!("rule {}: {msg}", rule.id()),
            })
        };
        if rule.id().trim().is_empty() {
            err("empty id".into());
        }
        if rule.keywords().is_empty() {
            err("no keywords".into());
        }
        for (slot, words) in [
            (Slot::Keyword, rule.keywords()),
            (Slot::With, rule.with()),
            (Slot::Unless, rule.unless()),
        ] {
            for w in words {
                let w = normalize_text(w);
                if w.is_empty() {
                    err("empty keyword".into());
                    continue;
                }
                let p = self.pattern(w);
                if !self.refs[p].contains(&(idx, slot)) {
                    self.refs[p].push((idx, slot));
                }
            }
        }
        self.rules.push(RuleMeta {
            id: Arc::from(&*rule.id()),
            stage,
            needs_with: !rule.with().is_empty(),
            cue: crate::classifier::rule_feature(&rule.id()),
        });
    }

    /// The index of a normalized pattern, added if new.
    fn pattern(&mut self, w: String) -> usize {
        if let Some(&p) = self.pattern_index.get(&w) {
            return p;
        }
        self.patterns.push(w.clone());
        self.refs.push(Vec::new());
        self.positional.push(false);
        self.pattern_index.insert(w, self.patterns.len() - 1);
        self.patterns.len() - 1
    }

    /// Adds a word (normalized like contact text) whose every occurrence
    /// [`Matcher::scan`] reports with its position ([`Hits::spans`]);
    /// returns its pattern index, `None` for a word empty once normalized.
    pub fn positional(&mut self, word: &str) -> Option<u32> {
        let w = normalize_text(word);
        if w.is_empty() {
            return None;
        }
        let p = self.pattern(w);
        self.positional[p] = true;
        u32::try_from(p).ok()
    }

    /// Compiles the automaton.
    pub fn build(self) -> Result<Matcher, RulesError> {
        let ac = CharwiseDoubleArrayAhoCorasick::new(&self.patterns).map_err(|e| RulesError {
            file: "rules".into(),
            msg: format!("cannot build the keyword automaton: {e}"),
        })?;
        Ok(Matcher {
            ac,
            #[cfg(test)]
            patterns: self.patterns,
            rules: self.rules,
            refs: self.refs,
            positional: self.positional,
        })
    }
}

/// The compiled automaton and its pattern → rule table.
pub struct Matcher {
    ac: CharwiseDoubleArrayAhoCorasick<u32>,
    /// The patterns, for the test that holds the automaton to aho-corasick's.
    #[cfg(test)]
    patterns: Vec<String>,
    rules: Vec<RuleMeta>,
    refs: Vec<Vec<(u32, Slot)>>,
    positional: Vec<bool>,
}

/// The rules that matched one text, ordered by rule (file order).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Hits {
    /// (rule, keyword occurrences) for every matched rule.
    matched: Vec<(u32, u32)>,
    /// (start, end, pattern) of every occurrence of a positional pattern,
    /// in order of their end.
    spans: Vec<(u32, u32, u32)>,
}

impl Hits {
    /// Every occurrence of a positional pattern: (start, end, pattern).
    pub fn spans(&self) -> &[(u32, u32, u32)] {
        &self.spans
    }
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("patterns", &self.refs.len())
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

impl Matcher {
    /// Number of distinct patterns in the automaton.
    pub fn pattern_count(&self) -> usize {
        self.refs.len()
    }

    /// Scans `text` (already normalized) once.
    pub fn scan(&self, text: &str) -> Hits {
        let found = self.ac.find_overlapping_iter(text);
        self.hits_of(found.map(|m| (m.start(), m.end(), m.value() as usize)))
    }

    /// The hits of a text from every occurrence of every pattern in it,
    /// (start, end, pattern) in order of their end.
    fn hits_of(&self, occurrences: impl Iterator<Item = (usize, usize, usize)>) -> Hits {
        let mut raw: Vec<(u32, Slot)> = Vec::with_capacity(16);
        let mut spans = Vec::new();
        for (start, end, p) in occurrences {
            let Some(refs) = self.refs.get(p) else {
                continue;
            };
            raw.extend_from_slice(refs);
            if self.positional.get(p) == Some(&true) {
                // Texts are at most a few KiB (MAX_CONTENT_BYTES): offsets fit.
                spans.push((start as u32, end as u32, p as u32));
            }
        }
        raw.sort_unstable();
        let mut matched = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            let rule = raw[i].0;
            let (mut kw, mut with, mut unless) = (0u32, false, false);
            while i < raw.len() && raw[i].0 == rule {
                match raw[i].1 {
                    Slot::Keyword => kw += 1,
                    Slot::With => with = true,
                    Slot::Unless => unless = true,
                }
                i += 1;
            }
            let meta = &self.rules[rule as usize];
            if kw > 0 && !unless && (with || !meta.needs_with) {
                matched.push((rule, kw));
            }
        }
        Hits { matched, spans }
    }

    /// Matched rules with their stage, id and keyword count, in rule order.
    pub fn matched<'a>(
        &'a self,
        hits: &'a Hits,
    ) -> impl Iterator<Item = (Stage, &'a Arc<str>, u32)> + 'a {
        hits.matched.iter().map(move |&(r, n)| {
            let m = &self.rules[r as usize];
            (m.stage, &m.id, n)
        })
    }

    /// The classifier's cue features of the matched rules, with their ids,
    /// in rule order.
    pub fn cues<'a>(&'a self, hits: &'a Hits) -> impl Iterator<Item = (u32, &'a Arc<str>)> + 'a {
        hits.matched.iter().map(move |&(r, _)| {
            let m = &self.rules[r as usize];
            (m.cue, &m.id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every occurrence of every pattern, overlapping, by brute force:
    /// (start, end, pattern) sorted by end, then start.
    fn occurrences(text: &str, patterns: &[&str]) -> Vec<(u32, u32, u32)> {
        let mut out = Vec::new();
        for (p, w) in patterns.iter().enumerate() {
            for (s, _) in text.char_indices() {
                if text[s..].starts_with(w) {
                    out.push((s as u32, (s + w.len()) as u32, p as u32));
                }
            }
        }
        out.sort_by_key(|&(s, e, p)| (e, s, p));
        out
    }

    /// On the shipped rules, the automaton finds what aho-corasick's
    /// overlapping search finds (every rule, every span, in the same
    /// order), on every held-out contact and on texts of several KiB made
    /// of them (long enough for daachorse's prefilter to change its mind).
    #[test]
    fn the_shipped_rules_match_as_aho_corasick_matches_them() {
        let router = match crate::Router::embedded() {
            Ok(r) => r,
            Err(e) => panic!("rules: {e:?}"),
        };
        let m = &router.matcher;
        let ac = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(&m.patterns)
            .unwrap_or_else(|e| panic!("{e}"));
        let texts: Vec<String> = include_str!("../data/corpus/heldout.jsonl")
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| Some(normalize_text(v.get("text")?.as_str()?)))
            .collect();
        assert!(texts.len() > 500, "{}", texts.len());
        let long: Vec<String> = texts.chunks(60).map(|c| c.join(" ")).collect();
        assert!(long.iter().any(|t| t.len() > 4096));
        let mut matched = 0;
        for t in texts.iter().chain(&long) {
            let found = ac
                .find_overlapping_iter(t.as_str())
                .map(|x| (x.start(), x.end(), x.pattern().as_usize()));
            let want = m.hits_of(found);
            let got = m.scan(t);
            assert_eq!(got, want, "{t}");
            matched += got.matched.len();
        }
        assert!(matched > 1000, "{matched}");
    }

    proptest! {
        /// The scan reports every occurrence of every positional pattern,
        /// overlapping ones and ones inside others too, at its byte offsets.
        #[test]
        fn the_scan_finds_every_occurrence(text in "[火灾隐患着呼吸困难a1 ]{0,40}") {
            let words = ["火灾", "火灾隐患", "灾隐", "着火", "呼吸困难", "困难", "难", "a1"];
            let mut b = MatcherBuilder::default();
            let ids: Vec<Option<u32>> = words.iter().map(|w| b.positional(w)).collect();
            prop_assert!(ids.iter().enumerate().all(|(i, p)| *p == Some(i as u32)));
            let m = b.build().map_err(|e| TestCaseError::fail(e.msg))?;
            let mut got = m.scan(&text).spans().to_vec();
            got.sort_by_key(|&(s, e, p)| (e, s, p));
            prop_assert_eq!(got, occurrences(&text, &words));
        }
    }
}
