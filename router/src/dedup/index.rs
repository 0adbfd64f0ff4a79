//! The dedup index ([`Dedup`]): the callers' recent contacts and the live
//! clusters, and what applying one record to them finds ([`DedupOutcome`]).
use super::callers::{Callers, CaseRef, Entry};
use super::clusters::{Cluster, Clusters, Reps};
use super::*;
use crate::router::Router;
use std::sync::Arc;

/// Distinct callers a cluster remembers (enough to tell two from one; a
/// hotspot's memory stays fixed however many call).
const MAX_CLUSTER_CALLERS: usize = 64;

/// A live cluster as a screen lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub lead_case: String,
    pub lead_unit: Option<Arc<str>>,
    pub district: Option<Arc<str>>,
    pub size: u32,
    pub hot: bool,
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

/// See [`Dedup::unresolved`].
fn unresolved(
    cfg: &DedupConfig,
    closed: &std::collections::HashMap<CaseRef, i64>,
    e: &Entry,
    now: i64,
) -> bool {
    e.opens_case
        && now.saturating_sub(e.at) <= cfg.unresolved_window.num_seconds()
        && !closed.contains_key(&e.case)
}

/// The dedup index.
#[derive(Debug)]
pub struct Dedup {
    pub(super) rules: Arc<DedupRules>,
    case_prefix: String,
    callers: Callers,
    clusters: Clusters,
    /// Closed cases and when they closed.
    closed: std::collections::HashMap<CaseRef, i64>,
    /// Newest record time seen: the clock of expiry.
    watermark: i64,
    /// District codes by the key a record carries (for listing clusters).
    district_codes: std::collections::HashMap<u32, Arc<str>>,
    last_sweep: i64,
    /// What the most recent contacts got, by contact (see [`Recent`]).
    recent: Recent,
}

/// The outcomes of recent contacts, by contact: a contact applied again
/// before it was stored — a client retrying after the store refused it, a
/// Kafka record redelivered after a store failure — gets the links it got
/// the first time (else a repeat would open a second case), and its alerts,
/// never raised for a contact that was not stored. A table of
/// [`Recent::SLOTS`] slots addressed by the contact's hash, a newer contact
/// taking an older one's slot: one write per contact, no map to keep.
#[derive(Debug, Default)]
struct Recent {
    slots: Vec<Option<(u64, Links)>>,
}

/// What dedup found for one contact, by case reference: [`Dedup::apply`]
/// builds it, [`Recent`] keeps it, and [`Links::outcome`] formats the case
/// ids once into the [`DedupOutcome`] the decision carries.
#[derive(Debug, Clone, Default)]
struct Links {
    repeat_of: Option<CaseRef>,
    joins: bool,
    repeat_count: u32,
    reopen: bool,
    escalate: bool,
    /// The cluster's lead case, once the cluster has two callers.
    cluster_lead: Option<CaseRef>,
    cluster_lead_unit: Option<Arc<str>>,
    cluster_size: u32,
    hotspot: bool,
    raise_special: bool,
}

impl Links {
    fn outcome(&self, prefix: &str, replay: bool) -> DedupOutcome {
        let lead = self.cluster_lead.map(|c| c.format(prefix));
        DedupOutcome {
            replay,
            repeat_of: self.repeat_of.map(|c| c.format(prefix)),
            joins: self.joins,
            repeat_count: self.repeat_count,
            reopen: self.reopen,
            escalate: self.escalate,
            cluster_id: lead.as_ref().map(|l| ["CL-", l].concat()),
            cluster_lead_case: lead.unwrap_or_default(),
            cluster_lead_unit: self.cluster_lead_unit.clone(),
            cluster_size: self.cluster_size,
            hotspot: self.hotspot,
            raise_special: self.raise_special,
        }
    }
}

impl Recent {
    /// Contacts in flight between the index and the store are far fewer
    /// (a power of two).
    const SLOTS: usize = 1 << 14;

    fn remember(&mut self, contact: u64, links: Links) {
        if self.slots.is_empty() {
            self.slots.resize(Self::SLOTS, None);
        }
        if let Some(slot) = self.slots.get_mut(contact as usize & (Self::SLOTS - 1)) {
            *slot = Some((contact, links));
        }
    }

    /// What `contact` got when it was applied, if it is still remembered.
    fn links(&self, contact: u64) -> Option<&Links> {
        let (c, links) = self
            .slots
            .get(contact as usize & (Self::SLOTS - 1))?
            .as_ref()?;
        (*c == contact).then_some(links)
    }
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
        let district_key = super::record::district_key;
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
            recent: Recent::default(),
            district_codes: (0..)
                .map_while(|i| router.district_code(i))
                .map(|c| (district_key(c), Arc::from(c)))
                .collect(),
        }
    }

    /// The largest live clusters (see [`Clusters::largest`]), at most `n`.
    pub fn largest_clusters(&self, n: usize) -> Vec<ClusterView> {
        let cutoff = self
            .watermark
            .saturating_sub(self.rules.cfg.cluster_window.num_seconds());
        self.clusters
            .largest(cutoff, n)
            .into_iter()
            .map(|(d, c)| ClusterView {
                lead_case: c.lead_case.format(&self.case_prefix),
                lead_unit: c.lead_unit.clone(),
                district: self.district_codes.get(&d).cloned(),
                size: c.size,
                hot: c.hot,
            })
            .collect()
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

    /// A work order's lifecycle: closed (completed, returned) or reopened.
    /// A case id this index did not make (another prefix) is no case of its.
    pub fn case_event(&mut self, case_id: &str, closed: bool, at: i64) {
        let Some(k) = CaseRef::parse(&self.case_prefix, case_id) else {
            return;
        };
        if closed {
            self.closed.insert(k, at);
        } else {
            self.closed.remove(&k);
        }
    }

    /// Whether an earlier contact belongs to a work order that is still
    /// open and younger than the unresolved window (kept past the repeat
    /// window; see [`super::DedupConfig::unresolved_window`]).
    fn unresolved(&self, e: &Entry, now: i64) -> bool {
        unresolved(&self.rules.cfg, &self.closed, e, now)
    }

    fn expire(&mut self, now: i64) {
        self.watermark = self.watermark.max(now);
        let w = self.watermark;
        let cutoff = w.saturating_sub(self.rules.cfg.repeat_window.num_seconds());
        let (cfg, closed) = (&self.rules.cfg, &self.closed);
        self.callers
            .expire(cutoff, w, |e| unresolved(cfg, closed, e, w));
        // Clusters and closed cases: swept once an hour of record time. A
        // closure is remembered as long as a contact of its case may be.
        if w.saturating_sub(self.last_sweep) >= 3_600 {
            self.last_sweep = w;
            self.clusters
                .expire(w.saturating_sub(self.rules.cfg.cluster_window.num_seconds()));
            let horizon = self
                .rules
                .cfg
                .repeat_window
                .max(self.rules.cfg.unresolved_window);
            let cutoff = w.saturating_sub(horizon.num_seconds());
            self.closed.retain(|_, t| *t > cutoff);
        }
    }

    /// Matches one contact and indexes it.
    pub fn apply(&mut self, r: &MatterRecord) -> DedupOutcome {
        self.expire(r.at);
        let mut out = Links::default();
        let slot = self.callers.resolve(&r.idents);
        if self
            .callers
            .entries(slot)
            .iter()
            .any(|e| e.contact == r.contact)
        {
            // Applied before: what it got then (a restart's replay of the
            // store has nothing to give back, and needs nothing).
            return self
                .recent
                .links(r.contact)
                .unwrap_or(&Links::default())
                .outcome(&self.case_prefix, true);
        }

        // Repeat: the most similar earlier contact of this caller on the matter.
        let window = self.rules.cfg.repeat_window.num_seconds();
        let rules = &self.rules;
        let types = r.problem.types;
        let best = self
            .callers
            .entries(slot)
            .iter()
            .filter(|e| {
                (r.at.saturating_sub(e.at) <= window || self.unresolved(e, r.at))
                    && e.at <= r.at.saturating_add(60)
            })
            .filter(|e| e.district == r.district || e.district == 0 || r.district == 0)
            .filter_map(|e| {
                rules
                    .repeat_score(
                        (&e.features, e.category, &e.types),
                        (&r.features, r.category, &types),
                        r.follow_up,
                    )
                    .map(|s| (s, e))
            })
            // Among equal scores the last, i.e. the latest contact.
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, e)| e.chain);
        let mut case = r.case;
        let mut chain = r.case;
        let mut opens_case = r.opens_case;
        if let Some(ch) = best {
            chain = ch;
            let escalate_at = self.rules.cfg.escalate_at;
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
                    out.repeat_of = Some(w);
                    if self.closed.remove(&w).is_some() {
                        out.reopen = true;
                    }
                    // Still unresolved at the third contact, reopened or
                    // open (Art. 27(1)): escalated once per case.
                    if n >= escalate_at {
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
                None => out.repeat_of = Some(ch),
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
                types,
                escalated: false,
            },
        );

        // Cluster: same district and category, similar text, recent.
        if r.district != 0 {
            self.cluster(r, slot, case, &mut out);
        }
        let outcome = out.outcome(&self.case_prefix, false);
        self.recent.remember(r.contact, out);
        outcome
    }

    fn cluster(&mut self, r: &MatterRecord, slot: u32, case: CaseRef, out: &mut Links) {
        let rules = &self.rules;
        let cfg = &rules.cfg;
        // By district: the category is a coarse, sometimes wrong, proxy of the
        // matter; the matters lexicon and the text decide.
        let key = (r.district, 0);
        let cutoff = r.at.saturating_sub(cfg.cluster_window.num_seconds());
        let bucket = self.clusters.bucket(key);
        let rm = r.features.matters;
        let r_places = r.features.places[0] != 0;
        let r_names = super::names::signature(&r.problem.names);
        // Candidates (see `same_matter`): a common matter, or — where one
        // side names none — the same category, the same place or a proper
        // name in common ([`super::names`]); never another place. The
        // bucket tests matters; the tests that need no place come next.
        let mut best: Option<(f64, usize)> = None;
        bucket.each_candidate(rm, |i, hm, h, c| {
            if h.last_at <= cutoff {
                return;
            }
            let common = hm & rm != 0;
            let same_category = h.category == r.category;
            if !common && !same_category && !r_places && r_names & h.name_bits == 0 {
                return;
            }
            let place = text::same_place(&h.places, &r.features.places);
            if place == Some(false) {
                return;
            }
            let named = || {
                r_names & h.name_bits != 0
                    && c.reps
                        .iter()
                        .next()
                        .is_some_and(|lead| lead.1.shares_a_name(&r.problem))
            };
            if !(common || same_category || place == Some(true) || named()) {
                return;
            }
            let score = c
                .reps
                .iter()
                .filter_map(|(f, p, cat)| {
                    rules.same_cluster_matter(
                        (f, p, *cat),
                        (&r.features, &r.problem, r.category),
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
                    reps: Reps::one((r.features, r.problem, r.category)),
                    size: 1,
                    callers: vec![slot],
                    recent: vec![r.at],
                    hot: false,
                },
            );
            return;
        };
        c.size += 1;
        if !c.callers.contains(&slot) && c.callers.len() < MAX_CLUSTER_CALLERS {
            c.callers.push(slot);
        }
        c.reps.admit((r.features, r.problem, r.category));
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
            if span <= cfg.hotspot_window.num_seconds() {
                c.hot = true;
                out.hotspot = true;
            }
        }
        out.raise_special = c.hot && r.special_category;
        if c.callers.len() >= 2 {
            out.cluster_lead = Some(c.lead_case);
            out.cluster_lead_unit = c.lead_unit.clone();
            out.cluster_size = c.size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Caller, Channel, Contact, Location};
    use chrono::TimeZone as _;

    /// A cluster of 70 callers remembers 64 of them and counts all 70.
    #[test]
    fn a_cluster_remembers_a_bounded_number_of_callers() -> Result<(), Box<dyn std::error::Error>> {
        let router = Router::embedded().map_err(|e| format!("{e:?}"))?;
        let rules = Arc::new(DedupRules::new(
            DedupConfig::default(),
            text::EMBEDDED_MATTERS,
        )?);
        let mut idx = Dedup::new(rules.clone(), &router);
        let t0 = chrono::Utc
            .with_ymd_and_hms(2026, 11, 2, 2, 0, 0)
            .single()
            .ok_or("time")?;
        for i in 0..70i64 {
            let t = t0 + chrono::Duration::seconds(i * 30);
            let c = Contact {
                contact_id: format!("cb-{i}"),
                channel: Some(Channel::Phone),
                received_at: Some(t),
                caller: Caller {
                    phone: format!("138{:08}", 1000 + i),
                    ..Default::default()
                },
                content: "万达广场的垃圾好几天没人清运了".into(),
                location: Location {
                    district_code: "510802".into(),
                    address: String::new(),
                },
                ..Default::default()
            };
            let d = crate::decide(&router, &c, t)?;
            let r = record(&router, &rules, &c, &d).ok_or("a record")?;
            idx.apply(&r);
        }
        let largest = idx.clusters.largest(0, 1);
        let (_, c) = largest.first().ok_or("one cluster")?;
        assert_eq!(c.size, 70);
        assert_eq!(c.callers.len(), MAX_CLUSTER_CALLERS);
        Ok(())
    }
}
