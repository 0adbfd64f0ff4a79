//! Problem types: which of a few hundred kinds of local problem a text is
//! about (a barking dog, a sewer overflowing, a kindergarten that closed
//! with the fees paid …), whatever words the caller uses. Two callers at
//! one place who put one problem in words that share no character
//! (伙食差 / 饭菜一点肉都莫得) still land on the same types; two problems at
//! one place land on different ones.
//!
//! A multinomial logistic regression over hashed character n-grams (1–3,
//! each occurrence weighing 1/√n in a text of n), trained on paraphrases labeled with
//! their type (`router/data/problems/`, written for this by authors who
//! never saw the evaluation sets) and shipped as
//! `router/data/model/problems.bin`. Each row keeps its [`PER_ROW`]
//! strongest types as i8 weights with one scale, so a text costs about a
//! thousand multiply-adds and the model about 0.8 MB.
//!
//! A contact's record keeps its [`TOP`] likeliest types with their
//! weights relative to the likeliest ([`super::text::Problem`]); [`cosine`]
//! compares two.
//! Hand-written rather than a crate: the model is one sparse matrix and a
//! soft-max, and the trainer is fifty lines of SGD that must give the same
//! file for the same corpus.
use super::text::mix;
use crate::classifier::{exp_neg, shuffle, softmax};
use crate::model_file::{Reader, Writer};

/// The shipped model.
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../data/model/problems.bin");

/// Types kept per record.
pub const TOP: usize = 4;
/// Types kept per model row.
pub const PER_ROW: usize = 16;
/// At most this many types (one slot of the 512 is a sink for padding).
pub const MAX_TYPES: usize = 511;
/// The accumulator's size: a power of two, so a type index masked by it
/// needs no bounds check; the last slot takes the padding's zero weights.
const SLOTS: usize = 512;

const MAGIC: &[u8; 8] = b"HLPTYPE1";
const NONE: u16 = u16::MAX;

/// Why a problem-type model cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypesError {
    #[error("not a hotline problem-type model (bad magic)")]
    Magic,
    #[error("problem-type model truncated or malformed: {0}")]
    Malformed(&'static str),
}

/// The trained model: per row the strongest types and their weights.
#[derive(Debug, Clone)]
pub struct TypeModel {
    pub labels: Vec<String>,
    bias: Vec<f32>,
    /// A power of two of rows (a feature's row is its low bits), each with
    /// its slots, weights and scale together (52 bytes), the padding
    /// pointing at the sink slot with weight 0.
    rows: Vec<Row>,
}

/// One row: [`PER_ROW`] type slots and weights in units of the scale.
#[derive(Debug, Clone, Copy)]
struct Row {
    slots: [u16; PER_ROW],
    weights: [i8; PER_ROW],
    scale: f32,
}

/// The sink slot, as stored in a row.
const SINK: u16 = (SLOTS - 1) as u16;

/// One labeled paraphrase for training: its [`grams`] and its type's index.
pub type Example = (Vec<u32>, usize);

/// Calls `f` with each hashed n-gram of a text (simplified characters), in
/// text order. N-grams do not span a character that is not a letter, digit
/// or ideograph.
fn each_gram(simplified: &str, f: impl FnMut(u32)) {
    each_gram_and_pair(simplified, f, |_, _, _, _| {});
}

/// [`each_gram`], and `pair(i, p, c, hash)` for each bigram of two
/// ideographs, its full hash ([`super::names::pair_hash`]) and `i` the
/// index of `c` among the text's characters: the names are read in the
/// same pass.
fn each_gram_and_pair(
    simplified: &str,
    mut f: impl FnMut(u32),
    mut pair: impl FnMut(usize, char, char, u64),
) {
    let (mut p, mut q) = (0u64, 0u64);
    let mut prev_ideograph: Option<char> = None;
    for (i, ch) in simplified.chars().enumerate() {
        let ideograph = crate::normalize::is_ideograph(ch);
        if !(ideograph || ch.is_alphanumeric()) {
            (p, q) = (0, 0);
            prev_ideograph = None;
            continue;
        }
        // ASCII folded; other letters as they are (a Unicode case table
        // lookup per character costs more than the rest of the n-gram).
        let c = u64::from(ch.to_ascii_lowercase() as u32);
        f(mix(c | 1 << 62) as u32);
        if p != 0 {
            let h = mix(p << 21 | c | 2 << 62);
            f(h as u32);
            if let (true, Some(pc)) = (ideograph, prev_ideograph) {
                pair(i, pc, ch, h);
            }
            if q != 0 {
                f(mix(q << 42 | p << 21 | c | 3 << 62) as u32);
            }
        }
        (q, p) = (p, c);
        prev_ideograph = ideograph.then_some(ch);
    }
}

/// The hashed n-grams of a text (simplified characters), in text order.
pub fn grams(simplified: &str) -> Vec<u32> {
    let mut out = Vec::with_capacity(simplified.len());
    each_gram(simplified, |h| out.push(h));
    out
}

/// [`grams`] of a text as received (traditional characters simplified).
pub fn grams_of(content: &str) -> Vec<u32> {
    grams(&fast2s::convert(content))
}

/// What each n-gram occurrence weighs in a text of `n`: 1/√n, so a long
/// narrative does not outvote a short text by its length alone.
fn weight(n: usize) -> f32 {
    1.0 / (n.max(1) as f32).sqrt()
}

/// A record's [`TOP`] likeliest types (ids from 1, 0 = none) and their
/// weights relative to the likeliest (255): what a caller's history keeps
/// of each contact's problem (12 bytes), for the repeat rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeSet {
    pub ids: [u16; TOP],
    pub p: [u8; TOP],
}

impl TypeSet {
    /// The [`cosine`] of the two distributions.
    pub fn agreement(&self, o: &TypeSet) -> f64 {
        cosine((&self.ids, &self.p), (&o.ids, &o.p))
    }

    /// Whether both are known and agree less than `below`: two different
    /// problems, wherever they are.
    pub fn differ(&self, o: &TypeSet, below: f64) -> bool {
        self.ids[0] != 0 && o.ids[0] != 0 && self.agreement(o) < below
    }
}

/// The cosine of two records' type distributions (each its [`TOP`]
/// types, weights relative to the likeliest), 0 to 1; 0 when either has none.
pub fn cosine(a: (&[u16; TOP], &[u8; TOP]), b: (&[u16; TOP], &[u8; TOP])) -> f64 {
    // An empty slot (id 0) weighs nothing, whatever its byte says.
    let norm = |(t, p): (&[u16; TOP], &[u8; TOP])| {
        t.iter()
            .zip(p)
            .filter(|(t, _)| **t != 0)
            .map(|(_, x)| f64::from(*x).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    let mut dot = 0.0;
    for (t, p) in a.0.iter().zip(a.1) {
        if *t == 0 {
            continue;
        }
        if let Some(j) = b.0.iter().position(|x| x == t) {
            dot += f64::from(*p) * f64::from(b.1[j]);
        }
    }
    dot / (na * nb)
}

impl TypeModel {
    pub fn embedded() -> Result<TypeModel, TypesError> {
        TypeModel::from_bytes(EMBEDDED_MODEL)
    }

    /// The [`TOP`] likeliest types of a text's [`grams`] (ids from 1, 0 =
    /// none) and their weights relative to the likeliest's (255), likeliest
    /// first.
    pub fn predict(&self, grams: &[u32]) -> ([u16; TOP], [u8; TOP]) {
        let mut acc = [0f32; SLOTS];
        for &h in grams {
            self.add_row(&mut acc, h);
        }
        self.top(&acc, grams.len())
    }

    /// [`predict`](Self::predict) for a text (simplified characters), its
    /// n-grams summed as they are read: nothing allocated per contact.
    pub fn predict_text(&self, simplified: &str) -> ([u16; TOP], [u8; TOP]) {
        let mut names = super::names::Names::default();
        self.predict_text_and_names(simplified, &mut names)
    }

    /// [`predict_text`](Self::predict_text), and the text's names
    /// ([`super::names`]) gathered in the same pass.
    pub fn predict_text_and_names(
        &self,
        simplified: &str,
        names: &mut super::names::Names,
    ) -> ([u16; TOP], [u8; TOP]) {
        let mut acc = [0f32; SLOTS];
        let mut n = 0;
        each_gram_and_pair(
            simplified,
            |h| {
                self.add_row(&mut acc, h);
                n += 1;
            },
            |i, p, c, h| names.offer(i, p, c, h),
        );
        self.top(&acc, n)
    }

    /// Adds an n-gram's row (its weights times the row's scale).
    fn add_row(&self, acc: &mut [f32; SLOTS], h: u32) {
        let Some(row) = self.rows.get(h as usize & self.rows.len().wrapping_sub(1)) else {
            return;
        };
        for (c, w) in row.slots.iter().zip(&row.weights) {
            acc[usize::from(*c) & (SLOTS - 1)] += f32::from(*w) * row.scale;
        }
    }

    /// The likeliest types of `n` n-grams whose rows were summed in `acc`.
    fn top(&self, acc: &[f32; SLOTS], n: usize) -> ([u16; TOP], [u8; TOP]) {
        let v = weight(n);
        let mut top = [(f32::NEG_INFINITY, usize::MAX); TOP];
        for (i, (a, b)) in acc.iter().zip(&self.bias).enumerate() {
            let z = a * v + b;
            if z > top[TOP - 1].0 {
                let pos = top.iter().position(|(t, _)| z > *t).unwrap_or(TOP - 1);
                top[pos..].rotate_right(1);
                top[pos] = (z, i);
            }
        }
        // Weights relative to the likeliest (255): the soft-max's sum is
        // not needed, as [`cosine`] does not change when a distribution is
        // scaled (and it would take an e^x per type).
        let max = top[0].0;
        let mut ids = [0u16; TOP];
        let mut ps = [0u8; TOP];
        for (k, (z, i)) in top.iter().enumerate() {
            if *i == usize::MAX {
                break;
            }
            ids[k] = *i as u16 + 1;
            ps[k] = (exp_neg(z - max) * 255.0).round().clamp(0.0, 255.0) as u8;
        }
        (ids, ps)
    }

    /// The label of a type id from [`predict`](Self::predict).
    pub fn label(&self, id: u16) -> Option<&str> {
        self.labels
            .get(usize::from(id.checked_sub(1)?))
            .map(String::as_str)
    }

    /// Trains on `(grams, label index)` examples: SGD on the log loss,
    /// deterministic for a seed; then each row keeps its [`PER_ROW`]
    /// strongest weights.
    pub fn train(labels: Vec<String>, examples: &[Example], cfg: &TypesTrain) -> TypeModel {
        let nc = labels.len().min(MAX_TYPES);
        let dims = 1usize << cfg.dims_log2.min(20);
        let mut w = vec![0f32; dims * nc];
        let mut bias = vec![0f32; nc];
        let mut p = vec![0f32; nc];
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = cfg.seed | 1;
        for epoch in 0..cfg.epochs {
            shuffle(&mut order, &mut rng);
            let lr = cfg.learning_rate / (1.0 + epoch as f32 * cfg.decay);
            for &i in &order {
                let (g, y) = &examples[i];
                if *y >= nc {
                    continue;
                }
                let v = weight(g.len());
                p.copy_from_slice(&bias);
                for &h in g {
                    let r = h as usize & (dims - 1);
                    for (a, x) in p.iter_mut().zip(&w[r * nc..(r + 1) * nc]) {
                        *a += x * v;
                    }
                }
                softmax(&mut p);
                p[*y] -= 1.0;
                for (b, d) in bias.iter_mut().zip(&p) {
                    *b -= lr * d;
                }
                for &h in g {
                    let r = h as usize & (dims - 1);
                    for (x, d) in w[r * nc..(r + 1) * nc].iter_mut().zip(&p) {
                        *x -= lr * (d * v + cfg.l2 * *x);
                    }
                }
            }
        }
        // Keep each row's strongest weights, as i8 with one scale.
        let mut idx: Vec<usize> = Vec::with_capacity(nc);
        let rows = w
            .chunks(nc.max(1))
            .map(|row| {
                let mut out = Row {
                    slots: [SINK; PER_ROW],
                    weights: [0; PER_ROW],
                    scale: 0.0,
                };
                idx.clear();
                idx.extend((0..nc).filter(|c| row[*c] != 0.0));
                idx.sort_by(|a, b| row[*b].abs().total_cmp(&row[*a].abs()).then(a.cmp(b)));
                idx.truncate(PER_ROW);
                let max = idx.iter().map(|c| row[*c].abs()).fold(0f32, f32::max);
                if max > 0.0 {
                    out.scale = max / 127.0;
                    for (k, c) in idx.iter().enumerate() {
                        out.slots[k] = *c as u16;
                        out.weights[k] = (row[*c] / out.scale).round().clamp(-127.0, 127.0) as i8;
                    }
                }
                out
            })
            .collect();
        TypeModel {
            labels: labels.into_iter().take(nc).collect(),
            bias,
            rows,
        }
    }

    /// The model file: magic, labels, rows, biases, scales, then per row
    /// its type indices ([`NONE`] pads) and weights (`model_file`'s pieces).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(self.rows.len() * (PER_ROW * 3 + 4) + 64 * 1024);
        w.bytes(MAGIC);
        w.strs(self.labels.iter().map(String::as_str));
        w.size(self.rows.len());
        w.f32s(self.bias.iter().chain(self.rows.iter().map(|r| &r.scale)));
        for r in &self.rows {
            for c in r.slots {
                w.bytes(&(if c == SINK { NONE } else { c }).to_le_bytes());
            }
        }
        for r in &self.rows {
            w.0.extend(r.weights.iter().map(|x| *x as u8));
        }
        w.0
    }

    /// Reads [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(b: &[u8]) -> Result<TypeModel, TypesError> {
        let mut r = Reader::after_magic(b, MAGIC).ok_or(TypesError::Magic)?;
        let mut read = || -> Result<TypeModel, &'static str> {
            let labels: Vec<String> = r
                .strs(MAX_TYPES, "number of types", "label")?
                .into_iter()
                .map(String::from)
                .collect();
            let nc = labels.len();
            let dims = r.rows("rows")?;
            let bias = r.f32s(nc)?;
            let scales = r.f32s(dims)?;
            let mut rows: Vec<Row> = scales
                .into_iter()
                .map(|scale| Row {
                    slots: [SINK; PER_ROW],
                    weights: [0; PER_ROW],
                    scale,
                })
                .collect();
            let slots = r.take(dims * PER_ROW * 2)?;
            for (row, cs) in rows.iter_mut().zip(slots.chunks_exact(PER_ROW * 2)) {
                for (slot, c) in row.slots.iter_mut().zip(cs.chunks_exact(2)) {
                    let c = u16::from_le_bytes([c[0], c[1]]);
                    if c != NONE {
                        if usize::from(c) >= nc {
                            return Err("type index");
                        }
                        *slot = c;
                    }
                }
            }
            let weights = r.take(dims * PER_ROW)?;
            for (row, ws) in rows.iter_mut().zip(weights.chunks_exact(PER_ROW)) {
                for (x, w) in row.weights.iter_mut().zip(ws) {
                    *x = *w as i8;
                }
            }
            r.end()?;
            Ok(TypeModel { labels, bias, rows })
        };
        read().map_err(TypesError::Malformed)
    }
}

/// Training settings for [`TypeModel::train`].
#[derive(Debug, Clone, Copy)]
pub struct TypesTrain {
    pub epochs: usize,
    pub learning_rate: f32,
    /// The rate is `learning_rate / (1 + epoch · decay)`.
    pub decay: f32,
    pub l2: f32,
    pub seed: u64,
    pub dims_log2: u32,
}

impl Default for TypesTrain {
    fn default() -> Self {
        TypesTrain {
            epochs: 30,
            learning_rate: 1.0,
            decay: 0.2,
            l2: 1e-6,
            seed: 20261128,
            dims_log2: 14,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn toy() -> TypeModel {
        let ex = |s: &str, y: usize| (grams_of(s), y);
        let examples = vec![
            ex("楼下的狗天天晚上叫", 0),
            ex("狗叫得睡不着", 0),
            ex("邻居家的狗一直叫", 0),
            ex("快递柜坏了取不出件", 1),
            ex("快递柜的屏幕不亮", 1),
            ex("小区快递柜打不开", 1),
        ];
        let cfg = TypesTrain {
            dims_log2: 10,
            ..Default::default()
        };
        TypeModel::train(vec!["dog".into(), "locker".into()], &examples, &cfg)
    }

    #[test]
    fn a_trained_model_tells_its_types_apart_and_survives_its_file() -> Result<(), TypesError> {
        let m = toy();
        let dog = m.predict(&grams_of("对面楼的狗叫个不停"));
        let locker = m.predict(&grams_of("快递柜又坏了"));
        assert_eq!(m.label(dog.0[0]), Some("dog"));
        assert_eq!(m.label(locker.0[0]), Some("locker"));
        assert_eq!(dog.1[0], 255, "the likeliest weighs 255");
        assert!(cosine((&dog.0, &dog.1), (&locker.0, &locker.1)) < 0.5);
        let back = TypeModel::from_bytes(&m.to_bytes())?;
        assert_eq!(
            back.predict(&grams_of("狗叫")),
            m.predict(&grams_of("狗叫"))
        );
        Ok(())
    }

    #[test]
    fn a_damaged_model_file_is_refused() {
        let b = toy().to_bytes();
        assert_eq!(
            TypeModel::from_bytes(b"HLPTYPE0").err(),
            Some(TypesError::Magic)
        );
        for cut in [9, 40, b.len() - 1] {
            assert!(matches!(
                TypeModel::from_bytes(&b[..cut]),
                Err(TypesError::Malformed(_))
            ));
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(
            TypeModel::from_bytes(&long).err(),
            Some(TypesError::Malformed("trailing bytes"))
        );
        assert!(TypeModel::from_bytes(&[]).is_err());
    }

    #[test]
    fn traditional_characters_and_case_give_the_same_grams() {
        assert_eq!(grams_of("樓下的狗叫ABC"), grams_of("楼下的狗叫abc"));
        assert!(grams_of("，。！").is_empty());
        // One character: its unigram; two: two unigrams and a bigram.
        assert_eq!(grams_of("狗").len(), 1);
        assert_eq!(grams_of("狗叫").len(), 3);
    }

    /// How many of `lines` (JSON lines of `text` and `type`) there are, and
    /// of how many the model names the type.
    fn named<'a>(
        m: &TypeModel,
        lines: impl Iterator<Item = &'a str>,
    ) -> Result<(usize, usize), String> {
        let (mut n, mut ok) = (0, 0);
        for l in lines {
            n += 1;
            let v: serde_json::Value =
                serde_json::from_str(l).map_err(|e| format!("line {n}: {e}"))?;
            let (Some(t), Some(y)) = (v["text"].as_str(), v["type"].as_str()) else {
                return Err(format!("line {n}: no text or type"));
            };
            ok += usize::from(m.label(m.predict(&grams_of(t)).0[0]) == Some(y));
        }
        Ok((n, ok))
    }

    /// The shipped model was trained on the shipped paraphrases: it must
    /// still name their types (a stale or foreign model file fails here).
    #[test]
    fn the_shipped_model_knows_the_shipped_paraphrases() -> Result<(), String> {
        let m = TypeModel::embedded().map_err(|e| e.to_string())?;
        let corpus = [
            include_str!("../../data/problems/corpus.jsonl"),
            include_str!("../../data/problems/corpus2.jsonl"),
        ];
        let (n, ok) = named(&m, corpus.iter().flat_map(|c| c.lines()))?;
        assert!(n > 7000, "{n} paraphrases");
        assert!(
            m.to_bytes() == EMBEDDED_MODEL,
            "the file reads and writes back byte for byte"
        );
        assert!(ok as f64 / n as f64 > 0.95, "{ok} of {n}");
        Ok(())
    }

    /// Paraphrases by four writers the model never saw (a held-out set,
    /// `router/data/problems/README.md`): the shipped model names the type
    /// of 0.698 of them; a change that names fewer fails here.
    #[test]
    fn the_shipped_model_names_the_types_of_writers_it_never_saw() -> Result<(), String> {
        let m = TypeModel::embedded().map_err(|e| e.to_string())?;
        let (n, ok) = named(
            &m,
            include_str!("../../data/problems/heldout.jsonl").lines(),
        )?;
        assert!(n > 3700, "{n} paraphrases");
        assert!(ok as f64 / n as f64 >= 0.69, "{ok} of {n}");
        Ok(())
    }

    proptest! {
        /// Any two weight lists: the cosine is between 0 and 1, the same
        /// both ways, 1 against itself, and unchanged by scaling one side.
        #[test]
        fn cosine_is_a_symmetric_scale_free_share(
            ta in proptest::array::uniform4(0u16..6), pa in proptest::array::uniform4(0u8..=255),
            tb in proptest::array::uniform4(0u16..6), pb in proptest::array::uniform4(0u8..=127),
        ) {
            // Distinct ids per side, as predict gives.
            let distinct = |t: [u16; TOP]| {
                let mut t = t;
                for i in 0..TOP {
                    if t[..i].contains(&t[i]) { t[i] = 0; }
                }
                t
            };
            let (ta, tb) = (distinct(ta), distinct(tb));
            let x = cosine((&ta, &pa), (&tb, &pb));
            prop_assert!((0.0..=1.0 + 1e-9).contains(&x), "{x}");
            prop_assert!((x - cosine((&tb, &pb), (&ta, &pa))).abs() < 1e-12);
            let doubled = pb.map(|p| p * 2);
            prop_assert!((x - cosine((&ta, &pa), (&tb, &doubled))).abs() < 1e-9);
            let live: Vec<_> = ta.iter().zip(pa).filter(|(t, p)| **t != 0 && *p != 0).collect();
            if !live.is_empty() {
                prop_assert!((cosine((&ta, &pa), (&ta, &pa)) - 1.0).abs() < 1e-9);
            }
        }
    }
}
