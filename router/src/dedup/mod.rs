//! Stage 6, dedup: the same caller again (repeat, Art. 14(3)), many callers
//! on one matter (cluster, Art. 12(3)), many contacts in a short time
//! (hotspot, Art. 21) and unresolved repeats (escalation, Art. 27(1)).
//!
//! A contact becomes a [`MatterRecord`] — keyed hashes of its caller's
//! identities, its time, district, category and the MinHash sketch of its
//! text ([`text`]) — and [`Dedup::apply`] matches it against the caller's
//! recent contacts ([`callers`]) and the live clusters of its district and
//! category ([`clusters`]). The record is all the state needs, so the daemon
//! stores it with the decision and replays the records on start: applying
//! the same records in the same order rebuilds the same index.
//!
//! Pure and deterministic: time comes from the records.
pub mod callers;
pub mod clusters;
pub mod text;

use crate::deadlines::{self, DeadlineInput, Scope};
use crate::model::{Contact, Decision, Priority, RouteKind};
use crate::normalize::normalize_phone;
use crate::router::Router;
use callers::{Callers, CaseRef, Entry};
use clusters::{Cluster, Clusters, Reps, REPS};
use std::sync::Arc;
use text::{Features, Lexicon, LexiconError};
use xxhash_rust::xxh3::xxh3_64;

/// Settings (see `[dedup]` in the daemon's config).
#[derive(Debug, Clone)]
pub struct DedupConfig {
    /// A repeat is the same caller on the same matter within this (30 days).
    pub repeat_window_secs: i64,
    /// Repeats on a still-open case that raise an escalation (3).
    pub escalate_at: u32,
    /// A cluster takes contacts while its latest is younger than this (72 h).
    pub cluster_window_secs: i64,
    /// Contacts of one cluster within `hotspot_window_secs` that make a hotspot.
    pub hotspot_size: u32,
    pub hotspot_window_secs: i64,
    /// Categories (router category codes) and matters (lexicon ids) whose
    /// hotspots are raised to special-matter priority: outages and pollution.
    pub special_on_hotspot: Vec<String>,
    /// Similarity of the rest of the text (place, details) needed, besides
    /// a common matter, for a repeat and for a cluster.
    pub repeat_similarity: f64,
    pub cluster_similarity: f64,
    /// Similarity of the whole text needed (in the same category) when a
    /// text names no known matter.
    pub text_similarity: f64,
    /// Clusters of different callers on a matter the lexicon does not know:
    /// the same compound, street, village or shop, and at least this
    /// similarity of the rest of the text (twice it across categories).
    pub unknown_cluster_similarity: f64,
    pub max_callers: usize,
    pub max_contacts_per_caller: usize,
    pub max_clusters_per_bucket: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            repeat_window_secs: 30 * 86_400,
            escalate_at: 3,
            cluster_window_secs: 72 * 3_600,
            hotspot_size: 10,
            hotspot_window_secs: 3_600,
            special_on_hotspot: [
                "utility.water",
                "utility.power",
                "utility.gas",
                "env.pollution",
                "water_outage",
                "power_outage",
                "gas",
                "pollution",
            ]
            .map(String::from)
            .to_vec(),
            repeat_similarity: 0.15,
            cluster_similarity: 0.2,
            text_similarity: 0.5,
            unknown_cluster_similarity: 0.05,
            max_callers: 2_000_000,
            max_contacts_per_caller: 32,
            max_clusters_per_bucket: 256,
        }
    }
}

/// The settings and the matters lexicon: immutable, shared by the threads
/// that build records and the index that applies them.
#[derive(Debug, Clone)]
pub struct DedupRules {
    pub cfg: DedupConfig,
    pub lexicon: Lexicon,
    /// The lexicon matters named in `special_on_hotspot`, as a bit set.
    special_matters: u64,
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

/// What dedup needs of one contact, and all it stores (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct MatterRecord {
    pub contact: u64,
    /// Keyed hashes of phone, openid and account (0 when absent).
    pub idents: [u64; 3],
    pub at: i64,
    pub district: u32,
    pub category: u32,
    /// The category is one whose hotspots become special matters.
    pub special_category: bool,
    /// The matters, places and rest of the text.
    pub features: Features,
    /// The contact's own case.
    pub case: CaseRef,
    /// The decision opens a work order the hotline follows (work order or
    /// special matter): a later repeat joins it rather than opening another.
    pub opens_case: bool,
    pub lead_unit: Option<Arc<str>>,
}

/// What dedup found for one contact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DedupOutcome {
    /// The same contact id was applied before: nothing changed.
    pub replay: bool,
    /// The original case this contact repeats: the open work order it joins,
    /// or (when no contact of the matter opened one) the first contact's case.
    pub repeat_of: Option<String>,
    /// The contact joins the work order `repeat_of` (its case id becomes it).
    pub joins: bool,
    pub repeat_count: u32,
    /// The original case is closed: it is to be reopened.
    pub reopen: bool,
    /// The repeat count reached the escalation threshold on an open case (raised once).
    pub escalate: bool,
    pub cluster_id: Option<String>,
    pub cluster_lead_case: String,
    pub cluster_lead_unit: Option<Arc<str>>,
    pub cluster_size: u32,
    /// The cluster just became a hotspot (raised once per cluster).
    pub hotspot: bool,
    /// The contact is in a hotspot of an outage or pollution category.
    pub raise_special: bool,
}

fn keyed(secret: &[u8; 32], key: &str) -> u64 {
    let h = blake3::keyed_hash(secret, key.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    u64::from_le_bytes(b).max(1)
}

/// Routes whose contacts are matters the hotline records and follows:
/// not refusals, nor sub-center transfers (another hotline's cases).
/// Emergency transfers count: ten calls about one gas smell are a hotspot.
pub fn eligible(route: RouteKind) -> bool {
    matches!(
        route,
        RouteKind::WorkOrder
            | RouteKind::UtilityLinkage
            | RouteKind::DirectAnswer
            | RouteKind::EmergencyTransfer
    )
}

/// The record of a decided contact, or `None` when dedup does not apply.
pub fn record(
    router: &Router,
    rules: &DedupRules,
    contact: &Contact,
    d: &Decision,
) -> Option<MatterRecord> {
    let cfg = &rules.cfg;
    if !eligible(d.route) {
        return None;
    }
    let secret = &router.options.caller_secret;
    let area_code = &router.area_code;
    let case_prefix = &router.case_prefix;
    let c = &contact.caller;
    let mut idents = [0u64; 3];
    if let Some(p) = normalize_phone(c.phone.trim(), area_code) {
        idents[0] = keyed(secret, &p);
    }
    if !c.wechat_openid.trim().is_empty() {
        idents[1] = keyed(secret, &format!("wx:{}", c.wechat_openid.trim()));
    }
    if !c.account_id.trim().is_empty() {
        idents[2] = keyed(secret, &format!("acct:{}", c.account_id.trim()));
    }
    // The decision carries the district inferred from the address or text.
    let district = d.district_code.trim();
    let features = rules
        .lexicon
        .features_at(&contact.content, &contact.location.address);
    Some(MatterRecord {
        contact: xxh3_64(contact.contact_id.as_bytes()),
        idents,
        at: d.received_at.timestamp(),
        district: if district.is_empty() {
            0
        } else {
            (xxh3_64(district.as_bytes()) as u32).max(1)
        },
        category: xxh3_64(d.category.as_bytes()) as u32,
        special_category: features.matters & rules.special_matters != 0
            || cfg.special_on_hotspot.iter().any(|c| **c == *d.category),
        features,
        case: CaseRef::parse(case_prefix, &d.case_id)?,
        opens_case: d.route == RouteKind::WorkOrder || d.priority != Priority::Normal,
        lead_unit: d.lead_unit.clone(),
    })
}

/// The dedup index.
#[derive(Debug)]
pub struct Dedup {
    rules: Arc<DedupRules>,
    case_prefix: String,
    callers: Callers,
    clusters: Clusters,
    /// Closed cases (by case id hash) and when they closed.
    closed: std::collections::HashMap<u64, i64>,
    /// Newest record time seen: the clock of expiry.
    watermark: i64,
    last_sweep: i64,
}

/// Sizes and eviction counts, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DedupStats {
    pub callers: usize,
    pub clusters: usize,
    pub closed_cases: usize,
    pub evicted_callers: u64,
    pub evicted_contacts: u64,
    pub evicted_clusters: u64,
}

impl Dedup {
    pub fn new(rules: Arc<DedupRules>, router: &Router) -> Dedup {
        let case_prefix = &router.case_prefix;
        let cfg = &rules.cfg;
        Dedup {
            callers: Callers::new(cfg.max_callers, cfg.max_contacts_per_caller),
            clusters: Clusters::new(cfg.max_clusters_per_bucket),
            rules: rules.clone(),
            case_prefix: case_prefix.to_string(),
            closed: Default::default(),
            watermark: i64::MIN,
            last_sweep: i64::MIN,
        }
    }

    pub fn stats(&self) -> DedupStats {
        DedupStats {
            callers: self.callers.len(),
            clusters: self.clusters.len(),
            closed_cases: self.closed.len(),
            evicted_callers: self.callers.evicted_callers,
            evicted_contacts: self.callers.evicted_entries,
            evicted_clusters: self.clusters.evicted,
        }
    }

    fn case_key(&self, c: &CaseRef) -> u64 {
        xxh3_64(c.format(&self.case_prefix).as_bytes())
    }

    /// A work order's lifecycle: closed (completed, returned) or reopened.
    pub fn case_event(&mut self, case_id: &str, closed: bool, at: i64) {
        let k = xxh3_64(case_id.as_bytes());
        if closed {
            self.closed.insert(k, at);
        } else {
            self.closed.remove(&k);
        }
    }

    fn expire(&mut self, now: i64) {
        self.watermark = self.watermark.max(now);
        let w = self.watermark;
        self.callers
            .expire(w.saturating_sub(self.rules.cfg.repeat_window_secs));
        // Clusters and closed cases: swept once an hour of record time.
        if w.saturating_sub(self.last_sweep) >= 3_600 {
            self.last_sweep = w;
            self.clusters
                .expire(w.saturating_sub(self.rules.cfg.cluster_window_secs));
            let cutoff = w.saturating_sub(self.rules.cfg.repeat_window_secs);
            self.closed.retain(|_, t| *t > cutoff);
        }
    }

    /// Matches one contact and indexes it.
    pub fn apply(&mut self, r: &MatterRecord) -> DedupOutcome {
        self.expire(r.at);
        let mut out = DedupOutcome::default();
        let slot = self.callers.resolve(&r.idents);
        if self
            .callers
            .entries(slot)
            .iter()
            .any(|e| e.contact == r.contact)
        {
            out.replay = true;
            return out;
        }

        // Repeat: the most similar earlier contact of this caller on the matter.
        let window = self.rules.cfg.repeat_window_secs;
        let rules = &self.rules;
        let best = self
            .callers
            .entries(slot)
            .iter()
            .filter(|e| r.at.saturating_sub(e.at) <= window && e.at <= r.at.saturating_add(60))
            .filter(|e| e.district == r.district || e.district == 0 || r.district == 0)
            .filter_map(|e| {
                rules
                    .same_matter(
                        (&e.features, e.category),
                        (&r.features, r.category),
                        rules.cfg.repeat_similarity,
                    )
                    .map(|s| (s, e))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, e)| e.chain);
        let mut case = r.case;
        let mut chain = r.case;
        let mut opens_case = r.opens_case;
        if let Some(ch) = best {
            chain = ch;
            let escalate_at = self.rules.cfg.escalate_at;
            let prefix = self.case_prefix.clone();
            let entries = self.callers.entries(slot);
            let n = entries.iter().filter(|e| e.chain == ch).count() as u32;
            out.repeat_count = n;
            // The chain's work order, if one of its contacts opened one.
            let wo = entries
                .iter()
                .find(|e| e.chain == ch && e.opens_case)
                .map(|e| e.case);
            match wo {
                Some(w) => {
                    case = w;
                    opens_case = true;
                    out.joins = true;
                    out.repeat_of = Some(w.format(&prefix));
                    let key = self.case_key(&w);
                    if self.closed.remove(&key).is_some() {
                        out.reopen = true;
                    } else if n >= escalate_at {
                        let entries = self.callers.entries_mut(slot);
                        if let Some(first) =
                            entries.iter_mut().find(|e| e.case == w && e.opens_case)
                        {
                            if !first.escalated {
                                first.escalated = true;
                                out.escalate = true;
                            }
                        }
                    }
                }
                // Nothing followed up yet (direct answers, transfers): linked,
                // and this contact keeps its own case (a work order if it opens one).
                None => out.repeat_of = Some(ch.format(&prefix)),
            }
        }
        self.callers.push(
            slot,
            Entry {
                contact: r.contact,
                case,
                chain,
                opens_case,
                at: r.at,
                category: r.category,
                district: r.district,
                features: r.features,
                escalated: false,
            },
        );

        // Cluster: same district and category, similar text, recent.
        if r.district != 0 {
            self.cluster(r, slot, case, &mut out);
        }
        out
    }

    fn cluster(&mut self, r: &MatterRecord, slot: u32, case: CaseRef, out: &mut DedupOutcome) {
        let rules = &self.rules;
        let cfg = &rules.cfg;
        // By district: the category is a coarse, sometimes wrong, proxy of the
        // matter; the matters lexicon and the text decide.
        let key = (r.district, 0);
        let cutoff = r.at.saturating_sub(cfg.cluster_window_secs);
        let bucket = self.clusters.bucket(key);
        let rm = r.features.matters;
        let r_places = r.features.places[0] != 0;
        // Candidates (see `same_matter`): a common matter, or — where one
        // side names none — the same category or the same place; never
        // another place. The bucket tests matters; the tests that need no
        // place come next.
        let mut best: Option<(f64, usize)> = None;
        bucket.each_candidate(rm, |i, hm, h, c| {
            if h.last_at <= cutoff {
                return;
            }
            let common = hm & rm != 0;
            let same_category = h.category == r.category;
            if !common && !same_category && !r_places {
                return;
            }
            let place = text::same_place(&h.places, &r.features.places);
            if place == Some(false) || !(common || same_category || place == Some(true)) {
                return;
            }
            let score = c
                .reps
                .iter()
                .filter_map(|(f, cat)| {
                    rules.same_cluster_matter(
                        (f, *cat),
                        (&r.features, r.category),
                        cfg.cluster_similarity,
                    )
                })
                .reduce(f64::max);
            if let Some(s) = score {
                // Ties go to the later cluster, as `max_by` did.
                if best.is_none_or(|(b, _)| s.total_cmp(&b).is_ge()) {
                    best = Some((s, i));
                }
            }
        });
        let joined = best.and_then(|(_, i)| bucket.join(i, r.at, &r.features));
        let Some(c) = joined else {
            self.clusters.insert(
                key,
                cutoff,
                (r.at, &r.features, r.category),
                Cluster {
                    lead_case: case,
                    lead_unit: r.lead_unit.clone(),
                    reps: Reps::one(r.features, r.category),
                    size: 1,
                    callers: vec![slot],
                    recent: vec![r.at],
                    hot: false,
                },
            );
            return;
        };
        c.size += 1;
        if !c.callers.contains(&slot) && c.callers.len() < 64 {
            c.callers.push(slot);
        }
        if c.reps.len() < REPS
            && c.reps
                .iter()
                .all(|(f, _)| f.sketch.similarity(&r.features.sketch) < 0.8)
        {
            c.reps.push((r.features, r.category));
        }
        let n = cfg.hotspot_size.max(1) as usize;
        c.recent.push(r.at);
        if c.recent.len() > n {
            c.recent.remove(0);
        }
        if !c.hot && c.recent.len() == n {
            let span = c
                .recent
                .iter()
                .max()
                .copied()
                .unwrap_or(0)
                .saturating_sub(c.recent.iter().min().copied().unwrap_or(0));
            if span <= cfg.hotspot_window_secs {
                c.hot = true;
                out.hotspot = true;
            }
        }
        out.raise_special = c.hot && r.special_category;
        if c.callers.len() >= 2 {
            let lead = c.lead_case.format(&self.case_prefix);
            out.cluster_id = Some(["CL-", &lead].concat());
            out.cluster_lead_case = lead;
            out.cluster_lead_unit = c.lead_unit.clone();
            out.cluster_size = c.size;
        }
    }
}

/// Decides a contact and runs it through dedup: what the daemon does per
/// contact, in one call (the daemon splits it to hold the index lock only
/// around [`Dedup::apply`]).
pub fn decide(
    router: &Router,
    dedup: &mut Dedup,
    contact: &Contact,
    now: crate::Instant,
) -> Result<(Decision, DedupOutcome), crate::Reject> {
    let mut d = crate::decide(router, contact, now)?;
    let rules = dedup.rules.clone();
    let out = match record(router, &rules, contact, &d) {
        Some(r) => dedup.apply(&r),
        None => DedupOutcome::default(),
    };
    annotate(&router.calendar, &mut d, &out);
    Ok((d, out))
}

/// Writes what dedup found into the decision: links, the original case of
/// a repeat, the cluster's lead unit, the special-matter priority of a
/// hotspot (with its deadlines) and tags.
pub fn annotate(calendar: &crate::Calendar, d: &mut Decision, o: &DedupOutcome) {
    if let Some(orig) = &o.repeat_of {
        d.dedup.repeat_of = orig.clone();
        d.dedup.repeat_count = o.repeat_count;
        d.dedup.reopen = o.reopen;
        d.tags.push(if o.reopen { "reopen" } else { "repeat" });
        d.rule_ids.push(crate::ids::DEDUP_REPEAT.clone());
        if o.joins {
            d.case_id = orig.clone();
        }
        if o.joins && !o.reopen {
            // Joins the open case: its deadlines run on, no new work order.
            let (accept_by, relay_by) = (d.deadlines.accept_by, d.deadlines.relay_by);
            d.deadlines = crate::Deadlines {
                accept_by,
                relay_by,
                ..Default::default()
            };
            // An emergency or utility transfer keeps its own guidance.
            if d.route == RouteKind::WorkOrder {
                d.guidance = format!("同一来电人同一事项重复来电，已并入原工单{orig}继续办理。");
            }
        }
    }
    if o.escalate {
        d.tags.push("escalation");
    }
    if let Some(cid) = &o.cluster_id {
        d.dedup.cluster_id = cid.clone();
        d.dedup.cluster_lead_case = o.cluster_lead_case.clone();
        d.dedup.cluster_lead_unit = o
            .cluster_lead_unit
            .as_deref()
            .unwrap_or_default()
            .to_string();
        d.dedup.cluster_size = o.cluster_size;
        d.tags.push("cluster");
        d.rule_ids.push(crate::ids::DEDUP_CLUSTER.clone());
        // Art. 12(3): the first-receiving unit leads; this contact's unit co-handles.
        if d.route == RouteKind::WorkOrder {
            if let Some(lead) = &o.cluster_lead_unit {
                if d.lead_unit.as_ref() != Some(lead) {
                    if let Some(own) = d.lead_unit.take() {
                        if !d.co_units.contains(&own) {
                            d.co_units.push(own);
                        }
                    }
                    d.lead_unit = Some(lead.clone());
                }
            }
        }
    }
    if o.hotspot {
        d.tags.push("hotspot");
    }
    if o.raise_special && d.priority == Priority::Normal {
        d.priority = Priority::Special;
        d.tags.push("special");
        d.rule_ids.push(crate::ids::DEDUP_HOTSPOT_SPECIAL.clone());
        let input = DeadlineInput {
            received_at: d.received_at,
            kind: d.kind,
            origin: d.origin,
            channel: d.channel,
            priority: d.priority,
            route: d.route,
        };
        let repeat_open = o.joins && !o.reopen;
        if !repeat_open {
            // The special-matter limits are added; a relay clock stays.
            let relay_by = d.deadlines.relay_by;
            d.deadlines = deadlines::compute(calendar, &input, Scope::Route);
            d.deadlines.relay_by = relay_by;
        }
    }
}

impl MatterRecord {
    const VERSION: u8 = 2;

    /// A compact binary form, stored next to the decision.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(160);
        b.push(Self::VERSION);
        b.extend_from_slice(&self.contact.to_le_bytes());
        for i in self.idents {
            b.extend_from_slice(&i.to_le_bytes());
        }
        b.extend_from_slice(&self.at.to_le_bytes());
        b.extend_from_slice(&self.district.to_le_bytes());
        b.extend_from_slice(&self.category.to_le_bytes());
        b.push(u8::from(self.special_category));
        let f = &self.features;
        b.extend_from_slice(&f.matters.to_le_bytes());
        for p in f.places {
            b.extend_from_slice(&p.to_le_bytes());
        }
        b.extend_from_slice(&f.sketch.len.to_le_bytes());
        for m in f.sketch.mins {
            b.extend_from_slice(&m.to_le_bytes());
        }
        b.extend_from_slice(&self.case.date.to_le_bytes());
        b.extend_from_slice(&self.case.hash.to_le_bytes());
        b.push(u8::from(self.opens_case));
        let unit = self.lead_unit.as_deref().unwrap_or_default().as_bytes();
        let n = unit.len().min(u16::MAX as usize);
        b.extend_from_slice(&(n as u16).to_le_bytes());
        b.extend_from_slice(&unit[..n]);
        b
    }

    /// Reads [`to_bytes`](Self::to_bytes); `None` for anything else.
    pub fn from_bytes(b: &[u8]) -> Option<MatterRecord> {
        let mut r = Reader { b, at: 0 };
        if r.u8()? != Self::VERSION {
            return None;
        }
        let contact = r.u64()?;
        let idents = [r.u64()?, r.u64()?, r.u64()?];
        let at = r.u64()? as i64;
        let district = r.u32()?;
        let category = r.u32()?;
        let special_category = r.u8()? != 0;
        let matters = r.u64()?;
        let places = [r.u32()?, r.u32()?, r.u32()?];
        let len = r.u16()?;
        let mut mins = [0u16; text::K];
        for m in mins.iter_mut() {
            *m = r.u16()?;
        }
        let case = CaseRef {
            date: r.u32()?,
            hash: r.u64()?,
        };
        let opens_case = r.u8()? != 0;
        let n = r.u16()? as usize;
        let unit = std::str::from_utf8(r.take(n)?).ok()?;
        Some(MatterRecord {
            contact,
            idents,
            at,
            district,
            category,
            special_category,
            features: Features {
                matters,
                places,
                sketch: text::Sketch { mins, len },
            },
            case,
            opens_case,
            lead_unit: (!unit.is_empty()).then(|| Arc::from(unit)),
        })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}
