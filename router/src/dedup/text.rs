//! What "the same matter" is made of, without word segmentation: the text is
//! reduced to its matter-bearing characters (greetings, filler and function
//! characters dropped; traditional characters simplified; full-width forms,
//! case and Chinese numerals unified; punctuation, phone numbers and long
//! digit runs dropped), cut into overlapping character bigrams, and sketched
//! with MinHash (`K` 16-bit minima) so two texts' Jaccard similarity can be
//! estimated from 2·K bytes each.
//!
//! Words that name the problem itself (停水, 没水, 断水 …) are taken out
//! first by the [`Lexicon`] of matters (`router/data/matters.toml`) and
//! become a bit set of matters; the sketch is of what remains — the place
//! and the details — so that two phrasings of one problem at one place match
//! and the same phrasing at two places does not.
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use serde::Deserialize;

use super::types::{TypeModel, TypesError};

/// The embedded matters lexicon.
pub const EMBEDDED_MATTERS: &str = include_str!("../../data/matters.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MattersFile {
    matter: Vec<MatterDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatterDef {
    id: String,
    words: Vec<String>,
    /// The words name a service or a field (a bus line, a school, a
    /// shop's sales), not one problem with it: two texts sharing such a
    /// matter are one matter only if their problems do not differ.
    #[serde(default)]
    domain: bool,
}

/// A problem of the lexicon could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexiconError {
    #[error("matters file: {0}")]
    Parse(String),
    #[error("matters file: {0} matters, at most 64")]
    TooMany(usize),
    #[error("matters file: matter {0:?} has no words")]
    Empty(String),
    #[error("matters file: word {0:?} of {1:?} is less than two characters once simplified")]
    Short(String, String),
    #[error("matters file: automaton: {0}")]
    Build(String),
    #[error("problem types: {0}")]
    Types(String),
}

/// Words naming a matter, compiled into one automaton.
#[derive(Debug, Clone)]
pub struct Lexicon {
    ac: AhoCorasick,
    matter_of: Vec<u8>,
    pub ids: Vec<String>,
    /// The matters that name a service or field rather than a problem
    /// (`domain = true`), as a bit set.
    pub domains: u64,
    /// The problem-type model ([`super::types`]); the embedded one unless
    /// [`with_types`](Self::with_types) says otherwise.
    types: Option<std::sync::Arc<TypeModel>>,
}

/// The embedded problem-type model, read once for every lexicon.
static EMBEDDED_TYPES: std::sync::LazyLock<Result<std::sync::Arc<TypeModel>, TypesError>> =
    std::sync::LazyLock::new(|| TypeModel::embedded().map(std::sync::Arc::new));

impl Lexicon {
    pub fn parse(text: &str) -> Result<Lexicon, LexiconError> {
        let f: MattersFile =
            toml::from_str(text).map_err(|e| LexiconError::Parse(e.to_string()))?;
        if f.matter.len() > 64 {
            return Err(LexiconError::TooMany(f.matter.len()));
        }
        let mut words = Vec::new();
        let mut matter_of = Vec::new();
        let mut ids = Vec::new();
        let mut domains = 0u64;
        for (i, m) in f.matter.iter().enumerate() {
            if m.words.is_empty() {
                return Err(LexiconError::Empty(m.id.clone()));
            }
            ids.push(m.id.clone());
            if m.domain {
                domains |= 1 << i;
            }
            for w in &m.words {
                // Matched on matter text: simplified, numerals as digits.
                let c = matter_chars_raw(w);
                if c.chars().count() < 2 {
                    return Err(LexiconError::Short(w.clone(), m.id.clone()));
                }
                words.push(c);
                matter_of.push(i as u8);
            }
        }
        let ac = longest_first(&words).map_err(|e| LexiconError::Build(e.to_string()))?;
        let types = Some(
            EMBEDDED_TYPES
                .clone()
                .map_err(|e| LexiconError::Types(e.to_string()))?,
        );
        Ok(Lexicon {
            ac,
            matter_of,
            ids,
            domains,
            types,
        })
    }

    /// This lexicon with another problem-type model, or none (problems are
    /// then compared on their characters and categories only).
    pub fn with_types(mut self, types: Option<TypeModel>) -> Lexicon {
        self.types = types.map(std::sync::Arc::new);
        self
    }

    /// The problem-type model in use, if any.
    pub fn types(&self) -> Option<&TypeModel> {
        self.types.as_deref()
    }

    pub fn embedded() -> Result<Lexicon, LexiconError> {
        Lexicon::parse(EMBEDDED_MATTERS)
    }

    /// The places of a text (`simplified`, and `unfilled`: the same
    /// without its filler, [`without_filler`]), read with its function
    /// characters (a name's 地 or 好 is part of it; 那个, 我们 before a
    /// place word say it is not named), without those it names only to
    /// deny them, nor those it names as a landmark beside another place it
    /// names (a landmark alone is the only clue to where the caller is,
    /// and is kept).
    fn own_places(&self, simplified: &str, unfilled: &str) -> [u32; PLACES] {
        let (denials, landmarks) = other_place_spans(simplified);
        // Each piece is read on its own, so no place name is made up of
        // the characters on both sides of a blank.
        let read = |spans: &[(usize, usize)]| {
            let (text, ends) = place_pieces(&outside(unfilled, spans));
            let segs: Vec<&str> = pieces(&text, &ends)
                .into_iter()
                .flat_map(|p| self.split(p).1)
                .collect();
            places(&segs)
        };
        if denials.is_empty() && landmarks.is_empty() {
            return read(&[]);
        }
        let fine = |p: &[u32; PLACES]| p.iter().any(|x| *x != 0 && x & AREA == 0);
        if !landmarks.is_empty() {
            let mut both = [denials.as_slice(), landmarks.as_slice()].concat();
            both.sort_unstable();
            let own = read(&both);
            if fine(&own) {
                return own;
            }
        }
        read(&denials)
    }

    /// The matters named in `chars` (a bit each) and the rest of the text as
    /// segments between the matter words.
    pub fn split<'a>(&self, s: &'a str) -> (u64, Vec<&'a str>) {
        let mut matters = 0u64;
        let mut segs = Vec::new();
        let mut last = 0;
        for m in self.ac.find_iter(s) {
            if let Some(&i) = self.matter_of.get(m.pattern().as_usize()) {
                matters |= 1 << i;
            }
            segs.push(&s[last..m.start()]);
            last = m.end();
        }
        segs.push(&s[last..]);
        (matters, segs)
    }

    /// A contact text's matters, places and the sketch of the rest.
    pub fn features(&self, content: &str) -> Features {
        self.features_at(content, "")
    }

    /// [`features_at`](Self::features_at) and the problem's telling
    /// characters (the categories are the caller's to set).
    pub fn features_and_problem(&self, content: &str, address: &str) -> (Features, Problem) {
        let (f, problem, _) = self.record_parts(content, address);
        (f, problem)
    }

    /// [`features_and_problem`](Self::features_and_problem) and whether
    /// the text refers back to an earlier contact
    /// ([`super::follow_up`]), the text converted to simplified once.
    pub fn record_parts(
        &self,
        content: &str,
        address: &str,
    ) -> (Features, Problem, super::follow_up::Reference) {
        let simplified = fast2s::convert(content);
        let follow_up = super::follow_up::reference_simplified(&simplified);
        let mut problem = Problem::default();
        let f = self.features_with(&simplified, address, Some(&mut problem));
        problem.names = match &self.types {
            Some(m) => {
                let mut names = super::names::Names::default();
                let (ids, p) = m.predict_text_and_names(&simplified, &mut names);
                problem.types = super::types::TypeSet { ids, p };
                names.get()
            }
            None => super::names::of(&simplified),
        };
        (f, problem, follow_up)
    }

    /// [`features`](Self::features) with the places of the contact's
    /// address added after the text's own (a caller who names no place in
    /// the text is still at the address the agent recorded).
    pub fn features_at(&self, content: &str, address: &str) -> Features {
        self.features_with(&fast2s::convert(content), address, None)
    }

    /// The features of a text already converted to simplified characters.
    fn features_with(
        &self,
        simplified: &str,
        address: &str,
        problem: Option<&mut Problem>,
    ) -> Features {
        let unfilled = without_filler(simplified);
        let text = chars_of(&unfilled);
        let (matters, segs) = self.split(&text);
        let mut places = self.own_places(simplified, &unfilled);
        // The sketch is of the problem: place names (up to four characters
        // before a place word, and the word) are left out, so two problems
        // at one place do not look alike for naming it.
        let rest = without_places(&segs);
        if !address.trim().is_empty() && places.contains(&0) {
            let addr = without_filler(&fast2s::convert(address));
            let (addr, ends) = place_pieces(&[&addr]);
            // Only the fine places: every address names its town or
            // subdistrict, which would join every contact of the area.
            for p in self::places(&pieces(&addr, &ends)) {
                if p != 0 && p & AREA == 0 && !places.contains(&p) {
                    if let Some(slot) = places.iter_mut().find(|s| **s == 0) {
                        *slot = p;
                    }
                }
            }
        }
        if let Some(p) = problem {
            p.set_terms(super::rarity::terms(&rest));
        }
        Features {
            matters,
            places,
            sketch: sketch(&shingles_of(&rest)),
        }
    }
}

/// What matching compares of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    pub matters: u64,
    /// Hashes of the places named (0 = none), at most [`PLACES`].
    pub places: [u32; PLACES],
    pub sketch: Sketch,
}

impl Features {
    /// Both texts name matters the lexicon knows, and none in common: the
    /// lexicon says they are on different matters.
    pub fn other_matters_than(&self, o: &Features) -> bool {
        self.matters != 0 && o.matters != 0 && self.matters & o.matters == 0
    }
}

/// What the cluster rule for matters the lexicon does not know compares
/// besides places: kept in each cluster's representatives and in the
/// stored record, not in every caller's history (repeats do not use it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Problem {
    /// The problem part's most telling characters (see [`super::rarity`]),
    /// rarest first, 0 = none, and their weights.
    pub terms: [u16; super::rarity::TERMS],
    pub weights: [u8; super::rarity::TERMS],
    /// The classifier's likeliest categories (16-bit hashes of their codes,
    /// 0 = none) and their probabilities in 255ths: two texts on one matter
    /// share probability even when their likeliest categories differ.
    pub cats: [u16; CATS],
    pub cat_p: [u8; CATS],
    /// The likeliest problem types and their weights ([`super::types`]).
    pub types: super::types::TypeSet,
    /// The proper names the text uses ([`super::names`]), 0 = none.
    pub names: [u32; super::names::NAMES],
}

/// Categories kept per text.
pub const CATS: usize = 3;

impl Problem {
    /// Sets the terms and looks up their weights.
    pub fn set_terms(&mut self, terms: [u16; super::rarity::TERMS]) {
        self.terms = terms;
        self.weights = terms.map(super::rarity::weight);
    }

    /// Whether the two texts name one thing by a proper name
    /// ([`super::names`]).
    pub fn shares_a_name(&self, o: &Problem) -> bool {
        super::names::shared(&self.names, &o.names)
    }

    /// The cosine of the two problems' type distributions (0 when either
    /// has none).
    pub fn type_agreement(&self, o: &Problem) -> f64 {
        self.types.agreement(&o.types)
    }

    /// Whether both texts' problem types are known and agree less than
    /// `below`: two different problems, wherever they are.
    pub fn types_differ(&self, o: &Problem, below: f64) -> bool {
        self.types.differ(&o.types, below)
    }

    /// The probability two texts' category distributions share (the sum of
    /// the smaller probability of each category both name), 0 to 1.
    pub fn category_agreement(&self, o: &Problem) -> f64 {
        let mut shared = 0u32;
        for (c, p) in self.cats.iter().zip(self.cat_p) {
            if *c == 0 {
                continue;
            }
            if let Some(i) = o.cats.iter().position(|x| x == c) {
                shared += u32::from(p.min(o.cat_p[i]));
            }
        }
        f64::from(shared) / 255.0
    }

    /// Sets the category distribution: `cats` strongest first, with their
    /// probabilities (a category decided without the classifier is certain).
    pub fn set_categories<'a>(&mut self, cats: impl IntoIterator<Item = (&'a str, f32)>) {
        self.cats = [0; CATS];
        self.cat_p = [0; CATS];
        for (i, (c, p)) in cats.into_iter().take(CATS).enumerate() {
            self.cats[i] = (xxhash_rust::xxh3::xxh3_64(c.as_bytes()) as u16).max(1);
            self.cat_p[i] = (p.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
}

/// Places kept per text.
pub const PLACES: usize = 3;

/// Words that end a place name: a compound, a road, a company, a shop.
const PLACE_SUFFIXES: &[&str] = &[
    "小区",
    "花园",
    "华庭",
    "名苑",
    "家园",
    "嘉园",
    "雅苑",
    "雅居",
    "新区",
    "新村",
    "公寓",
    "大厦",
    "广场",
    "社区",
    "大道",
    "国际",
    "水岸",
    "名都",
    "公馆",
    "天地",
    "公司",
    "工地",
    "学校",
    "医院",
    "市场",
    "超市",
    "饭店",
    "小馆",
    "面馆",
    "米粉店",
    "火锅",
    "烧烤",
    "小学",
    "中学",
    "大学",
    "幼儿园",
    "卫生院",
    "诊所",
    "银行",
    "车站",
    "公园",
    "酒店",
    "宾馆",
    "站",
    "厂",
    "店",
    "路",
    "街道",
    "街",
    "巷",
    "村",
    "镇",
    "乡",
    "城",
    "苑",
    "湾",
    "园",
    "府",
    "庭",
    "港",
];

/// Characters before 路/街/城 … that make a common word, not a place (走路, 马路 …).
fn not_a_place(prev: char) -> bool {
    "走跑马道修让开绕迷带问上过公铁线电水网出进一小大商".contains(prev)
}

/// A function character (one the matter text drops) that never ends a place
/// name; 地, 好, 和, 都 and 会 do (湿地公园, 梨都花园, 三会村).
fn function_char(c: char) -> bool {
    is_stop(c) && !"地好和都会".contains(c)
}

/// Whether a town word is part of a common word, not a town's name: 县城,
/// 进城, 回城, 省城, 城管, 城区, 城里, 下乡, 城乡, 老乡, 回乡 (`suf` the
/// town word, `p1` the character before it, `next` the one after). Only
/// words no town of the city is named by: 罗家乡, 新场镇 and 元山镇上坝村
/// keep their towns.
fn generic_area(suf: &str, p1: char, next: Option<char>) -> bool {
    match suf {
        "城" => "县进回省".contains(p1) || next.is_some_and(|c| "管区里".contains(c)),
        "乡" => "下城老回".contains(p1),
        _ => false,
    }
}

/// The segments with every place name cut out (the place word and up to
/// four characters before it), as more segments.
fn without_places<'a>(segs: &[&'a str]) -> Vec<&'a str> {
    let Some(ac) = &*PLACE_AC else {
        return segs.to_vec();
    };
    let mut out = Vec::with_capacity(segs.len() + 2);
    for s in segs {
        let mut last = 0;
        for m in ac.find_iter(s) {
            let suf = &s[m.start()..m.end()];
            let before = &s[last..m.start()];
            let p1 = before.chars().next_back();
            if p1.is_none() || (suf.chars().count() == 1 && p1.is_some_and(not_a_place)) {
                continue;
            }
            let cut = before
                .char_indices()
                .rev()
                .nth(3)
                .map_or(last, |(i, _)| last + i);
            out.push(&s[last..cut]);
            last = m.end();
        }
        out.push(&s[last..]);
    }
    out.retain(|x| !x.is_empty());
    out
}

/// Words after which a caller names a place only to tell which one it
/// is not (不是锦绣华庭, 18路，不是8路) — not after 是, as in the question
/// 是不是 — and words that name a place as a landmark beside the caller's
/// own (就在滨河丽景隔壁, 就是滨江花园隔壁那个小区).
const DENIAL: &str = "不是";
const NEAR: &[&str] = &["就在", "就是"];
const BESIDE: &[&str] = &["隔壁", "旁边", "对面", "背后", "后面", "附近", "边上"];

/// The longest span a denied or landmark place is looked for in, in
/// characters.
const SPAN: usize = 12;

/// Where a denied or landmark place's span that starts at `from` ends: at
/// the first character that is not a letter or digit (punctuation, a
/// space), at 是 (不是锦绣华庭是锦华苑: the caller's own place follows), or
/// after [`SPAN`] characters.
fn span_end(text: &str, from: usize) -> usize {
    text[from..]
        .char_indices()
        .take(SPAN)
        .find(|&(_, c)| !c.is_alphanumeric() || c == '是')
        .map_or_else(
            || {
                text[from..]
                    .char_indices()
                    .nth(SPAN)
                    .map_or(text.len(), |(i, _)| from + i)
            },
            |(i, _)| from + i,
        )
}

/// Byte spans of a text, sorted.
type Spans = Vec<(usize, usize)>;

/// The byte spans of `simplified` that hold a place named only to deny it
/// (`denials`) or as a landmark (`landmarks`).
fn other_place_spans(simplified: &str) -> (Spans, Spans) {
    let mut denials = Vec::new();
    for (at, _) in simplified.match_indices(DENIAL) {
        if simplified[..at].ends_with('是') {
            continue;
        }
        let from = at + DENIAL.len();
        denials.push((from, span_end(simplified, from)));
    }
    let mut landmarks = Vec::new();
    for (at, near) in NEAR.iter().flat_map(|w| simplified.match_indices(w)) {
        let from = at + near.len();
        let end = span_end(simplified, from);
        if let Some(cut) = BESIDE
            .iter()
            .filter_map(|w| simplified[from..end].find(w))
            .min()
        {
            landmarks.push((from, from + cut));
        }
    }
    denials.sort_unstable();
    landmarks.sort_unstable();
    (denials, landmarks)
}

/// The pieces of `text` outside `spans` (sorted; overlapping ones merged).
fn outside<'a>(text: &'a str, spans: &[(usize, usize)]) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(spans.len() + 1);
    let mut last = 0;
    for &(from, to) in spans {
        if from >= last {
            out.push(&text[last..from]);
        }
        last = last.max(to);
    }
    out.push(&text[last..]);
    out
}

/// Hashes of "two characters before a place suffix + the suffix": the
/// stable end of a place name whatever precedes it.
pub fn places(segs: &[&str]) -> [u32; PLACES] {
    let mut out = [0u32; PLACES];
    let Some(ac) = &*PLACE_AC else {
        return out;
    };
    let mut n = 0;
    for s in segs {
        for m in ac.find_iter(s) {
            let before = &s[..m.start()];
            let suf = &s[m.start()..m.end()];
            let area_suffix = matches!(suf, "镇" | "乡" | "城" | "街道");
            let before = if suf == "市场" {
                without_market_kind(before)
            } else {
                before
            };
            let mut prev = before.chars().rev().peekable();
            // The town a place is in is no part of its name: 白驿镇卫生院
            // and 白驿卫生院 are one clinic.
            // (Not before 路: "3区路口" would read as bus line 3.)
            // So is a 的 or 上 after the town (白驿镇的卫生院).
            let mut look = prev.clone();
            if !area_suffix
                && matches!(look.next(), Some('的' | '上'))
                && look.next().is_some_and(|c| "镇乡县区".contains(c))
            {
                prev.next();
            }
            if !area_suffix && suf != "路" && prev.next_if(|c| "镇乡县区".contains(*c)).is_some()
            {
                prev.next_if(|c| "街".contains(*c));
            }
            let (Some(p1), p2) = (prev.next(), prev.next()) else {
                continue;
            };
            // A function character before the name is no part of it (我是竹园,
            // 的竹园, 住李村 and 竹园 are one place); one inside it is
            // (湿地公园, 梨都花园).
            let p2 = p2.filter(|c| !function_char(*c) && !"去回哪住".contains(*c));
            if suf.chars().count() == 1 && not_a_place(p1) {
                continue;
            }
            if area_suffix && generic_area(suf, p1, s[m.end()..].chars().next()) {
                continue;
            }
            // "那个幼儿园", "我们的小区", "那家店": a place referred to, not
            // named; it tells nothing about which one.
            // A function character right before the place word says the
            // same (在小区, 请市场, 还有学校), but for those that end names.
            if function_char(p1)
                || ("家所座条间栋".contains(p1)
                    && p2.is_none_or(|c| c.is_ascii_digit() || "那这一哪两几".contains(c)))
            {
                continue;
            }
            // A number before 路 is a bus line (6路, 11路), an identity of
            // its own: the whole number and 路, whatever comes before, and
            // two different lines are two matters at any stop.
            let is_line = suf == "路" && p1.is_ascii_digit();
            let mut key = String::with_capacity(16);
            if is_line {
                let digits = before.len()
                    - before
                        .chars()
                        .rev()
                        .take_while(char::is_ascii_digit)
                        .count();
                key.push_str(&before[digits..]);
            } else {
                if let Some(p2) = p2 {
                    key.push(p2);
                }
                key.push(p1);
            }
            key.push_str(suf);
            // The top bit marks an area (a town or township named alone),
            // which places nothing finely enough to join different callers.
            let area = if area_suffix { AREA } else { 0 };
            let line = if is_line { LINE } else { 0 };
            let h = ((mix(xxhash_rust::xxh3::xxh3_64(key.as_bytes())) as u32) & !(AREA | LINE))
                .max(1)
                | area
                | line;
            if n < PLACES && !out[..n].contains(&h) {
                out[n] = h;
                n += 1;
            }
        }
    }
    out
}

/// What comes before 市场 without the market's kind, which is no part of
/// its name: 东坝菜市场, 東壩農貿市場 and 东坝市场 are one market (卖菜市场
/// and a bare 菜市场 keep their 菜).
fn without_market_kind(before: &str) -> &str {
    if let Some(name) = before.strip_suffix("农贸") {
        return name;
    }
    match before.strip_suffix('菜') {
        Some(name) if !name.is_empty() && !name.ends_with(['卖', '买']) => name,
        _ => before,
    }
}

/// The bit of a place hash that marks an area (镇, 乡, 城) rather than a
/// compound, street, village or shop.
pub const AREA: u32 = 1 << 31;

/// The bit of a place hash that marks a bus line (6路): compared as a
/// place, and two sets naming only different lines never agree.
pub const LINE: u32 = 1 << 30;

/// Whether both place sets name bus lines and none in common.
fn other_lines(a: &[u32; PLACES], b: &[u32; PLACES]) -> bool {
    let lines = |x: &[u32; PLACES]| x.iter().any(|p| p & LINE != 0);
    lines(a) && lines(b) && !a.iter().any(|x| x & LINE != 0 && b.contains(x))
}

/// A place finer than a town named in both sets (bus lines not looked at).
fn shares_fine_place(a: &[u32; PLACES], b: &[u32; PLACES]) -> bool {
    a.iter().any(|x| *x != 0 && x & AREA == 0 && b.contains(x))
}

/// Whether two place sets share a place finer than a town (`Some(true)`),
/// both name such places and share none — two compounds, streets, villages
/// or shops, whatever town both name, or two bus lines at one stop
/// (`Some(false)`) — or one names none (`None`).
pub fn fine_place_agreement(a: &[u32; PLACES], b: &[u32; PLACES]) -> Option<bool> {
    if other_lines(a, b) {
        return Some(false);
    }
    if shares_fine_place(a, b) {
        return Some(true);
    }
    let fine = |x: &[u32; PLACES]| x.iter().any(|p| *p != 0 && p & AREA == 0);
    (fine(a) && fine(b)).then_some(false)
}

/// Whether two place sets are known and share a place (`Some(true)`),
/// are known and share none (`Some(false)`), or one is unknown (`None`).
pub fn same_place(a: &[u32; PLACES], b: &[u32; PLACES]) -> Option<bool> {
    if a[0] == 0 || b[0] == 0 {
        return None;
    }
    Some(a.iter().any(|x| *x != 0 && b.contains(x)) && !other_lines(a, b))
}

/// MinHash size: 16 values of 16 bits (32 bytes per sketch).
pub const K: usize = 16;

/// A text's sketch: the MinHash minima and how many distinct bigrams it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sketch {
    pub mins: [u16; K],
    pub len: u16,
}

/// Phrases that carry no matter: greetings, politeness, "I want to report",
/// and the generic verbs every contact shares. Longest first.
const FILLER: &[&str] = &[
    "还是上次反映的",
    "第二次打电话",
    "之前打过电话",
    "我之前打过",
    "打过电话",
    "上次反映",
    "上周反映",
    "又来反映",
    "家里有老人",
    "实在是等不起",
    "等不起",
    "安排人",
    "尽快安排",
    "什么时候",
    "怎么回事",
    "到现在",
    "一直",
    "没人管",
    "不管",
    "严重",
    "影响",
    "居民",
    "生活",
    "好几",
    "很多",
    "上次",
    "之前",
    "尽快",
    "我想咨询一下",
    "我想反映一下",
    "我要反映一下",
    "我想问一下",
    "麻烦你们",
    "麻烦您",
    "相关部门",
    "有关部门",
    "尽快处理",
    "尽快解决",
    "帮忙处理",
    "帮忙解决",
    "希望能够",
    "我要反映",
    "我想反映",
    "我要反应",
    "我想反应",
    "我要投诉",
    "我想投诉",
    "我要举报",
    "我想举报",
    "我想咨询",
    "你好",
    "您好",
    "请问",
    "麻烦",
    "谢谢",
    "感谢",
    "反映",
    "反应",
    "投诉",
    "举报",
    "咨询",
    "一下",
    "那个",
    "就是",
    "然后",
    "这边",
    "我们",
    "你们",
    "他们",
    "希望",
    "处理",
    "解决",
    "问题",
    "情况",
    "现在",
    "热线",
    "政府",
    "12345",
];

/// Function characters dropped after the filler phrases.
fn is_stop(c: char) -> bool {
    matches!(
        c,
        '的' | '了'
            | '吗'
            | '呢'
            | '吧'
            | '啊'
            | '呀'
            | '嗯'
            | '哦'
            | '喂'
            | '哈'
            | '是'
            | '在'
            | '我'
            | '你'
            | '您'
            | '他'
            | '她'
            | '们'
            | '有'
            | '和'
            | '也'
            | '都'
            | '就'
            | '还'
            | '很'
            | '请'
            | '要'
            | '想'
            | '这'
            | '那'
            | '个'
            | '又'
            | '再'
            | '被'
            | '把'
            | '让'
            | '给'
            | '对'
            | '从'
            | '到'
            | '得'
            | '地'
            | '着'
            | '过'
            | '么'
            | '什'
            | '怎'
            | '为'
            | '啥'
            | '能'
            | '会'
            | '好'
    )
}

fn numeral(c: char) -> Option<char> {
    Some(match c {
        '〇' | '零' => '0',
        '一' => '1',
        '二' | '两' => '2',
        '三' => '3',
        '四' => '4',
        '五' => '5',
        '六' => '6',
        '七' => '7',
        '八' => '8',
        '九' => '9',
        _ => return None,
    })
}

/// The matter-bearing characters of a contact's text.
pub fn matter_chars(content: &str) -> String {
    matter_chars_simplified(&fast2s::convert(content))
}

/// Filler that refers to a place rather than padding the sentence: a
/// place word right after it is not named (那个幼儿园, 我们小区).
const REFERENCE_FILLER: &[&str] = &["那个", "这个", "那家", "这家", "我们", "你们", "他们"];

/// Punctuation that ends a clause: no place name spans it.
fn clause_end(c: char) -> bool {
    "，。；！？、,.;!?\n\r：:".contains(c)
}

/// `s` with every filler phrase blanked: each of its characters becomes
/// spaces of the same length, so byte offsets into `s` stay offsets into
/// the result (and the spans of [`other_place_spans`] apply to it); the
/// first character of a filler that refers to a place ([`REFERENCE_FILLER`])
/// becomes a clause's end instead, so a place word right after 那个 starts
/// a piece and has no name. Filler phrases are ideographs only: they match
/// the same before or after full-width forms and case are folded.
fn without_filler(s: &str) -> String {
    let Some(ac) = &*FILLER_AC else {
        return s.to_string();
    };
    let mut out = String::with_capacity(s.len());
    ac.replace_all_with(s, &mut out, |_, word, dst| {
        let reference = REFERENCE_FILLER.contains(&word);
        for (i, c) in word.chars().enumerate() {
            if i == 0 && reference && c.len_utf8() == '，'.len_utf8() {
                dst.push('，');
            } else {
                dst.extend(std::iter::repeat_n(' ', c.len_utf8()));
            }
        }
        true
    });
    out
}

/// The pieces of an unfilled text ([`without_filler`]) places are read
/// from: its word characters with the function characters kept, cut at the
/// end of a clause (spaces and quotes are not cuts), and each of `parts`
/// apart. One string, and the end of each piece in it.
fn place_pieces(parts: &[&str]) -> (String, Vec<usize>) {
    let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    let mut ends = Vec::new();
    for clause in parts.iter().flat_map(|p| p.split(clause_end)) {
        push_chars(clause, true, &mut text);
        if ends.last().copied().unwrap_or(0) < text.len() {
            ends.push(text.len());
        }
    }
    (text, ends)
}

/// The pieces of `text` that end at `ends`.
fn pieces<'a>(text: &'a str, ends: &[usize]) -> Vec<&'a str> {
    let mut start = 0;
    ends.iter()
        .filter_map(|&end| {
            let piece = text.get(start..end);
            start = end;
            piece
        })
        .collect()
}

/// [`matter_chars`] of a text already converted to simplified characters.
fn matter_chars_simplified(s: &str) -> String {
    chars_of(&without_filler(s))
}

/// The automaton every word list of dedup is searched with: a DFA (built
/// once, searched per contact) whose matches are the leftmost, longest
/// first (还是上次 before 还是, 米粉店 before 店).
pub(super) fn longest_first<I, P>(words: I) -> Result<AhoCorasick, aho_corasick::BuildError>
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    AhoCorasickBuilder::new()
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(MatchKind::LeftmostLongest)
        .build(words)
}

/// One automaton over the filler phrases (built once).
static FILLER_AC: std::sync::LazyLock<Option<AhoCorasick>> =
    std::sync::LazyLock::new(|| longest_first(FILLER).ok());

/// One automaton over the place suffixes (built once).
static PLACE_AC: std::sync::LazyLock<Option<AhoCorasick>> =
    std::sync::LazyLock::new(|| longest_first(PLACE_SUFFIXES).ok());

/// Simplified and unified characters, without dropping filler.
pub(crate) fn matter_chars_raw(w: &str) -> String {
    chars_of(&fast2s::convert(w))
}

/// Letters, digits and ideographs; the common cases without Unicode tables.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || crate::normalize::is_ideograph(c)
        || (!c.is_ascii() && c.is_alphanumeric())
}

/// Full-width ASCII to ASCII, ASCII lower case: what NFKC does to the
/// characters matching cares about, without its tables.
fn fold_width(c: char) -> char {
    crate::normalize::fold_full_width(c).to_ascii_lowercase()
}

/// The word characters of `s`, widths and case folded, Chinese numerals as
/// digits, runs of more than 4 digits dropped, stop characters dropped.
fn chars_of(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_chars(s, false, &mut out);
    out
}

/// [`chars_of`] appended to `out`, keeping the function characters if
/// `stops` (what places are read from: 湿地公园 keeps its 地).
fn push_chars(s: &str, stops: bool, out: &mut String) {
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        // Up to 4 digits (a building, a day count) is matter; longer runs
        // are phone numbers, ids and dates.
        if digits.len() <= 4 {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in s.chars().map(fold_width) {
        let c = numeral(c).unwrap_or(c);
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush(&mut digits, out);
        if is_word_char(c) && (stops || !is_stop(c)) {
            out.push(c);
        }
    }
    flush(&mut digits, out);
}

/// The splitmix64 finalizer: a cheap, well-mixed hash of a 64-bit value
/// (also the classifier's feature hash).
pub(crate) fn mix(mut x: u64) -> u64 {
    // splitmix64 finalizer.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn bigram(a: char, b: char) -> u64 {
    mix((u64::from(a as u32) << 32) | u64::from(b as u32))
}

/// Hashes of the distinct character bigrams of the segments (no bigram
/// spans two segments; unigrams for a text of one or two characters).
pub fn shingles_of(segs: &[&str]) -> Vec<u64> {
    let total: usize = segs.iter().map(|s| s.chars().count()).sum();
    let mut v: Vec<u64> = Vec::with_capacity(total);
    if total >= 3 {
        for seg in segs {
            let mut it = seg.chars();
            let Some(mut prev) = it.next() else { continue };
            let mut single = true;
            for c in it {
                v.push(bigram(prev, c));
                prev = c;
                single = false;
            }
            if single {
                v.push(mix(u64::from(prev as u32)));
            }
        }
    } else {
        v.extend(
            segs.iter()
                .flat_map(|s| s.chars())
                .map(|c| mix(u64::from(c as u32))),
        );
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// The MinHash sketch of a set of shingle hashes.
pub fn sketch(sh: &[u64]) -> Sketch {
    let mut mins = [u16::MAX; K];
    let mut full = [u64::MAX; K];
    for &h in sh {
        // `h` is already well mixed: one multiply by an odd seed and a
        // rotation per permutation is enough.
        for (m, seed) in full.iter_mut().zip(SEEDS.iter()) {
            let v = (h ^ seed).wrapping_mul(seed | 1).rotate_left(29);
            if v < *m {
                *m = v;
            }
        }
    }
    for i in 0..K {
        mins[i] = (full[i] >> 48) as u16;
    }
    Sketch {
        mins,
        len: u16::try_from(sh.len()).unwrap_or(u16::MAX),
    }
}

const SEEDS: [u64; K] = {
    let mut s = [0u64; K];
    let mut i = 0;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while i < K {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        s[i] = z ^ (z >> 31);
        i += 1;
    }
    s
};

impl Sketch {
    /// Estimated Jaccard similarity of the two bigram sets.
    pub fn jaccard(&self, o: &Sketch) -> f64 {
        if self.len == 0 || o.len == 0 {
            return 0.0;
        }
        let same = self
            .mins
            .iter()
            .zip(o.mins.iter())
            .filter(|(a, b)| a == b)
            .count();
        same as f64 / K as f64
    }

    /// Estimated containment: shared bigrams over the smaller set's, which
    /// does not punish a short "still the same outage" against a long first report.
    pub fn containment(&self, o: &Sketch) -> f64 {
        let j = self.jaccard(o);
        let (a, b) = (f64::from(self.len), f64::from(o.len));
        if a == 0.0 || b == 0.0 {
            return 0.0;
        }
        let inter = j * (a + b) / (1.0 + j);
        (inter / a.min(b)).min(1.0)
    }

    /// The similarity the matching uses: the larger of Jaccard and a
    /// containment discounted for very short texts.
    pub fn similarity(&self, o: &Sketch) -> f64 {
        let short = f64::from(self.len.min(o.len));
        // Containment of a 2-bigram text says little: weigh it by size.
        let w = (short / 6.0).min(1.0);
        self.jaccard(o).max(self.containment(o) * w)
    }
}

#[cfg(test)]
mod filler_tests {
    use super::*;

    /// `matter_chars` drops filler before folding widths and case: right
    /// while every filler phrase is ideographs, or a number of more than 4
    /// digits (which `chars_of` drops anyway, written full-width or not).
    #[test]
    fn filler_phrases_are_ideographs_or_long_numbers() {
        for f in FILLER {
            let ideographs = f.chars().all(crate::normalize::is_ideograph);
            let number = f.len() > 4 && f.chars().all(|c| c.is_ascii_digit());
            assert!(ideographs || number, "{f:?}");
        }
        assert_eq!(
            matter_chars("打１２３４５热线"),
            matter_chars("打12345热线")
        );
    }

    #[test]
    fn full_width_and_case_fold_like_the_ascii_text() {
        assert_eq!(matter_chars("ＡＢＣ小区３号楼"), "abc小区3号楼");
        assert_eq!(
            matter_chars("ＡＢＣ小区３号楼"),
            matter_chars("abc小区3号楼")
        );
    }
}

/// What the place and text helpers give, checked on their own (found by
/// cargo-mutants: the dedup tests met them only through whole contacts).
#[cfg(test)]
mod helper_tests {
    use super::*;

    fn p(s: &str) -> [u32; PLACES] {
        places(&[s])
    }

    #[test]
    fn a_lexicon_holds_at_most_64_matters() {
        let lexicon = |n: usize| {
            (0..n)
                .map(|i| format!("[[matter]]\nid = \"m{i}\"\nwords = [\"词{i}号\"]\n"))
                .collect::<String>()
        };
        assert!(Lexicon::parse(&lexicon(64)).is_ok());
        assert!(matches!(
            Lexicon::parse(&lexicon(65)),
            Err(LexiconError::TooMany(65))
        ));
    }

    #[test]
    fn common_words_ending_like_a_place_are_not_places() {
        assert_eq!(p("走路去买菜"), [0; PLACES], "走路");
        assert_eq!(p("马路上"), [0; PLACES], "马路");
        assert_ne!(p("建设路")[0], 0, "a street");
        // A two-character place word after such a character is still one.
        assert_ne!(p("东大街道")[0], 0, "大 + 街道");
    }

    #[test]
    fn common_words_with_a_town_word_are_no_town() {
        let areas = |s: &str| p(s).iter().filter(|x| **x & AREA != 0).count();
        assert_eq!(areas("只有开车跑到县城去"), 0, "县城");
        assert_eq!(areas("喊城管来看一下"), 0, "城管");
        assert_eq!(areas("城里的老乡都晓得"), 0, "城里, 老乡");
        assert_eq!(areas("元山镇青岗村"), 1, "a town");
        assert_eq!(areas("昭化古城东门"), 1, "a town's name");
        assert_eq!(areas("罗家乡停水了"), 1, "家 ends a township's name");
        assert_eq!(areas("新场镇停水了"), 1, "场 too");
        assert_eq!(areas("元山镇上坝村"), 1, "a town, then a village");
    }

    #[test]
    fn a_place_denied_or_beside_is_found_and_nothing_else() {
        fn spans(s: &str) -> (Vec<&str>, Vec<&str>) {
            let (d, l) = other_place_spans(s);
            let show = |v: Spans| -> Vec<&str> { v.into_iter().map(|(a, b)| &s[a..b]).collect() };
            (show(d), show(l))
        }
        let none: (Vec<&str>, Vec<&str>) = (vec![], vec![]);
        assert_eq!(
            spans("我是锦华苑的，不是锦绣华庭哈"),
            (vec!["锦绣华庭哈"], vec![])
        );
        assert_eq!(
            spans("不是锦绣华庭是锦华苑3栋"),
            (vec!["锦绣华庭"], vec![]),
            "是 ends a denial"
        );
        assert_eq!(spans("是不是锦绣华庭停水了"), none);
        assert_eq!(
            spans("滨河雅居，就在滨河丽景隔壁，没水"),
            (vec![], vec!["滨河丽景"])
        );
        assert_eq!(spans("就在滨河丽景门口"), none, "no landmark word");
        assert_eq!(spans("幸福小区停水了"), none);
        assert_eq!(
            outside("abcdef", &[(1, 2), (1, 3), (4, 5)]),
            vec!["a", "d", "f"]
        );
    }

    #[test]
    fn a_markets_kind_is_cut_from_its_name() {
        assert_eq!(without_market_kind("东坝农贸"), "东坝");
        assert_eq!(without_market_kind("东坝菜"), "东坝");
        assert_eq!(without_market_kind("东坝"), "东坝");
        assert_eq!(without_market_kind("卖菜"), "卖菜");
        assert_eq!(without_market_kind("菜"), "菜");
    }

    #[test]
    fn filler_is_blanked_in_place() {
        assert_eq!(without_filler("你好幸福小区停水"), "      幸福小区停水");
        assert_eq!(without_filler("那个幼儿园"), "，   幼儿园");
    }

    proptest::proptest! {
        /// Blanking filler keeps every byte offset and character boundary,
        /// so spans found on the text slice the blanked text.
        #[test]
        fn blanking_filler_keeps_the_offsets(s in "[你好那个我们反映幸福小区a1 ，]{0,24}") {
            let b = without_filler(&s);
            proptest::prop_assert_eq!(b.len(), s.len());
            for (i, _) in s.char_indices() {
                proptest::prop_assert!(b.is_char_boundary(i));
            }
        }
    }

    #[test]
    fn a_bus_line_is_its_number_and_a_street_is_not_a_line() {
        let line = p("坐11路")[0];
        assert_ne!(line & LINE, 0);
        assert_eq!(p("11路")[0], line, "whatever comes before the number");
        assert_ne!(p("6路")[0], line);
        assert_eq!(p("建设路")[0] & LINE, 0);
        assert_eq!(
            p("利州区东坝街道")[0] & AREA,
            AREA,
            "a subdistrict is an area"
        );
        assert_eq!(p("幸福小区")[0] & AREA, 0);
    }

    #[test]
    fn fine_places_agree_only_when_both_name_one() {
        let (town, town2) = (p("东坝街道"), p("嘉陵街道"));
        let (compound, compound2) = (p("幸福小区"), p("阳光小区"));
        assert_eq!(fine_place_agreement(&town, &town2), None, "areas only");
        assert_eq!(
            fine_place_agreement(&compound, &town),
            None,
            "one side fine"
        );
        assert_eq!(fine_place_agreement(&compound, &compound2), Some(false));
        assert_eq!(fine_place_agreement(&compound, &compound), Some(true));
    }

    #[test]
    fn place_names_are_cut_from_the_rest_but_common_words_stay() {
        assert_eq!(
            without_places(&["我家住幸福小区路灯坏了"]),
            vec!["我", "路灯坏了"],
            "the place word and up to four characters before it"
        );
        assert_eq!(without_places(&["走路很黑"]), vec!["走路很黑"]);
        assert_eq!(
            without_places(&["路灯坏了"]),
            vec!["路灯坏了"],
            "no name before"
        );
        // A one-character place word after a name is cut too (found by
        // cargo-mutants: only a common word before one had been tried).
        let rest = without_places(&["人民路的路灯坏了"]).concat();
        assert!(!rest.contains("人民"), "{rest}");
        assert!(rest.contains("灯坏了"), "{rest}");
    }

    /// The features and problem are the record's, without the follow-up
    /// test (the evaluation's pair dump uses them).
    #[test]
    fn features_and_problem_are_the_records_parts() -> Result<(), LexiconError> {
        let lex = Lexicon::embedded()?;
        let text = "幸福小区门口的垃圾好几天没人清运";
        let (f, problem) = lex.features_and_problem(text, "");
        let (f2, problem2, _) = lex.record_parts(text, "");
        assert_eq!((f, problem), (f2, problem2));
        assert!(f.matters != 0 && f.places[0] != 0, "{f:?}");
        Ok(())
    }

    #[test]
    fn the_address_adds_its_fine_places_once_and_never_an_area() -> Result<(), LexiconError> {
        let lex = Lexicon::embedded()?;
        let none = lex.features_at("路灯坏了好几天", "");
        assert_eq!(none.places, [0; PLACES]);
        let at = lex.features_at("路灯坏了好几天", "幸福小区3栋");
        assert_eq!(at.places[0], p("幸福小区")[0], "{:?}", at.places);
        let town = lex.features_at("路灯坏了好几天", "利州区东坝街道");
        assert_eq!(
            town.places, [0; PLACES],
            "a town alone places nothing finely"
        );
        let both = lex.features_at("阳光小区路灯坏了好几天", "幸福小区3栋");
        assert!(both.places.contains(&p("阳光小区")[0]), "{:?}", both.places);
        assert!(both.places.contains(&p("幸福小区")[0]), "{:?}", both.places);
        let same = lex.features_at("幸福小区路灯坏了好几天", "幸福小区3栋");
        assert_eq!(same.places[1], 0, "named once: {:?}", same.places);
        Ok(())
    }

    #[test]
    fn category_agreement_is_the_shared_probability() {
        let mut a = Problem::default();
        a.set_categories([("housing", 0.6), ("transport", 0.4)]);
        let mut b = Problem::default();
        b.set_categories([("housing", 0.2), ("water", 0.8)]);
        assert!(
            (a.category_agreement(&b) - 0.2).abs() < 0.01,
            "{}",
            a.category_agreement(&b)
        );
        assert!((a.category_agreement(&a) - 1.0).abs() < 0.01);
        let mut c = Problem::default();
        c.set_categories([("water", 1.0)]);
        assert_eq!(a.category_agreement(&c), 0.0);
    }

    #[test]
    fn word_characters_are_letters_digits_and_ideographs_of_any_script() {
        assert_eq!(matter_chars("café，小区！"), "café小区");
        assert_eq!(matter_chars("abc 12"), "abc12");
        // Chinese punctuation is no word character (found by cargo-mutants:
        // the full-width forms above fold to ASCII first).
        for c in "。《》、“”…—【】".chars() {
            assert!(!is_word_char(c), "{c}");
        }
        for c in "é小Ж".chars() {
            assert!(is_word_char(c), "{c}");
        }
    }

    #[test]
    fn an_empty_sketch_is_like_nothing() {
        let empty = Sketch {
            mins: [5; K],
            len: 0,
        };
        let some = Sketch {
            mins: [5; K],
            len: 3,
        };
        assert_eq!(empty.jaccard(&some), 0.0);
        assert_eq!(some.jaccard(&empty), 0.0);
        assert_eq!(empty.containment(&some), 0.0);
        assert_eq!(some.containment(&empty), 0.0);
    }

    /// A short text contained in a long one counts for its size: 3 bigrams
    /// count half (3/6), 6 or more fully.
    #[test]
    fn containment_counts_for_short_texts_by_their_size() {
        let mins = |shared: usize, other: u16| -> [u16; K] {
            std::array::from_fn(|i| {
                if i < shared {
                    i as u16
                } else {
                    other + i as u16
                }
            })
        };
        let short = Sketch {
            mins: mins(5, 100),
            len: 3,
        };
        let long = Sketch {
            mins: mins(5, 200),
            len: 10,
        };
        assert_eq!(short.containment(&long), 1.0);
        assert!(
            (short.similarity(&long) - 0.5).abs() < 1e-9,
            "{}",
            short.similarity(&long)
        );
    }
}
