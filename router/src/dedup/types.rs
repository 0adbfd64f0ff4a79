//! Problem types: which of a few hundred kinds of local problem a text is
//! about (a barking dog, a sewer overflowing, a kindergarten that closed
//! with the fees paid …), whatever words the caller uses. Two callers at
//! one place who put one problem in words that share no character
//! (伙食差 / 饭菜一点肉都莫得) still land on the same types; two problems at
//! one place land on different ones.
//!
//! A multinomial logistic regression over hashed character n-grams (1–3,
//! log-scaled counts, L2-normalized), trained on paraphrases labeled with
//! their type (`router/data/problems/`, written for this by authors who
//! never saw the evaluation sets) and shipped as
//! `router/data/model/problems.bin`. Each row keeps its [`PER_ROW`]
//! strongest types as i8 weights with one scale, so a text costs about a
//! thousand multiply-adds and the model about 0.8 MB.
//!
//! A contact's record keeps its [`TOP`] likeliest types with their
//! probabilities ([`super::text::Problem`]); [`cosine`] compares two.
//! Hand-written rather than a crate: the model is one sparse matrix and a
//! soft-max, and the trainer is fifty lines of SGD that must give the same
//! file for the same corpus.
use super::text::mix;
use crate::classifier::softmax;

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
    /// Rows (a power of two): a feature's row is its low bits.
    dims: usize,
    /// Per row: [`PER_ROW`] type indices ([`NONE`] pads).
    classes: Vec<u16>,
    /// Per row: [`PER_ROW`] weights, in units of the row's scale.
    weights: Vec<i8>,
    scales: Vec<f32>,
    bias: Vec<f32>,
    /// For prediction: per row its slots, weights and scale together
    /// (100 bytes, two cache lines), the padding pointing at the sink slot
    /// with weight 0.
    dense: Vec<Row>,
}

/// One row for prediction.
#[derive(Debug, Clone, Copy)]
struct Row {
    slots: [u16; PER_ROW],
    weights: [i8; PER_ROW],
    scale: f32,
}

/// One labeled paraphrase for training: its [`grams`] and its type's index.
pub type Example = (Vec<(u32, f32)>, usize);

/// The hashed n-grams of a text (simplified characters), in text order,
/// each occurrence weighing `1/√n` in a text of `n`. N-grams do not span
/// a character that is not a letter, digit or ideograph.
pub fn grams(simplified: &str) -> Vec<(u32, f32)> {
    let mut hs: Vec<u32> = Vec::with_capacity(simplified.len() + 4);
    let (mut p, mut q) = (0u64, 0u64);
    for c in simplified.chars() {
        if !(crate::normalize::is_ideograph(c) || c.is_alphanumeric()) {
            (p, q) = (0, 0);
            continue;
        }
        // ASCII folded; other letters as they are (a Unicode case table
        // lookup per character costs more than the rest of the n-gram).
        let c = u64::from(c.to_ascii_lowercase() as u32);
        hs.push(mix(c | 1 << 62) as u32);
        if p != 0 {
            hs.push(mix(p << 21 | c | 2 << 62) as u32);
            if q != 0 {
                hs.push(mix(q << 42 | p << 21 | c | 3 << 62) as u32);
            }
        }
        (q, p) = (p, c);
    }
    // Each occurrence weighs 1/√n in a text of n n-grams (no counting,
    // no sort: a long narrative does not outvote a short text).
    let v = 1.0 / (hs.len().max(1) as f32).sqrt();
    hs.into_iter().map(|h| (h, v)).collect()
}

/// [`grams`] of a text as received (traditional characters simplified).
pub fn grams_of(content: &str) -> Vec<(u32, f32)> {
    grams(&fast2s::convert(content))
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
    /// none) and their probabilities relative to the likeliest's (255), likeliest first.
    pub fn predict(&self, grams: &[(u32, f32)]) -> ([u16; TOP], [u8; TOP]) {
        let mut acc = [0f32; SLOTS];
        let n = self.bias.len().min(MAX_TYPES);
        acc[..n].copy_from_slice(&self.bias[..n]);
        for &(h, v) in grams {
            let Some(row) = self.dense.get(h as usize & (self.dims - 1)) else {
                continue;
            };
            let sv = row.scale * v;
            for (c, w) in row.slots.iter().zip(&row.weights) {
                acc[usize::from(*c) & (SLOTS - 1)] += f32::from(*w) * sv;
            }
        }
        let logits = &acc[..n];
        // The four largest logits, then their probabilities: terms more
        // than 20 below the largest add under 2e-9 each to the sum.
        let mut top = [(f32::NEG_INFINITY, usize::MAX); TOP];
        for (i, z) in logits.iter().enumerate() {
            if *z > top[TOP - 1].0 {
                let pos = top.iter().position(|(t, _)| z > t).unwrap_or(TOP - 1);
                top[pos..].rotate_right(1);
                top[pos] = (*z, i);
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
            ps[k] = (crate::classifier::exp_neg(z - max) * 255.0)
                .round()
                .clamp(0.0, 255.0) as u8;
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
            for i in (1..order.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                order.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            let lr = cfg.learning_rate / (1.0 + epoch as f32 * cfg.decay);
            for &i in &order {
                let (g, y) = &examples[i];
                if *y >= nc {
                    continue;
                }
                p.copy_from_slice(&bias);
                for &(h, v) in g {
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
                for &(h, v) in g {
                    let r = h as usize & (dims - 1);
                    for (x, d) in w[r * nc..(r + 1) * nc].iter_mut().zip(&p) {
                        *x -= lr * (d * v + cfg.l2 * *x);
                    }
                }
            }
        }
        // Keep each row's strongest weights, as i8 with one scale.
        let mut classes = vec![NONE; dims * PER_ROW];
        let mut weights = vec![0i8; dims * PER_ROW];
        let mut scales = vec![0f32; dims];
        let mut idx: Vec<usize> = Vec::with_capacity(nc);
        for r in 0..dims {
            let row = &w[r * nc..(r + 1) * nc];
            idx.clear();
            idx.extend((0..nc).filter(|c| row[*c] != 0.0));
            idx.sort_by(|a, b| row[*b].abs().total_cmp(&row[*a].abs()).then(a.cmp(b)));
            idx.truncate(PER_ROW);
            let max = idx.iter().map(|c| row[*c].abs()).fold(0f32, f32::max);
            if max == 0.0 {
                continue;
            }
            let s = max / 127.0;
            scales[r] = s;
            for (k, c) in idx.iter().enumerate() {
                classes[r * PER_ROW + k] = *c as u16;
                weights[r * PER_ROW + k] = (row[*c] / s).round().clamp(-127.0, 127.0) as i8;
            }
        }
        TypeModel::assemble(
            labels.into_iter().take(nc).collect(),
            dims,
            classes,
            weights,
            scales,
            bias,
        )
    }

    /// The model from its stored parts, with its rows for prediction.
    fn assemble(
        labels: Vec<String>,
        dims: usize,
        classes: Vec<u16>,
        weights: Vec<i8>,
        scales: Vec<f32>,
        bias: Vec<f32>,
    ) -> TypeModel {
        let dense = (0..dims)
            .map(|r| {
                let mut row = Row {
                    slots: [(SLOTS - 1) as u16; PER_ROW],
                    weights: [0; PER_ROW],
                    scale: scales.get(r).copied().unwrap_or(0.0),
                };
                for k in 0..PER_ROW {
                    let (Some(c), Some(w)) =
                        (classes.get(r * PER_ROW + k), weights.get(r * PER_ROW + k))
                    else {
                        break;
                    };
                    if *c != NONE {
                        row.slots[k] = *c;
                        row.weights[k] = *w;
                    }
                }
                row
            })
            .collect();
        TypeModel {
            labels,
            dims,
            classes,
            weights,
            scales,
            bias,
            dense,
        }
    }

    /// The model file: magic, labels, rows, biases, scales, then per row
    /// its type indices and weights.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.classes.len() * 3 + 64 * 1024);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.labels.len() as u32).to_le_bytes());
        for l in &self.labels {
            out.extend_from_slice(&(l.len() as u32).to_le_bytes());
            out.extend_from_slice(l.as_bytes());
        }
        out.extend_from_slice(&(self.dims as u32).to_le_bytes());
        for x in self.bias.iter().chain(&self.scales) {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for c in &self.classes {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out.extend(self.weights.iter().map(|w| *w as u8));
        out
    }

    /// Reads [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(b: &[u8]) -> Result<TypeModel, TypesError> {
        let mut r = b;
        let mut take = |n: usize| -> Result<&[u8], TypesError> {
            if r.len() < n {
                return Err(TypesError::Malformed("truncated"));
            }
            let (x, rest) = r.split_at(n);
            r = rest;
            Ok(x)
        };
        if take(8)? != MAGIC {
            return Err(TypesError::Magic);
        }
        let u32_of = |x: &[u8]| -> u32 { x.iter().rev().fold(0u32, |a, b| a << 8 | u32::from(*b)) };
        let nc = u32_of(take(4)?) as usize;
        if nc == 0 || nc > MAX_TYPES {
            return Err(TypesError::Malformed("number of types"));
        }
        let mut labels = Vec::with_capacity(nc);
        for _ in 0..nc {
            let n = u32_of(take(4)?) as usize;
            let s = std::str::from_utf8(take(n)?).map_err(|_| TypesError::Malformed("label"))?;
            labels.push(s.to_string());
        }
        let dims = u32_of(take(4)?) as usize;
        if !dims.is_power_of_two() || dims > 1 << 20 {
            return Err(TypesError::Malformed("rows"));
        }
        let f32s = |x: &[u8]| -> Vec<f32> {
            x.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let bias = f32s(take(nc * 4)?);
        let scales = f32s(take(dims * 4)?);
        let classes: Vec<u16> = take(dims * PER_ROW * 2)?
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        if classes.iter().any(|c| *c != NONE && usize::from(*c) >= nc) {
            return Err(TypesError::Malformed("type index"));
        }
        let weights = take(dims * PER_ROW)?.iter().map(|w| *w as i8).collect();
        if !r.is_empty() {
            return Err(TypesError::Malformed("trailing bytes"));
        }
        Ok(TypeModel::assemble(
            labels, dims, classes, weights, scales, bias,
        ))
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

    /// The shipped model was trained on the shipped paraphrases: it must
    /// still name their types (a stale or foreign model file fails here).
    #[test]
    fn the_shipped_model_knows_the_shipped_paraphrases() -> Result<(), TypesError> {
        let m = TypeModel::embedded()?;
        let corpus = include_str!("../../data/problems/corpus.jsonl");
        let (mut n, mut ok) = (0, 0);
        for l in corpus.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
                continue;
            };
            let (Some(t), Some(y)) = (v["text"].as_str(), v["type"].as_str()) else {
                continue;
            };
            n += 1;
            ok += usize::from(m.label(m.predict(&grams_of(t)).0[0]) == Some(y));
        }
        assert!(n > 3000, "{n} paraphrases");
        assert!(ok as f64 / n as f64 > 0.95, "{ok} of {n}");
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
