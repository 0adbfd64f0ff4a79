//! The settings and the matters lexicon, and the one question they answer:
//! are two contacts' texts on the same matter (Art. 12(3), 14(3)).
use super::text::{Features, Lexicon, LexiconError};
use super::*;

/// The settings and the matters lexicon: immutable, shared by the threads
/// that build records and the index that applies them.
#[derive(Debug, Clone)]
pub struct DedupRules {
    pub cfg: DedupConfig,
    pub lexicon: Lexicon,
    /// The lexicon matters named in `special_on_hotspot`, as a bit set.
    pub(super) special_matters: u64,
}

impl DedupRules {
    pub fn new(cfg: DedupConfig, matters: &str) -> Result<DedupRules, LexiconError> {
        let lexicon = Lexicon::parse(matters)?;
        let special_matters = lexicon
            .ids
            .iter()
            .enumerate()
            .filter(|(_, id)| cfg.special_on_hotspot.contains(id))
            .fold(0u64, |m, (i, _)| m | (1 << i));
        Ok(DedupRules {
            cfg,
            lexicon,
            special_matters,
        })
    }

    pub fn embedded(cfg: DedupConfig) -> Result<DedupRules, LexiconError> {
        DedupRules::new(cfg, text::EMBEDDED_MATTERS)
    }

    /// Whether two texts are on the same matter: they name a common matter
    /// and the rest (place, details) is similar, or one names none and the
    /// whole is very similar in the same category. Returns a score.
    ///
    /// Places named on both sides must be the same place; a text that says
    /// nothing but the matter ("没水了") matches on the matter alone.
    pub fn same_matter(
        &self,
        a: (&Features, u32),
        b: (&Features, u32),
        threshold: f64,
    ) -> Option<f64> {
        self.same_matter_as(a, b, threshold, false)
    }

    /// [`same_matter`](Self::same_matter) for different callers (a
    /// cluster): on a matter the lexicon does not know, two texts are one
    /// matter only at the same compound, street, village or shop (a town
    /// named alone joins nothing) and with similar problems — two different
    /// problems at one place are two clusters.
    pub fn same_cluster_matter(
        &self,
        a: (&Features, u32),
        b: (&Features, u32),
        threshold: f64,
    ) -> Option<f64> {
        self.same_matter_as(a, b, threshold, true)
    }

    fn same_matter_as(
        &self,
        a: (&Features, u32),
        b: (&Features, u32),
        threshold: f64,
        cluster: bool,
    ) -> Option<f64> {
        let ((fa, acat), (fb, bcat)) = (a, b);
        let place = text::same_place(&fa.places, &fb.places);
        if place == Some(false) {
            return None;
        }
        let shared = fa.matters & fb.matters;
        if cluster && shared != 0 && shared & self.special_matters == 0 {
            // A point problem (noise, rubbish, a smell …), unlike an outage
            // or pollution that covers an area: different callers share it
            // only at the same compound, street, village or shop.
            if !text::same_fine_place(&fa.places, &fb.places) {
                return None;
            }
            return Some(2.0 + fa.sketch.similarity(&fb.sketch));
        }
        if shared != 0 {
            if place == Some(true) {
                return Some(2.0 + fa.sketch.similarity(&fb.sketch));
            }
            if fa.sketch.len < 2 || fb.sketch.len < 2 {
                return Some(1.0);
            }
            let sim = fa.sketch.similarity(&fb.sketch);
            return (sim >= threshold).then_some(1.0 + sim);
        }
        if fa.matters != 0 && fb.matters != 0 {
            return None;
        }
        if cluster {
            if !text::same_fine_place(&fa.places, &fb.places) {
                return None;
            }
            let sim = fa.sketch.similarity(&fb.sketch);
            let need = self.cfg.unknown_cluster_similarity * if acat == bcat { 1.0 } else { 2.0 };
            return (sim >= need).then_some(1.0 + sim);
        }
        // One text names no known matter: the same place and category, or
        // the same place and a similar rest, or a very similar whole.
        match (place == Some(true), acat == bcat) {
            (true, true) => Some(1.5),
            (true, false) => {
                let sim = fa.sketch.similarity(&fb.sketch);
                (sim >= 2.0 * threshold).then_some(1.0 + sim)
            }
            (false, true) => {
                let sim = fa.sketch.similarity(&fb.sketch);
                (sim >= self.cfg.text_similarity).then_some(sim)
            }
            (false, false) => None,
        }
    }
}
