//! The settings and the matters lexicon, and the one question they answer:
//! are two contacts' texts on the same matter (Art. 12(3), 14(3)).
use super::follow_up::Reference;
use super::rarity;
use super::text::{Features, Lexicon, LexiconError, Problem};
use super::types::TypeSet;
use super::*;

/// Distinct character pairs (besides places, filler and the lexicon's
/// words) from which a text tells its own problem, as one naming a matter
/// of the lexicon does: its problem types then speak for it.
const OWN_PROBLEM: u16 = 12;

/// How strongly two of a caller's contacts' problem types must agree to be
/// one matter when nothing else links them (0.6 did as well on the tuning
/// sets; the higher bar because a wrong repeat hides a complaint).
const SAME_PROBLEM: f64 = 0.8;

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
        super::names::load();
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

    /// The lexicon matters named in `special_on_hotspot`, as a bit set.
    pub fn special_matters_bits(&self) -> u64 {
        self.special_matters
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
    ///
    /// The score ranks the candidates a contact could join (the index takes
    /// the highest), in three tiers, each growing with the similarity
    /// `s` of the texts (or the overlap of the problems):
    /// - 2 + s: a known matter at one place;
    /// - 1 to 2: a known matter by the rest of the text (1 + s, or 1 for a
    ///   text that says nothing but the matter), an unknown problem at one
    ///   place (1 + overlap), or one text naming no matter at the same
    ///   place (1.5 in one category, else 1 + s);
    /// - s below 1: one text naming no matter, similar as a whole.
    pub fn same_matter(
        &self,
        a: (&Features, u32),
        b: (&Features, u32),
        threshold: f64,
    ) -> Option<f64> {
        self.same_matter_as(a, b, threshold, None)
    }

    /// Whether a caller's new contact `r` continues the matter of their
    /// earlier contact `e` (Art. 14(3)), and how well:
    /// - never when the new text says it is on another matter;
    /// - the texts are on the same matter ([`same_matter`](Self::same_matter),
    ///   scored above 1) and their problem types do not tell them apart;
    /// - the new text refers back to an earlier contact
    ///   ([`super::follow_up`]) and the lexicon does not name two different
    ///   matters: scored by the similarity of the texts' rest, 0 to 0.5, so
    ///   the caller's matter it is most like is the one continued;
    /// - the new text only has words of going on (又, 还没 …), and nothing
    ///   says otherwise: no two matters the lexicon names, no two places,
    ///   and, in a text that tells its own problem (long enough, or naming
    ///   a matter of the lexicon), no problem types that differ — scored 0
    ///   to 0.25, below any reference back;
    /// - nothing is said, but the problem types agree strongly (0.8) and no
    ///   two places are named: scored the same way.
    pub fn repeat_score(
        &self,
        (fe, ce, te): (&Features, u32, &TypeSet),
        (fr, cr, tr): (&Features, u32, &TypeSet),
        reference: Reference,
    ) -> Option<f64> {
        if reference == Reference::Another {
            return None;
        }
        let refers_back = reference == Reference::RefersBack;
        if let Some(s) = self.same_matter((fe, ce), (fr, cr), self.cfg.repeat_similarity) {
            // Two problems the types tell apart are the caller's two
            // matters, even at one place in one category (the 8 bus late,
            // then its driver rude): the second needs its own work order.
            // Not when the lexicon names a problem both share (a service
            // or field in common, the bus, is not one), nor when the new
            // text says it follows up (its own words read poorly).
            let problems = fe.matters & fr.matters & !self.lexicon.domains;
            if refers_back || problems != 0 || !te.differ(tr, self.cfg.other_types) {
                return Some(1.0 + s);
            }
            return None;
        }
        if fe.other_matters_than(fr) {
            return None;
        }
        // Each computed only by the arms that read it.
        let agree = te.agreement(tr);
        let likeness = || fe.sketch.similarity(&fr.sketch).max(agree);
        let apart = || text::same_place(&fe.places, &fr.places) == Some(false);
        match reference {
            Reference::RefersBack => Some(0.5 * likeness()),
            Reference::Continues => {
                let own_problem = fr.matters != 0 || fr.sketch.len >= OWN_PROBLEM;
                let parted = own_problem && te.differ(tr, self.cfg.other_types);
                (!parted && !apart()).then(|| 0.25 * likeness())
            }
            // Nothing said, but the problem types agree strongly: one
            // caller rarely has two problems of one type at once.
            Reference::None => (agree >= SAME_PROBLEM && !apart()).then_some(0.25 * agree),
            Reference::Another => None,
        }
    }

    /// [`same_matter`](Self::same_matter) for different callers (a
    /// cluster): on a matter the lexicon does not know, two texts are one
    /// matter only at the same compound, street, village or shop (a town
    /// named alone joins nothing) and with similar problems — two different
    /// problems at one place are two clusters.
    pub fn same_cluster_matter(
        &self,
        (fa, pa, acat): (&Features, &Problem, u32),
        (fb, pb, bcat): (&Features, &Problem, u32),
        threshold: f64,
    ) -> Option<f64> {
        self.same_matter_as((fa, acat), (fb, bcat), threshold, Some((pa, pb)))
    }

    /// Different callers' texts on a problem the lexicon does not name (or
    /// a point problem it names, away from a common fine place): never when
    /// their problem types ([`super::types`]) differ; at one compound,
    /// street, village or shop, one matter when the types agree; else one
    /// matter when the problems share enough of their telling characters
    /// ([`rarity::overlap`]) and the classifier's category distributions
    /// share enough probability ([`Problem::category_agreement`]) — a
    /// little of each at one compound, street, village or shop, much of
    /// each where no fine place is known on both sides (a name with no
    /// recognised ending — 嘉陵春晓, 剑门关 — is then among the characters).
    fn same_unknown_problem(
        &self,
        fine_place: Option<bool>,
        pa: &Problem,
        pb: &Problem,
    ) -> Option<f64> {
        let cfg = &self.cfg;
        // A proper name both texts use (a shop, compound or school the
        // place reader has no ending for) stands for a fine place in
        // common when no fine place is known on both sides.
        let fine_place = match fine_place {
            None if pa.shares_a_name(pb) => Some(true),
            x => x,
        };
        // The problem types: different ones are different problems; at
        // one fine place, the same ones are one problem.
        if pa.types_differ(pb, cfg.other_types) {
            return None;
        }
        let types = pa.type_agreement(pb);
        if fine_place == Some(true) && types >= cfg.placed_types {
            return Some(1.0 + types.max(rarity::overlap(pa, pb)));
        }
        let (need_ov, need_agree) = match fine_place {
            // At one fine place, problem types that lean the same way (if
            // weakly) stand in for the categories: the classifier's
            // category of a follow-up or a story often differs.
            Some(true) if types > 0.0 && types >= cfg.other_types => (cfg.placed_overlap, 0.0),
            Some(true) => (cfg.placed_overlap, cfg.placed_agreement),
            // Two compounds, villages or shops: two matters, even in one town.
            Some(false) => return None,
            None => (cfg.unplaced_overlap, cfg.unplaced_agreement),
        };
        if pa.category_agreement(pb) < need_agree {
            return None;
        }
        let ov = rarity::overlap(pa, pb);
        (ov >= need_ov).then_some(1.0 + ov)
    }

    fn same_matter_as(
        &self,
        a: (&Features, u32),
        b: (&Features, u32),
        threshold: f64,
        cluster: Option<(&Problem, &Problem)>,
    ) -> Option<f64> {
        let ((fa, acat), (fb, bcat)) = (a, b);
        let place = text::same_place(&fa.places, &fb.places);
        if place == Some(false) {
            return None;
        }
        let shared = fa.matters & fb.matters;
        if let (Some((pa, pb)), true) = (cluster, shared != 0 && shared & self.special_matters == 0)
        {
            // A point problem (noise, rubbish, a smell …), unlike an outage
            // or pollution that covers an area: different callers share it
            // only at the same compound, street, village or shop.
            let fine_place = text::fine_place_agreement(&fa.places, &fb.places);
            let problems = !self.lexicon.domains;
            if shared & problems == 0 {
                // Only a service or field in common (the 8 bus, a school, a
                // pharmacy's insurance) or a matter whose words name several
                // problems of one field: not yet a problem in common — a
                // late bus and a rude driver. Two problems the lexicon names
                // apart are two; others are compared as unknown ones.
                if fa.matters & problems != 0 && fb.matters & problems != 0 {
                    return None;
                }
            } else if fine_place == Some(true) {
                return Some(2.0 + fa.sketch.similarity(&fb.sketch));
            }
            // Only a service in common, or no fine place in common (one may
            // not be recognised): the problems must agree as unknown ones
            // must.
            return self.same_unknown_problem(fine_place, pa, pb);
        }
        if shared != 0 {
            // An outage or pollution covers an area, but a cluster's place
            // must agree: two compounds, villages or shops named apart are
            // two matters (two pipe bursts, a quarry and a kiln); callers
            // naming only the town join either.
            if cluster.is_some()
                && text::fine_place_agreement(&fa.places, &fb.places) == Some(false)
            {
                return None;
            }
            if place == Some(true) {
                return Some(2.0 + fa.sketch.similarity(&fb.sketch));
            }
            // A proper name both texts use (滨河丽景 with and without its
            // 小区) where one names no place the reader knows: as likely
            // as similar texts, not as a place in common.
            if place.is_none() && cluster.is_some_and(|(pa, pb)| pa.shares_a_name(pb)) {
                return Some(1.0 + fa.sketch.similarity(&fb.sketch));
            }
            if fa.sketch.len < 2 || fb.sketch.len < 2 {
                return Some(1.0);
            }
            let sim = fa.sketch.similarity(&fb.sketch);
            return (sim >= threshold).then_some(1.0 + sim);
        }
        if fa.other_matters_than(fb) {
            return None;
        }
        if let Some((pa, pb)) = cluster {
            // A matter the lexicon does not know: the place and the
            // problem must both agree.
            let fine_place = text::fine_place_agreement(&fa.places, &fb.places);
            return self.same_unknown_problem(fine_place, pa, pb);
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
