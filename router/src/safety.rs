//! Stage 0, life safety (Art. 10(3), Art. 15): whether a contact names a
//! danger to life happening now, which emergency lines it calls for, and
//! whether it is only a possible emergency that an agent must look at.
//!
//! Runs first, on every contact, whatever its length or channel. The rules
//! are `router/data/safety.toml` (its header explains them). Its terms and
//! markers are positional patterns of the router's one automaton
//! ([`crate::matcher`]), so a text is still scanned once; this module reads
//! their occurrences:
//!
//! 1. clauses end at punctuation and spaces;
//! 2. each clause has a tense from its markers (past, present,
//!    hypothetical, uncertain), reaching [`REACH`] bytes within its clause
//!    and carried to the next [`CARRY`] clauses without one, never past the
//!    end of the sentence; a danger term counts in the present, is only
//!    possible when uncertain (怕起火), and not at all in the past or in a
//!    hypothesis (万一着火怎么办);
//! 3. `mask` phrases hide the danger word they contain (消防通道);
//!    a line's `service` terms (救护车) do not count in a sentence `about`
//!    the service (收费, 投诉);
//! 4. emergency terms, `generic` cries and `together` pairs make an
//!    emergency; `possible` terms alone make a possible emergency.
use crate::matcher::MatcherBuilder;
use crate::model::{SafetyLevel, Target, TargetKind};
use crate::rules::{RulesError, SafetyFile};
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
    /// Clearly not an event: a hypothesis, advice, a question about one.
    Hypothetical,
    /// A worry about what may happen (怕起火, 担心他想不开): only possible.
    Uncertain,
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
    /// What each pattern of the router's automaton means here, by pattern
    /// index (empty for the patterns of other rules).
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
    pub(crate) fn build(
        file: &str,
        f: &SafetyFile,
        mb: &mut MatcherBuilder,
        errors: &mut Vec<RulesError>,
    ) -> SafetyRules {
        let mut err = |msg: String| {
            errors.push(RulesError {
                file: file.into(),
                msg,
            })
        };
        let mut roles: Vec<Vec<Role>> = Vec::new();
        let mut add = |words: &[String], role: Role, what: &str, err: &mut dyn FnMut(String)| {
            for w in words {
                let Some(p) = mb.positional(w) else {
                    err(format!("{what}: empty term"));
                    continue;
                };
                let p = p as usize;
                if roles.len() <= p {
                    roles.resize(p + 1, Vec::new());
                }
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
        add(
            &f.time.uncertain,
            Role::Tense(Tense::Uncertain),
            "time.uncertain",
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
        SafetyRules {
            roles,
            lines,
            generic_line,
            generic_id: Arc::from(f.generic.id.as_str()),
            together,
        }
    }

    /// The roles of a pattern (none for another rule's pattern).
    fn roles_of(&self, p: usize) -> &[Role] {
        self.roles.get(p).map(Vec::as_slice).unwrap_or_default()
    }

    /// Reads one normalized text from the occurrences of the positional
    /// patterns the router's scan found in it ([`crate::matcher::Hits::spans`]).
    pub fn check(&self, text: &str, spans: &[(u32, u32, u32)]) -> SafetyCheck {
        if !spans.iter().any(|&(_, _, p)| {
            self.roles_of(p as usize).iter().any(|r| {
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
        let found: Vec<(usize, usize, usize)> = spans
            .iter()
            .map(|&(s, e, p)| (s as usize, e as usize, p as usize))
            .collect();
        let clauses = Clauses::of(text, &found, |p| self.roles_of(p));
        let masks: Vec<(usize, usize)> = found
            .iter()
            .filter(|&&(_, _, p)| self.roles_of(p).contains(&Role::Mask))
            .map(|&(s, e, _)| (s, e))
            .collect();

        let n = self.lines.len();
        let mut emergency = vec![0u32; n];
        let mut possible = vec![0u32; n];
        let mut generic = false;
        let mut first = vec![false; self.together.len()];
        let mut second = vec![false; self.together.len()];
        for &(s, e, p) in &found {
            // A mask hides the terms it covers whole (火灾隐患 hides 火灾);
            // one inside a term (困难 in 呼吸困难) or only touching it
            // (尾气 next to 追尾) hides nothing.
            if masks
                .iter()
                .any(|&(ms, me)| ms <= s && e <= me && (ms, me) != (s, e))
            {
                continue;
            }
            let c = clauses.at(s);
            let tense = clauses.tense(c, s);
            if matches!(tense, Tense::Past | Tense::Hypothetical) {
                continue;
            }
            // A danger someone worries about (怕起火, 担心他想不开) is only possible.
            let sure = tense == Tense::Present;
            for r in self.roles_of(p) {
                match *r {
                    Role::Emergency(l) if sure => emergency[usize::from(l)] += 1,
                    Role::Service(l) if sure && !clauses.about(c) => emergency[usize::from(l)] += 1,
                    Role::Emergency(l) | Role::Possible(l) => possible[usize::from(l)] += 1,
                    Role::Generic if sure => generic = true,
                    Role::Generic => possible[usize::from(self.generic_line)] += 1,
                    Role::First(t) if sure => first[usize::from(t)] = true,
                    Role::Second(t) if sure => second[usize::from(t)] = true,
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
    /// Tense markers by clause: (offset, tense), in text order.
    markers: Vec<Vec<(usize, Tense)>>,
    /// The tense of a clause without markers: that of the last marker in
    /// the sentence, for [`CARRY`] clauses after it, else the present.
    inherited: Vec<Tense>,
    /// The sentence each clause is in.
    sentence_of: Vec<usize>,
    /// Whether each sentence asks about a service (its clauses' `about` words).
    about: Vec<bool>,
}

/// How many clauses after its own a tense marker still rules: 「去年被偷过，
/// 小偷一直没抓到」 is past, but in a long unpunctuated transcript an old
/// 「上次」 does not hide what happens many pauses later.
const CARRY: u8 = 2;

/// How far (bytes, about 24 CJK characters) a marker reaches within one
/// clause: an unpunctuated transcript is one long clause, and 「去年」 at its
/// start does not place what the caller says a minute later.
const REACH: usize = 72;

impl Clauses {
    fn of<'a>(
        text: &str,
        found: &[(usize, usize, usize)],
        roles: impl Fn(usize) -> &'a [Role],
    ) -> Clauses {
        let (mut starts, mut sentence) = (vec![0], vec![true]);
        for (i, c) in text.char_indices() {
            if ends_clause(c) {
                starts.push(i + c.len_utf8());
                sentence.push(ends_sentence(c));
            }
        }
        let n = starts.len();
        let mut sentence_of = Vec::with_capacity(n);
        let mut k = 0;
        for (i, new) in sentence.iter().enumerate() {
            if *new && i > 0 {
                k += 1;
            }
            sentence_of.push(k);
        }
        let mut markers = vec![Vec::new(); n];
        let mut about = vec![false; k + 1];
        // Clauses that name a danger themselves (any term of a line).
        let mut danger = vec![false; n];
        let clause_at = |pos: usize| starts.partition_point(|&s| s <= pos).saturating_sub(1);
        for &(s, _, p) in found {
            for r in roles(p) {
                match r {
                    Role::Tense(t) => markers[clause_at(s)].push((s, *t)),
                    Role::About => about[sentence_of[clause_at(s)]] = true,
                    Role::Emergency(_) | Role::Possible(_) | Role::Generic => {
                        danger[clause_at(s)] = true
                    }
                    _ => {}
                }
            }
        }
        for m in &mut markers {
            m.sort_by_key(|x| x.0);
        }
        let mut inherited = Vec::with_capacity(n);
        let (mut carry, mut left) = (Tense::Present, 0u8);
        for ((m, new_sentence), named) in markers.iter().zip(&sentence).zip(&danger) {
            if *new_sentence {
                left = 0;
            }
            inherited.push(if left > 0 { carry } else { Tense::Present });
            // Only a past that names a danger carries on (去年被偷过，小偷一直
            // 没抓到): 「之前有心脏病，突然晕倒了」 is present; a hypothesis or a
            // worry (会不会, 隐患) places its own clause, not what comes next.
            match m.last() {
                Some(&(_, Tense::Past)) if *named => (carry, left) = (Tense::Past, CARRY),
                Some(_) => left = 0,
                None => left = left.saturating_sub(1),
            }
        }
        Clauses {
            starts,
            markers,
            inherited,
            sentence_of,
            about,
        }
    }

    fn at(&self, pos: usize) -> usize {
        self.starts.partition_point(|&s| s <= pos).saturating_sub(1)
    }

    /// Whether clause `c` is in a sentence about a service.
    fn about(&self, c: usize) -> bool {
        self.about[self.sentence_of[c]]
    }

    /// The tense at `pos` in clause `c`: the nearest marker at or before it
    /// in the clause (a cry such as 救命 is its own present), else the first
    /// after it, else the one the clause inherited.
    fn tense(&self, c: usize, pos: usize) -> Tense {
        let m = &self.markers[c];
        let near = |s: usize| s.abs_diff(pos) <= REACH;
        if let Some(&(_, t)) = m.iter().rev().find(|(s, _)| *s <= pos && near(*s)) {
            return t;
        }
        if let Some(&(_, t)) = m.iter().find(|(s, _)| *s > pos && near(*s)) {
            return t;
        }
        self.inherited[c]
    }
}
