//! The trained classifier of kind and category (Art. 12, 13(2)): a
//! multinomial logistic regression per head over hashed character n-grams
//! (1–3) of the normalized text and the keyword rules it matched (the
//! lexicon as cue features). Kind fixes the completion limit, category the
//! unit; each comes with a probability and the next alternatives.
//!
//! Why a small trainer written here rather than a crate: the model is two
//! linear heads over hashed sparse features, trained once on a few thousand
//! contacts by plain stochastic gradient descent (seconds), and read inside
//! `decide` (no allocation beyond the feature list, no I/O). The machine
//! learning crates on crates.io (linfa, smartcore) work on dense matrices
//! and would need 2^15 columns per contact; their prediction path allocates.
//!
//! Pure like the rest of the router: training and prediction are functions
//! of their inputs; reading and writing the model file is the caller's.
use crate::model::Kind;
use crate::model_file::{Reader, Writer};
use arrayvec::ArrayVec;
use std::sync::Arc;

/// Features are hashed into 2^20 buckets; a model folds them onto its own
/// `2^dims_log2` rows (the low bits), so one feature list serves any model.
const FEATURE_MASK: u64 = (1 << 20) - 1;
/// Most categories a model may have (the prediction's logits live on the stack).
pub const MAX_CATEGORIES: usize = 121;
/// File magic and version.
const MAGIC: &[u8; 8] = b"HLCLS003";

/// The trained weights: for each feature bucket, `kinds.len()` kind weights
/// then `categories.len()` category weights, quantized to i8 with a scale
/// per row and head (feature-major: one contact's features touch one row
/// each; a per-row scale keeps the small weights of rare n-grams, which
/// one scale per head would round to zero).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Category codes in the order of the category head.
    pub categories: Vec<Arc<str>>,
    /// Per row: the kind head's scale, then the category head's.
    scales: Vec<f32>,
    kind_bias: Vec<f32>,
    cat_bias: Vec<f32>,
    /// Rows (a power of two): a feature's row is its low bits.
    dims: usize,
    /// `dims` rows of (7 + categories) i8 weights.
    weights: Vec<i8>,
    /// The same weights times their scales, for prediction: per row the
    /// kinds padded to one lane block, then the categories padded to whole
    /// blocks. Summing a row is then whole-block adds the compiler turns
    /// into vector instructions (about three times faster than converting
    /// and scaling the i8 weights per feature; 1.2 MB for the shipped model,
    /// which stays in the second-level cache).
    dense: Vec<Lanes>,
}

/// One block of weights (eight lanes).
type Lanes = [f32; LANES];
const LANES: usize = 8;

/// Blocks of logits a prediction sums into (the kind block, then the
/// category blocks of the largest model a file may hold).
const ACC_BLOCKS: usize = 1 + MAX_CATEGORIES.div_ceil(LANES);
type Acc = [Lanes; ACC_BLOCKS];

/// Lane-wise sum of two blocks (by value, so it compiles to vector adds).
#[inline(always)]
fn add_lanes(a: Lanes, b: &Lanes) -> Lanes {
    std::array::from_fn(|i| a[i] + b[i])
}

/// Blocks per dense row: one for the kinds, then the categories.
fn blocks(categories: usize) -> usize {
    1 + categories.div_ceil(LANES)
}

/// The dense rows of quantized weights (see [`Model::dense`]).
fn densify(weights: &[i8], scales: &[f32], nc: usize) -> Vec<Lanes> {
    let row = NK + nc;
    let nb = blocks(nc);
    let mut out = Vec::with_capacity(weights.len() / row.max(1) * nb);
    for (r, s) in weights.chunks_exact(row).zip(scales.chunks_exact(2)) {
        let mut k = [0f32; LANES];
        for (d, w) in k.iter_mut().zip(&r[..NK]) {
            *d = f32::from(*w) * s[0];
        }
        out.push(k);
        for chunk in r[NK..].chunks(LANES) {
            let mut c = [0f32; LANES];
            for (d, w) in c.iter_mut().zip(chunk) {
                *d = f32::from(*w) * s[1];
            }
            out.push(c);
        }
    }
    out
}

/// What the model says of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The three likeliest kinds, highest first.
    pub kinds: ArrayVec<(Kind, f32), 3>,
    /// The three likeliest category indexes (into [`Model::categories`]).
    pub categories: ArrayVec<(usize, f32), 3>,
    /// The keyword rules (cue features) that weighed most for the kind and
    /// category chosen, at most three.
    pub evidence: ArrayVec<Arc<str>, 3>,
}

/// One labeled example.
#[derive(Debug, Clone)]
pub struct Example {
    pub features: Vec<u32>,
    pub kind: Kind,
    pub category: usize,
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainConfig {
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 weight decay per update.
    pub l2: f32,
    pub seed: u64,
    /// The model has 2^dims_log2 rows (at most 2^20).
    pub dims_log2: u32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 24,
            learning_rate: 2.0,
            l2: 1e-6,
            seed: 20261127,
            dims_log2: 13,
        }
    }
}

/// Why a model file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("not a hotline classifier model (bad magic or version)")]
    Magic,
    #[error("model file truncated or malformed: {0}")]
    Malformed(&'static str),
}

fn bucket(h: u64) -> u32 {
    (crate::dedup::text::mix(h) & FEATURE_MASK) as u32
}

/// The bucket of a keyword rule's cue feature.
pub fn rule_feature(rule_id: &str) -> u32 {
    bucket(xxhash_rust::xxh3::xxh3_64(rule_id.as_bytes()) ^ 0x5255_4c45)
}

/// Greetings and filler that say nothing of the request: dropped before
/// the n-grams are taken, like punctuation, so they never change a
/// decision (longest first where one contains another).
const FILLER: &[&str] = &[
    "你好",
    "您好",
    "喂",
    "嗯",
    "啊",
    "哦",
    "噢",
    "呃",
    "哈",
    "那个",
    "就是说",
    "谢谢你们",
    "谢谢您",
    "谢谢",
    "麻烦了",
    "打扰了",
];

/// Whether a filler phrase starts at `rest`; its length in bytes. The
/// first character is tested before any phrase is compared.
fn filler_at(rest: &str, c: char) -> Option<usize> {
    if !matches!(
        c,
        '你' | '您'
            | '喂'
            | '嗯'
            | '啊'
            | '哦'
            | '噢'
            | '呃'
            | '哈'
            | '那'
            | '就'
            | '谢'
            | '麻'
            | '打'
    ) {
        return None;
    }
    FILLER
        .iter()
        .find(|f| rest.starts_with(**f))
        .map(|f| f.len())
}

/// The feature buckets of a normalized text and the ids of the keyword
/// rules it matched, in text order; an n-gram that occurs twice counts
/// twice. The n-grams do not span a dropped filler or a character that is
/// not a letter, digit or ideograph: the text is read in segments cut there.
pub fn features<'a>(text: &str, rule_ids: impl Iterator<Item = &'a str>) -> Vec<u32> {
    let mut out = Vec::with_capacity(text.len() + 8);
    each_gram(text, |f| out.push(f));
    out.extend(rule_ids.map(rule_feature));
    out
}

/// Calls `f` with the bucket of each n-gram of [`features`], in text
/// order (prediction sums the rows as they are read; training keeps the list).
#[inline(always)]
fn each_gram(text: &str, mut f: impl FnMut(u32)) {
    // The two characters before this one in the segment (0: none).
    let (mut p, mut q) = (0u64, 0u64);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(n) = filler_at(rest, c) {
            rest = &rest[n..];
            (p, q) = (0, 0);
            continue;
        }
        rest = &rest[c.len_utf8()..];
        // Ideographs first, and the CJK punctuation a normalized text keeps
        // (、。《》「」“”) known not to be letters: the general Unicode test
        // is a table search.
        if !(crate::normalize::is_ideograph(c)
            || c.is_ascii_alphanumeric()
            || (!crate::normalize::is_cjk_punctuation(c) && c.is_alphanumeric()))
        {
            (p, q) = (0, 0);
            continue;
        }
        let c = u64::from(c as u32);
        f(bucket(c | 1 << 62));
        if p != 0 {
            f(bucket(p << 21 | c | 2 << 62));
            if q != 0 {
                f(bucket(q << 42 | p << 21 | c | 3 << 62));
            }
        }
        (q, p) = (p, c);
    }
}

/// Each feature weighs 1/√n in a text of n features: a long narrative
/// does not outvote a short request by its length alone.
fn norm(n: usize) -> f32 {
    1.0 / (n.max(1) as f32).sqrt()
}

/// e^x for x ≤ 0 (a logit less the head's largest), eight at a time,
/// within 2e-6 (relative) of `f32::exp` and 0 below e^-30 (under f32's
/// precision next to the largest term, 1): 2^(x·log2 e) as 2^n times a
/// degree-6 polynomial of the remainder in [-0.5, 0.5]. Straight-line
/// arithmetic on floats and their bits (no libm call, no saturating
/// float-to-int conversion, no NaN-aware `max`), each step written lane by
/// lane so the compiler keeps the block in vector registers (a scalar
/// function called per lane stays scalar).
#[inline(always)]
fn exp_neg_lanes(x: Lanes) -> Lanes {
    use std::array::from_fn;
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN_2: f32 = std::f32::consts::LN_2;
    // Adding 1.5 × 2^23 rounds |t| < 2^22 to an integer held in the low
    // mantissa bits of the sum.
    const ROUND: f32 = 12_582_912.0;
    // NaN and anything below -44 are clamped (and then not kept: the
    // last step tests the clamped value against -30, with no mask of
    // booleans the compiler would build byte by byte).
    let x: Lanes = from_fn(|i| if x[i] > -44.0 { x[i] } else { -44.0 });
    let t: Lanes = from_fn(|i| x[i] * LOG2_E);
    let rounded: Lanes = from_fn(|i| t[i] + ROUND);
    let r: Lanes = from_fn(|i| (t[i] - (rounded[i] - ROUND)) * LN_2);
    // e^r by its Taylor series to r^6 (|r| ≤ 0.35: error below 2e-7).
    let p: Lanes = from_fn(|i| {
        let r = r[i];
        1.0 + r
            * (1.0
                + r * (0.5
                    + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))))
    });
    // 2^n from its exponent bits: n is the sum's bits less ROUND's (two's
    // complement, -64 ≤ n ≤ 0: a normal number).
    let scale: Lanes = from_fn(|i| {
        let n_bits = rounded[i].to_bits().wrapping_sub(ROUND.to_bits());
        f32::from_bits(n_bits.wrapping_add(127) << 23)
    });
    from_fn(|i| if x[i] > -30.0 { p[i] * scale[i] } else { 0.0 })
}

/// [`exp_neg_lanes`] of one term (the other lanes' work is dead code the
/// compiler drops).
#[inline(always)]
pub(crate) fn exp_neg(x: f32) -> f32 {
    exp_neg_lanes([x; LANES])[0]
}

/// Blocks of terms [`top3`] keeps: a head of the largest model a file may hold.
const TERM_BLOCKS: usize = MAX_CATEGORIES.div_ceil(LANES);

/// The three largest logits of a head, highest first, as (index,
/// probability), the probabilities over the whole head (softmax).
fn top3(logits: &[f32]) -> [Option<(usize, f32)>; 3] {
    // Not `f32::max` (NaN-aware, one at a time): a comparison vectorizes.
    let max = logits
        .iter()
        .fold(f32::NEG_INFINITY, |m, &l| if l > m { l } else { m });
    // Eight terms at a time, a short last block padded with e^-inf = 0;
    // each kept for the probabilities of the three.
    let mut lanes = [0f32; LANES];
    let mut terms = [[0f32; LANES]; TERM_BLOCKS];
    for (k, b) in logits.chunks(LANES).enumerate() {
        let x: Lanes = std::array::from_fn(|i| b.get(i).map_or(f32::NEG_INFINITY, |l| l - max));
        let e = exp_neg_lanes(x);
        lanes = std::array::from_fn(|i| lanes[i] + e[i]);
        if let Some(t) = terms.get_mut(k) {
            *t = e;
        }
    }
    let sum = lanes.iter().sum::<f32>();
    // Each of the first three goes to the first slot it beats, else after
    // the others (ties keep the lower index; a NaN beats nothing and is
    // passed by nothing, as before); then each later logit only when it
    // beats the third: one predictable comparison for nearly all of them.
    let mut top = [(usize::MAX, f32::NEG_INFINITY); 3];
    for (i, &l) in logits.iter().enumerate().take(3) {
        let at = top[..i].iter().position(|t| l > t.1).unwrap_or(i);
        top[at..=i].rotate_right(1);
        top[at] = (i, l);
    }
    for (i, &l) in logits.iter().enumerate().skip(3) {
        if l > top[2].1 {
            top = if l > top[0].1 {
                [(i, l), top[0], top[1]]
            } else if l > top[1].1 {
                [top[0], (i, l), top[1]]
            } else {
                [top[0], top[1], (i, l)]
            };
        }
    }
    top.map(|(i, l)| {
        (i != usize::MAX).then(|| {
            (
                i,
                if sum > 0.0 {
                    let term = terms.get(i / LANES).map(|t| t[i % LANES]);
                    term.unwrap_or_else(|| exp_neg(l - max)) / sum
                } else {
                    0.0
                },
            )
        })
    })
}

/// The summed rows of a text's n-grams and cues, and how many there were:
/// [`Model::predict_text`]'s loop. For the usual sizes of model (9 to 56
/// categories) the row's block count is a constant of the loop, so the
/// sums stay in registers: a row's adds then wait on the last row's adds,
/// not on a store and a load of the same memory. The additions are the
/// same, in the same order, whichever loop runs (same bits).
fn sum_text(m: &Model, text: &str, cues: &[(u32, &Arc<str>)]) -> (Acc, usize) {
    match blocks(m.categories.len()) {
        3 => sum_rows::<3>(m, text, cues),
        4 => sum_rows::<4>(m, text, cues),
        5 => sum_rows::<5>(m, text, cues),
        6 => sum_rows::<6>(m, text, cues),
        7 => sum_rows::<7>(m, text, cues),
        8 => sum_rows::<8>(m, text, cues),
        _ => {
            let mut acc: Acc = [[0f32; LANES]; ACC_BLOCKS];
            let mut n = cues.len();
            each_gram(text, |f| {
                m.add_row(&mut acc, f);
                n += 1;
            });
            for &(f, _) in cues {
                m.add_row(&mut acc, f);
            }
            (acc, n)
        }
    }
}

/// [`sum_text`] for a model of `B` blocks a row.
fn sum_rows<const B: usize>(m: &Model, text: &str, cues: &[(u32, &Arc<str>)]) -> (Acc, usize) {
    let mut sums: [Lanes; B] = [[0f32; LANES]; B];
    let mut n = cues.len();
    let mask = m.dims - 1;
    let mut add = |f: u32| {
        let f = f as usize & mask;
        if let Some(row) = m.dense.get(f * B..(f + 1) * B) {
            for (s, w) in sums.iter_mut().zip(row) {
                *s = add_lanes(*s, w);
            }
        }
    };
    each_gram(text, |f| {
        add(f);
        n += 1;
    });
    for &(f, _) in cues {
        add(f);
    }
    let mut acc: Acc = [[0f32; LANES]; ACC_BLOCKS];
    acc[..B].copy_from_slice(&sums);
    (acc, n)
}

/// Shuffles a training order in place: Fisher–Yates with xorshift, so an
/// epoch's order depends only on the seed `rng` started from (both models'
/// trainers: the same corpus gives the same file).
pub(crate) fn shuffle(order: &mut [usize], rng: &mut u64) {
    for i in (1..order.len()).rev() {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        order.swap(i, (*rng % (i as u64 + 1)) as usize);
    }
}

/// The soft-max in place (training this model and dedup's problem types).
pub(crate) fn softmax(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        for x in v.iter_mut() {
            *x /= sum;
        }
    }
}

const NK: usize = Kind::ALL.len();

impl Model {
    /// A model from its quantized weights; the dense rows prediction reads
    /// are derived here, the one place a model is made.
    fn new(
        categories: Vec<Arc<str>>,
        dims: usize,
        scales: Vec<f32>,
        kind_bias: Vec<f32>,
        cat_bias: Vec<f32>,
        weights: Vec<i8>,
    ) -> Model {
        Model {
            dense: densify(&weights, &scales, categories.len()),
            categories,
            dims,
            scales,
            kind_bias,
            cat_bias,
            weights,
        }
    }

    fn row(&self) -> usize {
        NK + self.categories.len()
    }

    /// Probabilities for a feature list: the three likeliest kinds and
    /// categories, and of the keyword rules in `cues` (feature, name) the
    /// ones that weighed most for the kind and category chosen.
    pub fn predict(&self, features: &[u32], cues: &[(u32, &Arc<str>)]) -> Prediction {
        let mut acc: Acc = [[0f32; LANES]; ACC_BLOCKS];
        for &f in features {
            self.add_row(&mut acc, f);
        }
        self.finish(&acc, features.len(), cues)
    }

    /// [`predict`](Self::predict) of a normalized text and its matched
    /// keyword rules' cues, the n-grams' rows summed as they are read (no
    /// feature list): what `decide` calls.
    pub fn predict_text(&self, text: &str, cues: &[(u32, &Arc<str>)]) -> Prediction {
        let (acc, n) = sum_text(self, text, cues);
        self.finish(&acc, n, cues)
    }

    /// Adds a feature's row to the logits' blocks.
    #[inline(always)]
    fn add_row(&self, acc: &mut Acc, f: u32) {
        let nb = blocks(self.categories.len());
        let f = f as usize & (self.dims - 1);
        let Some(w) = self.dense.get(f * nb..(f + 1) * nb) else {
            return;
        };
        for (a, x) in acc.iter_mut().zip(w) {
            *a = add_lanes(*a, x);
        }
    }

    /// The prediction from the summed rows of `n` features.
    fn finish(&self, acc: &Acc, n: usize, cues: &[(u32, &Arc<str>)]) -> Prediction {
        // A model trained on more categories than a file may hold (the
        // trainer takes the rules' list) predicts among the first ones; its
        // file is refused on reading.
        let nc = self.categories.len().min(MAX_CATEGORIES);
        let norm = norm(n);
        let mut logits = [0f32; NK + MAX_CATEGORIES];
        let (kl, cl) = logits.split_at_mut(NK);
        for ((l, a), b) in kl.iter_mut().zip(&acc[0]).zip(&self.kind_bias) {
            *l = a * norm + b;
        }
        for ((l, a), b) in cl
            .iter_mut()
            .zip(acc[1..].iter().flatten())
            .zip(&self.cat_bias)
        {
            *l = a * norm + b;
        }
        let (kl, cl) = (&kl[..], &cl[..nc]);
        let kinds: ArrayVec<(Kind, f32), 3> = top3(kl)
            .into_iter()
            .flatten()
            .filter_map(|(i, p)| Some((*Kind::ALL.get(i)?, p)))
            .collect();
        let categories: ArrayVec<(usize, f32), 3> = top3(cl).into_iter().flatten().collect();
        let evidence = match (kinds.first(), categories.first()) {
            (Some(&(k, _)), Some(&(c, _))) => self.evidence(cues, k as usize, c),
            _ => ArrayVec::new(),
        };
        Prediction {
            kinds,
            categories,
            evidence,
        }
    }

    /// Of the keyword rules matched, at most three whose cue weighs for
    /// kind `k` and category `c`, strongest first.
    fn evidence(&self, cues: &[(u32, &Arc<str>)], k: usize, c: usize) -> ArrayVec<Arc<str>, 3> {
        let row = self.row();
        // The three strongest so far, strongest first; a later cue enters
        // only when stronger, so equal ones keep the order of `cues`.
        let mut best: ArrayVec<(f32, &Arc<str>), 3> = ArrayVec::new();
        for &(f, name) in cues {
            let f = f as usize & (self.dims - 1);
            let (Some(w), Some(s)) = (
                self.weights.get(f * row..(f + 1) * row),
                self.scales.get(f * 2..f * 2 + 2),
            ) else {
                continue;
            };
            let (Some(wk), Some(wc)) = (w.get(k), w.get(NK + c)) else {
                continue;
            };
            let v = f32::from(*wk) * s[0] + f32::from(*wc) * s[1];
            let at = best.iter().position(|b| v > b.0).unwrap_or(best.len());
            if v > 0.0 && at < 3 {
                if best.is_full() {
                    best.pop();
                }
                best.insert(at, (v, name));
            }
        }
        best.into_iter().map(|(_, n)| n.clone()).collect()
    }

    /// Trains both heads on `examples` (categories index `categories`).
    pub fn train(categories: Vec<Arc<str>>, examples: &[Example], cfg: &TrainConfig) -> Model {
        let nc = categories.len();
        let row = NK + nc;
        let dims = 1usize << cfg.dims_log2.min(20);
        let mut w = vec![0f32; dims * row];
        let mut kb = vec![0f32; NK];
        let mut cb = vec![0f32; nc];
        let mut order: Vec<usize> = (0..examples.len()).collect();
        let mut rng = cfg.seed | 1;
        let mut kp = vec![0f32; NK];
        let mut cp = vec![0f32; nc];
        for epoch in 0..cfg.epochs {
            shuffle(&mut order, &mut rng);
            let lr = cfg.learning_rate / (1.0 + epoch as f32 * 0.5);
            for &i in &order {
                let ex = &examples[i];
                if ex.category >= nc {
                    continue;
                }
                let n = norm(ex.features.len());
                kp.iter_mut().for_each(|p| *p = 0.0);
                cp.iter_mut().for_each(|p| *p = 0.0);
                for &f in &ex.features {
                    let f = f as usize & (dims - 1);
                    let r = &w[f * row..(f + 1) * row];
                    for (p, x) in kp.iter_mut().zip(&r[..NK]) {
                        *p += x;
                    }
                    for (p, x) in cp.iter_mut().zip(&r[NK..]) {
                        *p += x;
                    }
                }
                for (p, b) in kp.iter_mut().zip(&kb) {
                    *p = *p * n + b;
                }
                for (p, b) in cp.iter_mut().zip(&cb) {
                    *p = *p * n + b;
                }
                softmax(&mut kp);
                softmax(&mut cp);
                // Gradient of the log loss: p − y.
                kp[ex.kind as usize] -= 1.0;
                cp[ex.category] -= 1.0;
                for (b, g) in kb.iter_mut().zip(&kp) {
                    *b -= lr * g;
                }
                for (b, g) in cb.iter_mut().zip(&cp) {
                    *b -= lr * g;
                }
                for &f in &ex.features {
                    let f = f as usize & (dims - 1);
                    let r = &mut w[f * row..(f + 1) * row];
                    for (x, g) in r[..NK].iter_mut().zip(&kp) {
                        *x -= lr * (g * n + cfg.l2 * *x);
                    }
                    for (x, g) in r[NK..].iter_mut().zip(&cp) {
                        *x -= lr * (g * n + cfg.l2 * *x);
                    }
                }
            }
        }
        quantize(categories, &w, kb, cb)
    }

    /// The model file: magic, category codes, rows, biases, scales,
    /// weights (`model_file`'s pieces).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(self.weights.len() + 1024);
        w.bytes(MAGIC);
        w.strs(self.categories.iter().map(|c| &**c));
        w.size(self.dims);
        w.f32s(
            self.kind_bias
                .iter()
                .chain(&self.cat_bias)
                .chain(&self.scales),
        );
        w.0.extend(self.weights.iter().map(|x| *x as u8));
        w.0
    }

    /// Reads a model file written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(b: &[u8]) -> Result<Model, ModelError> {
        let mut r = Reader::after_magic(b, MAGIC).ok_or(ModelError::Magic)?;
        let mut read = || -> Result<Model, &'static str> {
            let categories: Vec<Arc<str>> = r
                .strs(MAX_CATEGORIES, "category count", "category code")?
                .into_iter()
                .map(Arc::from)
                .collect();
            let nc = categories.len();
            let dims = r.rows("row count")?;
            let kind_bias = r.f32s(NK)?;
            let cat_bias = r.f32s(nc)?;
            let scales = r.f32s(dims * 2)?;
            let weights: Vec<i8> = r.take(dims * (NK + nc))?.iter().map(|x| *x as i8).collect();
            r.end()?;
            Ok(Model::new(
                categories, dims, scales, kind_bias, cat_bias, weights,
            ))
        };
        read().map_err(ModelError::Malformed)
    }
}

/// i8 weights with a scale per row and head (the row's largest magnitude
/// maps to 127).
fn quantize(
    categories: Vec<Arc<str>>,
    w: &[f32],
    kind_bias: Vec<f32>,
    cat_bias: Vec<f32>,
) -> Model {
    let row = NK + categories.len();
    let dims = w.len() / row.max(1);
    let mut scales = Vec::with_capacity(dims * 2);
    let mut weights = Vec::with_capacity(w.len());
    for r in w.chunks(row) {
        for part in [&r[..NK], &r[NK..]] {
            let m = part.iter().fold(0f32, |m, x| m.max(x.abs()));
            let s = if m > 0.0 { m / 127.0 } else { 1.0 };
            scales.push(s);
            weights.extend(part.iter().map(|x| (x / s).round() as i8));
        }
    }
    Model::new(categories, dims, scales, kind_bias, cat_bias, weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{Just, Strategy};

    #[test]
    fn the_fast_exponential_matches_the_library_one() {
        let mut x = 0.0f32;
        while x > -29.99 {
            let (ours, lib) = (exp_neg(x), x.exp());
            assert!(((ours - lib) / lib).abs() < 2e-6, "e^{x}: {ours} vs {lib}");
            x -= 0.0137;
        }
        assert_eq!(exp_neg(-30.5), 0.0);
        // Terms at e^-30 and below are left out of a head's sum.
        assert_eq!(exp_neg(-30.0), 0.0);
        assert!(exp_neg(-29.999) > 0.0);
        assert_eq!(exp_neg(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_neg(f32::NAN), 0.0);
        assert_eq!(exp_neg(0.0), 1.0);
    }

    /// The eight-lane e^x is the scalar one, lane for lane.
    #[test]
    fn the_lane_exponential_is_the_scalar_one() {
        let mut x = 1.0f32;
        while x > -50.0 {
            let xs: Lanes = std::array::from_fn(|i| x - i as f32 * 0.37);
            let got = exp_neg_lanes(xs);
            for (g, v) in got.iter().zip(xs) {
                assert_eq!(g.to_bits(), exp_neg(v).to_bits(), "e^{v}");
            }
            x -= 0.0913;
        }
        let odd = [
            f32::NAN,
            f32::NEG_INFINITY,
            0.0,
            -30.0,
            -29.999,
            -44.0,
            -100.0,
            -0.0,
        ];
        for (g, v) in exp_neg_lanes(odd).iter().zip(odd) {
            assert_eq!(g.to_bits(), exp_neg(v).to_bits(), "e^{v}");
        }
    }

    #[test]
    fn probabilities_of_a_head_sum_to_one_and_rank_the_logits() {
        let logits = [0.5f32, 3.0, -2.0, 2.9, 0.0, -40.0, 1.0, 1.5, 2.0, -1.0, 0.2];
        let top = top3(&logits);
        let idx: Vec<usize> = top.iter().flatten().map(|x| x.0).collect();
        assert_eq!(idx, vec![1, 3, 8]);
        let max = 3.0f32;
        let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
        for (i, p) in top.iter().flatten() {
            let want = (logits[*i] - max).exp() / sum;
            assert!((p - want).abs() < 1e-6, "{i}: {p} vs {want}");
        }
    }

    /// A head with no finite logit gives probabilities of 0, not NaN.
    #[test]
    fn a_head_without_a_finite_logit_has_no_probability() {
        let top = top3(&[f32::NEG_INFINITY; 3]);
        assert!(top.iter().flatten().all(|(_, p)| *p == 0.0), "{top:?}");
    }

    /// Evidence ranks the cues by their scaled weights for the kind plus
    /// the category (found by cargo-mutants: dividing by the kind's scale
    /// instead of multiplying went unseen).
    #[test]
    fn evidence_ranks_cues_by_their_scaled_weights() {
        let row = NK + 1;
        let dims = 4;
        let mut weights = vec![0i8; dims * row];
        let mut scales = vec![1.0f32; dims * 2];
        // Row 1: kind 100 × 0.01 = 1. Row 2: kind 100 × 0.02 = 2. Row 3:
        // category 100 × 0.015 = 1.5. Row 0: weighs against (not named).
        weights[row] = 100;
        scales[2] = 0.01;
        weights[2 * row] = 100;
        scales[4] = 0.02;
        weights[3 * row + NK] = 100;
        scales[7] = 0.015;
        weights[0] = -100;
        let m = Model::new(
            vec![Arc::from("c")],
            dims,
            scales,
            vec![0.0; NK],
            vec![0.0],
            weights,
        );
        let names: Vec<Arc<str>> = ["r0", "r1", "r2", "r3"].map(Arc::from).to_vec();
        let cues: Vec<(u32, &Arc<str>)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32, n))
            .collect();
        let got = m.evidence(&cues, 0, 0);
        assert_eq!(got.to_vec(), ["r2", "r3", "r1"].map(Arc::from).to_vec());
        // A cue that weighs against (row 0) or nothing (row 1 for kind 1
        // and the category) is no evidence.
        assert!(m.evidence(&cues[..1], 0, 0).is_empty());
        assert!(m.evidence(&cues[1..2], 1, 0).is_empty());
    }

    proptest::proptest! {
        /// The three of a head are its three largest logits, highest
        /// first, the lower index first among equal ones: a stable sort's
        /// first three.
        /// The same three, in the same order, with the same probability
        /// bits as the insertion of session 19 ([`reference_top3`]), also
        /// with NaN, infinities and -0.0 among the logits.
        #[test]
        fn the_top_three_are_the_earlier_insertions(
            logits in proptest::collection::vec(
                proptest::prop_oneof![
                    Just(f32::NAN),
                    Just(f32::INFINITY),
                    Just(f32::NEG_INFINITY),
                    Just(-0.0f32),
                    (-8i8..8).prop_map(|l| f32::from(l) / 2.0),
                ],
                0..20,
            )
        ) {
            let bits = |t: [Option<(usize, f32)>; 3]| t.map(|x| x.map(|(i, p)| (i, p.to_bits())));
            proptest::prop_assert_eq!(bits(top3(&logits)), bits(reference_top3(&logits)));
        }

        #[test]
        fn the_top_three_are_the_sorted_first_three(
            logits in proptest::collection::vec(-8i8..8, 0..40)
        ) {
            let logits: Vec<f32> = logits.into_iter().map(|l| f32::from(l) / 2.0).collect();
            let mut order: Vec<usize> = (0..logits.len()).collect();
            order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
            let got: Vec<usize> = top3(&logits).iter().flatten().map(|x| x.0).collect();
            proptest::prop_assert_eq!(got, order.into_iter().take(3).collect::<Vec<_>>());
        }

        /// Summing the rows as the text is read gives what the feature
        /// list gives (the list is what the trainer sees): the same
        /// probabilities, bit for bit, and the same evidence.
        #[test]
        fn prediction_from_the_text_is_prediction_from_its_features(
            text in "[喂你好那个谢谢楼下狗叫停水了税务局 ,。！a-z0-9]{0,40}",
            cue_ids in proptest::collection::vec("[a-z.]{1,12}", 0..4),
        ) {
            let m = Model::from_bytes(crate::rules::EMBEDDED.model).map_err(|e| {
                proptest::test_runner::TestCaseError::fail(format!("{e}"))
            })?;
            let names: Vec<Arc<str>> = cue_ids.iter().map(|s| Arc::from(s.as_str())).collect();
            let cues: Vec<(u32, &Arc<str>)> = names.iter().map(|n| (rule_feature(n), n)).collect();
            let f = features(&text, names.iter().map(|n| &**n));
            proptest::prop_assert_eq!(m.predict_text(&text, &cues), m.predict(&f, &cues));
        }

        /// The same for models of any size: the loops for a fixed number
        /// of blocks a row and the one for any number sum alike.
        #[test]
        fn every_size_of_model_predicts_from_the_text_as_from_its_features(
            nc in proptest::sample::select(vec![1usize, 8, 9, 20, 29, 40, 44, 56, 57, 64, 100]),
            seed in proptest::prelude::any::<u64>(),
            text in "[喂你好楼下狗叫停水了税务局 ,。a-z0-9]{0,30}",
        ) {
            let dims = 64;
            let mut rng = seed | 1;
            let mut next = || {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng
            };
            let weights: Vec<i8> = (0..dims * (NK + nc)).map(|_| next() as i8).collect();
            let scales: Vec<f32> = (0..dims * 2).map(|_| (next() % 100) as f32 / 1000.0).collect();
            let categories: Vec<Arc<str>> = (0..nc).map(|i| Arc::from(format!("c{i}"))).collect();
            let m = Model::new(categories, dims, scales, vec![0.1; NK], vec![-0.1; nc], weights);
            let names = [Arc::from("kind.complaint")];
            let cues: Vec<(u32, &Arc<str>)> = names.iter().map(|n| (rule_feature(n), n)).collect();
            let f = features(&text, names.iter().map(|n| &**n));
            proptest::prop_assert_eq!(m.predict_text(&text, &cues), m.predict(&f, &cues));
        }
    }

    /// `top3` as session 19 wrote it (one insertion for every logit).
    fn reference_top3(logits: &[f32]) -> [Option<(usize, f32)>; 3] {
        let max = logits
            .iter()
            .fold(f32::NEG_INFINITY, |m, &l| if l > m { l } else { m });
        let mut lanes = [0f32; LANES];
        for b in logits.chunks(LANES) {
            let x: Lanes = std::array::from_fn(|i| b.get(i).map_or(f32::NEG_INFINITY, |l| l - max));
            let e = exp_neg_lanes(x);
            lanes = std::array::from_fn(|i| lanes[i] + e[i]);
        }
        let sum = lanes.iter().sum::<f32>();
        let mut top = [(usize::MAX, f32::NEG_INFINITY); 3];
        for (i, &l) in logits.iter().enumerate() {
            if l > top[2].1 || top[2].0 == usize::MAX {
                if l > top[0].1 || top[0].0 == usize::MAX {
                    top = [(i, l), top[0], top[1]];
                } else if l > top[1].1 || top[1].0 == usize::MAX {
                    top = [top[0], (i, l), top[1]];
                } else {
                    top[2] = (i, l);
                }
            }
        }
        top.map(|(i, l)| {
            (i != usize::MAX).then(|| {
                (
                    i,
                    if sum > 0.0 {
                        exp_neg(l - max) / sum
                    } else {
                        0.0
                    },
                )
            })
        })
    }

    /// A model trained on more categories than a model file may hold does
    /// not panic when it predicts, and its file is refused.
    #[test]
    fn a_model_with_too_many_categories_predicts_and_is_refused_on_reading() {
        let categories: Vec<Arc<str>> = (0..MAX_CATEGORIES + 9)
            .map(|i| Arc::from(format!("c{i}")))
            .collect();
        let examples = [Example {
            features: features("楼下的狗叫", std::iter::empty()),
            kind: Kind::Complaint,
            category: MAX_CATEGORIES + 3,
        }];
        let cfg = TrainConfig {
            epochs: 2,
            dims_log2: 6,
            ..TrainConfig::default()
        };
        let m = Model::train(categories, &examples, &cfg);
        let p = m.predict_text("楼下的狗叫", &[]);
        assert_eq!(p.kinds.len(), 3);
        assert!(p.categories.iter().all(|(i, _)| *i < MAX_CATEGORIES));
        assert!(Model::from_bytes(&m.to_bytes()).is_err());
    }

    /// Equal logits keep the lower index first (found by cargo-mutants: no
    /// test had ties).
    #[test]
    fn ties_rank_the_lower_index_first() {
        let idx = |l: &[f32]| -> Vec<usize> { top3(l).iter().flatten().map(|x| x.0).collect() };
        assert_eq!(idx(&[1.0, 1.0, 1.0, 1.0]), vec![0, 1, 2]);
        assert_eq!(idx(&[0.0, 2.0, 2.0, 1.0, 1.0]), vec![1, 2, 3]);
        assert_eq!(idx(&[0.0, 1.0, 2.0, 2.0]), vec![2, 3, 1]);
    }
}
