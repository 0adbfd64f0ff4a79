//! Names: the proper names in a text — of a shop, a compound, a school, a
//! driving school (福康养生馆, 嘉陵春晓, 安顺驾校, 金夜KTV) — found without a
//! list of them. A pair of adjacent ideographs that no contact of the
//! background corpus uses is, far more often than not, part of a name:
//! ordinary words (噪音, 漏水, 退费) are in thousands of contacts, a name in
//! none. Two callers whose texts share such a pair are very likely talking
//! about the same named thing, even when neither names it with a place
//! ending the place reader knows (Art. 12(3): one matter, one cluster).
//!
//! The background is the classifier's training contacts but writers J
//! and K's (`NOT_BACKGROUND` names them) and the problem paraphrases
//! (`router/data/corpus/train*.jsonl`,
//! `router/data/problems/corpus.jsonl`), embedded and read once into a
//! Bloom filter of the pairs they use (2^20 bits, two probes: about 1.5 %
//! of unseen pairs read as seen, which only loses a name, never invents
//! one). Pure: no I/O; the same text gives the same names.
use super::text::mix;
use std::sync::LazyLock;

/// Names kept per text (the first unseen pairs, in text order).
pub const NAMES: usize = 6;

/// The background texts, JSON lines with a `text` field. The second set of
/// problem paraphrases (`corpus2.jsonl`) is not among them: with it, cluster
/// recall fell by 0.003–0.004 on the tuning sets (BENCHMARKS.md, "Dedup").
const BACKGROUND: [&str; 5] = [
    include_str!("../../data/corpus/train.jsonl"),
    include_str!("../../data/corpus/train_f.jsonl"),
    include_str!("../../data/corpus/train_g.jsonl"),
    include_str!("../../data/corpus/train_h.jsonl"),
    include_str!("../../data/problems/corpus.jsonl"),
];

/// Training files of the classifier left out of the background: writers J
/// and K were asked for invented villages, compounds and streets in many
/// texts, which makes those names' pairs common; with them, cluster recall
/// fell on unknown_tuning from 0.682 to 0.653 (BENCHMARKS.md, "Dedup").
#[cfg(test)]
const NOT_BACKGROUND: [&str; 2] = ["train_j.jsonl", "train_k.jsonl"];

const BITS: usize = 1 << 20;

/// The pairs the background uses, as a Bloom filter.
struct Seen(Box<[u64]>);

static SEEN: LazyLock<Seen> = LazyLock::new(|| {
    let mut s = Seen(vec![0u64; BITS / 64].into_boxed_slice());
    for file in BACKGROUND {
        for line in file.lines() {
            let Ok(row) = serde_json::from_str::<Row>(line) else {
                continue;
            };
            each_pair(&fast2s::convert(&row.text), |_, _, _, h| s.insert(h));
        }
    }
    s
});

#[derive(serde::Deserialize)]
struct Row {
    text: String,
}

impl Seen {
    fn probes(h: u64) -> [usize; 2] {
        [h as usize % BITS, (h >> 32) as usize % BITS]
    }
    fn insert(&mut self, h: u64) {
        for i in Seen::probes(h) {
            if let Some(w) = self.0.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        }
    }
    fn contains(&self, h: u64) -> bool {
        Seen::probes(h)
            .iter()
            .all(|i| self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0))
    }
}

/// Reads the background now rather than at the first contact (about a
/// tenth of a second).
pub fn load() {
    LazyLock::force(&SEEN);
}

/// The hash of a pair of ideographs: the problem-type model's bigram hash
/// ([`super::types`]), so one pass over a text serves both.
pub fn pair_hash(p: char, c: char) -> u64 {
    mix(u64::from(p as u32) << 21 | u64::from(c as u32) | 2 << 62)
}

/// Calls `f(i, p, c, hash)` with the [`pair_hash`] of each pair of
/// adjacent ideographs of a text (simplified characters), in text order,
/// `i` the index of `c` among the text's characters.
fn each_pair(simplified: &str, mut f: impl FnMut(usize, char, char, u64)) {
    let mut prev: Option<char> = None;
    for (i, c) in simplified.chars().enumerate() {
        if !crate::normalize::is_ideograph(c) {
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            f(i, p, c, pair_hash(p, c));
        }
        prev = Some(c);
    }
}

/// Characters that end (or are) a town, district or street name: a pair
/// with one, or right before one, names an area (宝轮镇, 东坝街道), which
/// joins nothing (Art. 12(3): one matter needs one place), not a shop or
/// compound. The place reader has them as places of their own.
const AREA: &str = "镇乡区县街";

/// A text's names as its pairs are offered, in text order: the first
/// [`NAMES`] distinct pairs the background does not use, none of them an
/// area's ([`AREA`]).
#[derive(Debug, Default)]
pub struct Names {
    out: [u32; NAMES],
    n: usize,
    /// Where the last pair kept ends (its second character's index): it
    /// is withdrawn if the next character ends an area's name.
    last_kept: Option<usize>,
}

impl Names {
    /// Offers the pair (`p`, `c`) ending at character `i`, and its
    /// [`pair_hash`].
    pub fn offer(&mut self, i: usize, p: char, c: char, h: u64) {
        if AREA.contains(c) && self.last_kept.is_some_and(|at| at + 1 == i) {
            self.n -= 1;
            self.out[self.n] = 0;
        }
        self.last_kept = None;
        if self.n == NAMES || AREA.contains(p) || AREA.contains(c) || SEEN.contains(h) {
            return;
        }
        let x = (h as u32).max(1);
        if !self.out[..self.n].contains(&x) {
            self.out[self.n] = x;
            self.n += 1;
            self.last_kept = Some(i);
        }
    }

    /// The names (0 = none).
    pub fn get(&self) -> [u32; NAMES] {
        self.out
    }
}

/// The names of a text (simplified characters): hashes of its first
/// [`NAMES`] distinct pairs the background does not use (0 = none).
pub fn of(simplified: &str) -> [u32; NAMES] {
    let mut names = Names::default();
    each_pair(simplified, |i, p, c, h| names.offer(i, p, c, h));
    names.get()
}

/// A 64-bit signature of a text's names (one bit each): two texts whose
/// signatures share no bit share no name, tested in one instruction.
pub fn signature(names: &[u32; NAMES]) -> u64 {
    names
        .iter()
        .filter(|x| **x != 0)
        .fold(0, |b, x| b | 1 << (x >> 26))
}

/// Whether two texts' [`of`] share a name.
pub fn shared(a: &[u32; NAMES], b: &[u32; NAMES]) -> bool {
    a.iter().any(|x| *x != 0 && b.contains(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<u32> {
        of(&fast2s::convert(s))
            .into_iter()
            .filter(|x| *x != 0)
            .collect()
    }

    #[test]
    fn ordinary_words_are_no_names() {
        // Words of thousands of contacts; between words a pair can be
        // unseen (楼下噪), so the test keeps to words.
        assert!(names("噪音扰民，漏水，退费").is_empty());
        assert!(names("").is_empty());
        assert!(names("abc 123").is_empty());
    }

    #[test]
    fn an_invented_shop_name_is_a_name_shared_by_two_phrasings() {
        let a = of("东坝福康养生馆天天免费送鸡蛋，把老年人哄进去听课");
        let b = of("福康养生馆骗老人买保健品");
        assert!(shared(&a, &b), "{a:?} {b:?}");
        let c = of("楼下烧烤店油烟太大");
        assert!(!shared(&a, &c));
    }

    #[test]
    fn traditional_characters_give_the_same_names() {
        assert_eq!(names("福康養生館"), names("福康养生馆"));
        assert!(!names("福康養生館").is_empty());
    }

    #[test]
    fn at_most_names_distinct_pairs_are_kept() {
        let long = "鑫鑫鑫淼淼淼焱焱焱垚垚垚犇犇犇骉骉骉".repeat(3);
        let n = of(&long);
        assert!(n.iter().all(|x| *x != 0), "{n:?}");
        let mut distinct = n.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), NAMES, "{n:?}");
    }

    #[test]
    fn texts_sharing_a_name_share_a_signature_bit() {
        let a = of("东坝福康养生馆天天免费送鸡蛋");
        let b = of("福康养生馆骗老人");
        assert!(shared(&a, &b));
        assert_ne!(signature(&a) & signature(&b), 0);
        assert_eq!(signature(&[0; NAMES]), 0);
    }

    /// A town's or street's name is an area, not a name: two texts
    /// naming only one town share nothing (Art. 12(3)).
    #[test]
    fn an_areas_name_is_no_name() {
        assert!(names("鹤鸣镇").is_empty(), "{:?}", names("鹤鸣镇"));
        assert!(names("鹤鸣乡的路").is_empty());
        assert!(names("鹤鸣街道").is_empty());
        // A shop's name after it still is one, and one before a gap too.
        assert!(shared(
            &of("鹤鸣镇福康养生馆骗老人"),
            &of("福康养生馆卖保健品")
        ));
        assert!(shared(&of("福康，鹤鸣镇"), &of("福康养生馆卖保健品")));
    }

    /// The background is every training file of the classifier but the
    /// ones left out by name, and the problem paraphrases: a file added
    /// there is read here too, unless it is left out on purpose.
    #[test]
    fn the_background_is_every_training_file() -> std::io::Result<()> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus");
        for name in NOT_BACKGROUND {
            assert!(dir.join(name).is_file(), "{name} is left out but missing");
        }
        let mut files = 0;
        for e in std::fs::read_dir(&dir)?.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("train")
                && name.ends_with(".jsonl")
                && !NOT_BACKGROUND.contains(&name.as_str())
            {
                let text = std::fs::read_to_string(e.path())?;
                assert!(
                    BACKGROUND.contains(&text.as_str()),
                    "{name} is not in BACKGROUND"
                );
                files += 1;
            }
        }
        assert_eq!(files + 1, BACKGROUND.len());
        Ok(())
    }

    /// The names gathered in the problem types' pass are the same.
    #[test]
    fn the_types_pass_gathers_the_same_names() {
        let Ok(m) = super::super::types::TypeModel::embedded() else {
            panic!("the embedded problem-type model");
        };
        for t in [
            "东坝福康养生馆天天免费送鸡蛋",
            "KTV金夜12点还在唱",
            "",
            "噪音",
        ] {
            let mut n = Names::default();
            let _ = m.predict_text_and_names(t, &mut n);
            assert_eq!(n.get(), of(t), "{t}");
        }
    }

    #[test]
    fn the_background_is_read() {
        // A pair every complaint about noise uses.
        assert!(SEEN.contains(pair_hash('噪', '音')));
        assert!(!SEEN.contains(pair_hash('福', '康')));
    }
}
