//! The dedup settings (`[dedup]` in the daemon's config): windows, sizes,
//! similarity thresholds.

/// Settings (see `[dedup]` in the daemon's config).
#[derive(Debug, Clone)]
pub struct DedupConfig {
    /// A repeat is the same caller on the same matter within this (30 days).
    pub repeat_window: chrono::TimeDelta,
    /// Repeats on a still-open case that raise an escalation (3).
    pub escalate_at: u32,
    /// A caller's contacts on a work order still open are kept past the
    /// repeat window, up to this age (60 days), so a repeat on a case that
    /// has stayed unresolved that long is still a repeat and counts towards
    /// its escalation (Art. 27(1)).
    pub unresolved_window: chrono::TimeDelta,
    /// A cluster takes contacts while its latest is younger than this (72 h).
    pub cluster_window: chrono::TimeDelta,
    /// Contacts of one cluster within `hotspot_window` that make a hotspot.
    pub hotspot_size: u32,
    pub hotspot_window: chrono::TimeDelta,
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
    /// Clusters of different callers on a matter the lexicon does not know,
    /// at one compound, street, village or shop: the share of their
    /// problems' telling characters two texts must have in common (see
    /// `dedup::rarity`) and the probability their category distributions
    /// must share.
    pub placed_overlap: f64,
    pub placed_agreement: f64,
    /// The same where no fine place is known on both sides (a place with no
    /// recognised ending, 嘉陵春晓, 剑门关): a strong agreement.
    pub unplaced_overlap: f64,
    pub unplaced_agreement: f64,
    /// At one compound, street, village or shop, two texts whose problem
    /// types (`dedup::types`) agree this much (the cosine of their type
    /// distributions) are on one problem, whatever words they use.
    pub placed_types: f64,
    /// Two texts whose problem types agree less than this are on different
    /// problems, whatever characters and categories they share.
    pub other_types: f64,
    pub max_callers: usize,
    pub max_contacts_per_caller: usize,
    pub max_clusters_per_bucket: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            repeat_window: chrono::TimeDelta::days(30),
            escalate_at: 3,
            unresolved_window: chrono::TimeDelta::days(60),
            cluster_window: chrono::TimeDelta::hours(72),
            hotspot_size: 10,
            hotspot_window: chrono::TimeDelta::hours(1),
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
            placed_overlap: 0.1,
            placed_agreement: 0.2,
            unplaced_overlap: 0.8,
            unplaced_agreement: 0.5,
            placed_types: 0.2,
            other_types: 0.05,
            max_callers: 2_000_000,
            max_contacts_per_caller: 32,
            max_clusters_per_bucket: 256,
        }
    }
}
