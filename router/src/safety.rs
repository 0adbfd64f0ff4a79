//! Stage 0, life safety (Art. 10(3), Art. 15): whether a contact names a
//! danger to life happening now, which emergency lines it calls for, and
//! whether it is only a possible emergency that an agent must look at.
//!
//! Runs first, on every contact, whatever its length or channel. The rules
//! are `router/data/safety.toml` (its header explains them); this module
//! reads a text once with one automaton over every term and marker:
//!
//! 1. clauses end at punctuation and spaces;
//! 2. each clause has a tense from its markers (past, present,
//!    hypothetical), carried forward to the clauses without one up to the
//!    end of the sentence; a danger term counts only in the present;
//! 3. `mask` phrases hide the danger word they contain (消防通道);
//!    a line's `service` terms (救护车) do not count in a clause `about`
//!    the service (收费, 投诉);
//! 4. emergency terms, `generic` cries and `together` pairs make an
//!    emergency; `possible` terms alone make a possible emergency.
use crate::model::{SafetyLevel, Target, TargetKind};
use crate::normalize::normalize_text;
use crate::rules::{RulesError, SafetyFile};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::collections::HashMap;
use std::sync::Arc;

/// What one pattern means; a pattern may mean several things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Emergency(u8),
    Possible(u8),
    Service(u8),
    Generic,
    First(u16),
    Second(u16),
    Tense(Tense),
    About,
    Mask,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tense {
    Present,
    Past,
    Hypothetical,
}

/// An emergency line at run time.
#[derive(Debug)]
pub(crate) struct SafetyLine {
    pub target: Target,
    /// `safety.<line>` and `safety.<line>.possible`.
    pub id: Arc<str>,
    pub possible_id: Arc<str>,
    pub phone_guidance: Arc<str>,
    pub relay_guidance: Arc<str>,
    pub possible_guidance: Arc<str>,
}

#[derive(Debug)]
struct Together {
    id: Arc<str>,
    lines: Vec<u8>,
}

/// The compiled `safety.toml`.
#[derive(Debug)]
pub(crate) struct SafetyRules {
    /// `None` only when building failed (the error was reported).
    ac: Option<AhoCorasick>,
    roles: Vec<Vec<Role>>,
    pub lines: Vec<SafetyLine>,
    generic_line: u8,
    generic_id: Arc<str>,
    together: Vec<Together>,
}

/// What the safety stage found in one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyCheck {
    pub level: SafetyLevel,
    /// Indexes of the lines called for, most hit first (none for `None`).
    pub lines: Vec<u8>,
    /// The rules that decided, first the one that named the first line.
    pub rule_ids: Vec<Arc<str>>,
}

impl SafetyCheck {
    fn none() -> SafetyCheck {
        SafetyCheck {
            level: SafetyLevel::None,
            lines: Vec::new(),
            rule_ids: Vec::new(),
        }
    }
}

/// Characters that end a sentence: the tense of a sentence does not carry
/// into the next (a past sentence before an emergency never hides it).
fn ends_sentence(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '。')
}

/// Characters that end a clause (after NFKC: ASCII punctuation, plus the
/// CJK ones NFKC keeps). A space is a pause in transcribed speech.
fn ends_clause(c: char) -> bool {
    matches!(
        c,
        ',' | '.'
            | '!'
            | '?'
            | ';'
            | ':'
            | ' '
            | '~'
            | '。'
            | '、'
            | '…'
            | '\u{2014}'
            | '「'
            | '」'
            | '“'
            | '”'
    )
}

fn fill(template: &str, line: &str, name: &str) -> Arc<str> {
    Arc::from(template.replace("{line}", line).replace("{name}", name))
}

impl SafetyRules {
    /// Compiles the file; problems are appended to `errors`.
    pub(crate) fn build(file: &str, f: &SafetyFile, errors: &mut Vec<RulesError>) -> SafetyRules {
        let mut err = |msg: String| {
            errors.push(RulesError {
                file: file.into(),
                msg,
            })
        };
        let mut patterns: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut roles: Vec<Vec<Role>> = Vec::new();
        let mut add = |words: &[String], role: Role, what: &str, err: &mut dyn FnMut(String)| {
            for w in words {
                let w = normalize_text(w);
                if w.is_empty() {
                    err(format!("{what}: empty term"));
                    continue;
                }
                let p = *index.entry(w.clone()).or_insert_with(|| {
                    patterns.push(w);
                    roles.push(Vec::new());
                    patterns.len() - 1
                });
                if !roles[p].contains(&role) {
                    roles[p].push(role);
                }
            }
        };
        add(
            &f.time.past,
            Role::Tense(Tense::Past),
            "time.past",
            &mut err,
        );
        add(
            &f.time.present,
            Role::Tense(Tense::Present),
            "time.present",
            &mut err,
        );
        add(
            &f.time.hypothetical,
            Role::Tense(Tense::Hypothetical),
            "time.hypothetical",
            &mut err,
        );
        add(&f.service.about, Role::About, "service.about", &mut err);
        add(&f.service.mask, Role::Mask, "service.mask", &mut err);

        if f.lines.len() > usize::from(u8::MAX) {
            err(format!("{} lines; at most 255", f.lines.len()));
        }
        let mut lines = Vec::new();
        let mut by_number: HashMap<&str, u8> = HashMap::new();
        for (i, l) in f.lines.iter().enumerate().take(usize::from(u8::MAX)) {
            let i = i as u8;
            if l.id.trim().is_empty() {
                err(format!("line {}: empty id", l.line));
            }
            if l.emergency.is_empty() {
                err(format!("line {}: no emergency terms", l.id));
            }
            if by_number.insert(&l.line, i).is_some() {
                err(format!("line {} defined twice", l.line));
            }
            add(&l.emergency, Role::Emergency(i), &l.id, &mut err);
            add(&l.possible, Role::Possible(i), &l.id, &mut err);
            add(&l.service, Role::Service(i), &l.id, &mut err);
            lines.push(SafetyLine {
                target: Target {
                    kind: TargetKind::Line,
                    code: Arc::from(l.line.as_str()),
                    name: Arc::from(l.name.as_str()),
                },
                id: Arc::from(l.id.as_str()),
                possible_id: Arc::from(format!("{}.possible", l.id)),
                phone_guidance: fill(&f.phone_guidance, &l.line, &l.name),
                relay_guidance: fill(&f.relay_guidance, &l.line, &l.name),
                possible_guidance: fill(&f.possible_guidance, &l.line, &l.name),
            });
        }
        let line_of = |number: &str, what: &str, err: &mut dyn FnMut(String)| {
            by_number.get(number).copied().unwrap_or_else(|| {
                err(format!("{what}: line {number:?} is not a [[line]]"));
                0
            })
        };
        let generic_line = line_of(&f.generic.line, &f.generic.id, &mut err);
        add(&f.generic.emergency, Role::Generic, &f.generic.id, &mut err);
        let mut together = Vec::new();
        for (i, t) in f.together.iter().enumerate() {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            if t.lines.is_empty() {
                err(format!("{}: no lines", t.id));
            }
            let lines = t
                .lines
                .iter()
                .map(|n| line_of(n, &t.id, &mut err))
                .collect();
            add(&t.first, Role::First(i), &t.id, &mut err);
            add(&t.second, Role::Second(i), &t.id, &mut err);
            together.push(Together {
                id: Arc::from(t.id.as_str()),
                lines,
            });
        }
        if lines.is_empty() {
            err("no [[line]]".into());
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|e| err(format!("cannot build the safety automaton: {e}")))
            .ok();
        SafetyRules {
            ac,
            roles,
            lines,
            generic_line,
            generic_id: Arc::from(f.generic.id.as_str()),
            together,
        }
    }

    /// Reads one normalized text.
    pub fn check(&self, text: &str) -> SafetyCheck {
        // Every occurrence of every pattern: (start, end, pattern).
        let Some(ac) = &self.ac else {
            return SafetyCheck::none();
        };
        let found: Vec<(usize, usize, usize)> = ac
            .find_overlapping_iter(text)
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect();
        if !found.iter().any(|&(_, _, p)| {
            self.roles[p].iter().any(|r| {
                matches!(
                    r,
                    Role::Emergency(_)
                        | Role::Possible(_)
                        | Role::Service(_)
                        | Role::Generic
                        | Role::First(_)
                )
            })
        }) {
            return SafetyCheck::none();
        }
        let clauses = Clauses::of(text, &found, &self.roles);
        let masks: Vec<(usize, usize)> = found
            .iter()
            .filter(|&&(_, _, p)| self.roles[p].contains(&Role::Mask))
            .map(|&(s, e, _)| (s, e))
            .collect();

        let n = self.lines.len();
        let mut emergency = vec![0u32; n];
        let mut possible = vec![0u32; n];
        let mut generic = false;
        let mut first = vec![false; self.together.len()];
        let mut second = vec![false; self.together.len()];
        for &(s, e, p) in &found {
            if masks
                .iter()
                .any(|&(ms, me)| ms < e && s < me && (ms, me) != (s, e))
            {
                continue;
            }
            let c = clauses.at(s);
            if clauses.tense(c, s) != Tense::Present {
                continue;
            }
            for r in &self.roles[p] {
                match *r {
                    Role::Emergency(l) => emergency[usize::from(l)] += 1,
                    Role::Service(l) if !clauses.about[c] => emergency[usize::from(l)] += 1,
                    Role::Possible(l) => possible[usize::from(l)] += 1,
                    Role::Generic => generic = true,
                    Role::First(t) => first[usize::from(t)] = true,
                    Role::Second(t) => second[usize::from(t)] = true,
                    _ => {}
                }
            }
        }

        let mut rule_ids = Vec::new();
        for (i, t) in self.together.iter().enumerate() {
            if first[i] && second[i] {
                for &l in &t.lines {
                    // Ranked with the lines named by their own terms.
                    emergency[usize::from(l)] += 1;
                }
                rule_ids.push(t.id.clone());
            }
        }
        let ranked = |hits: &[u32]| {
            let mut ls: Vec<u8> = (0..n as u8).filter(|&l| hits[usize::from(l)] > 0).collect();
            ls.sort_by_key(|&l| std::cmp::Reverse(hits[usize::from(l)]));
            ls
        };
        let lines = ranked(&emergency);
        if !lines.is_empty() || generic {
            let lines = if lines.is_empty() {
                rule_ids.push(self.generic_id.clone());
                vec![self.generic_line]
            } else {
                let ids: Vec<Arc<str>> = lines
                    .iter()
                    .map(|&l| self.lines[usize::from(l)].id.clone())
                    .collect();
                rule_ids.splice(0..0, ids);
                if generic {
                    rule_ids.push(self.generic_id.clone());
                }
                lines
            };
            return SafetyCheck {
                level: SafetyLevel::Emergency,
                lines,
                rule_ids,
            };
        }
        let lines = ranked(&possible);
        if lines.is_empty() {
            return SafetyCheck::none();
        }
        SafetyCheck {
            level: SafetyLevel::Possible,
            rule_ids: lines
                .iter()
                .map(|&l| self.lines[usize::from(l)].possible_id.clone())
                .collect(),
            lines,
        }
    }
}

/// A text's clauses: where each starts, its tense markers and whether it is
/// about an emergency service.
struct Clauses {
    /// Byte offset where each clause starts (the first is 0).
    starts: Vec<usize>,
    /// Whether each clause starts a sentence.
    sentence: Vec<bool>,
    /// Tense markers by clause: (offset, tense), in text order.
    markers: Vec<Vec<(usize, Tense)>>,
    /// Tense a clause hands to the next: its last marker's, or the one it got.
    carried: Vec<Tense>,
    about: Vec<bool>,
}

impl Clauses {
    fn of(text: &str, found: &[(usize, usize, usize)], roles: &[Vec<Role>]) -> Clauses {
        let (mut starts, mut sentence) = (vec![0], vec![true]);
        for (i, c) in text.char_indices() {
            if ends_clause(c) {
                starts.push(i + c.len_utf8());
                sentence.push(ends_sentence(c));
            }
        }
        let n = starts.len();
        let mut markers = vec![Vec::new(); n];
        let mut about = vec![false; n];
        let clause_at = |pos: usize| starts.partition_point(|&s| s <= pos).saturating_sub(1);
        for &(s, _, p) in found {
            for r in &roles[p] {
                match r {
                    Role::Tense(t) => markers[clause_at(s)].push((s, *t)),
                    Role::About => about[clause_at(s)] = true,
                    _ => {}
                }
            }
        }
        for m in &mut markers {
            m.sort_by_key(|x| x.0);
        }
        let mut carried = Vec::with_capacity(n);
        let mut carry = Tense::Present;
        for (m, new_sentence) in markers.iter().zip(&sentence) {
            if *new_sentence {
                carry = Tense::Present;
            }
            if let Some(&(_, t)) = m.last() {
                carry = t;
            }
            carried.push(carry);
        }
        Clauses {
            starts,
            sentence,
            markers,
            carried,
            about,
        }
    }

    fn at(&self, pos: usize) -> usize {
        self.starts.partition_point(|&s| s <= pos).saturating_sub(1)
    }

    /// The tense at `pos` in clause `c`: the nearest marker at or before it
    /// in the clause (a cry such as 救命 is its own present), else the first after it, else what the clause before carried.
    fn tense(&self, c: usize, pos: usize) -> Tense {
        let m = &self.markers[c];
        if let Some(&(_, t)) = m.iter().rev().find(|(s, _)| *s <= pos) {
            return t;
        }
        if let Some(&(_, t)) = m.iter().find(|(s, _)| *s > pos) {
            return t;
        }
        if self.sentence[c] {
            Tense::Present
        } else {
            self.carried[c - 1]
        }
    }
}
