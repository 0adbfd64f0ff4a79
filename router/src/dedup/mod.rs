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
pub mod annotate;
pub mod callers;
pub mod clusters;
pub mod config;
pub mod follow_up;
pub mod index;
pub mod names;
pub mod rarity;
pub mod record;
pub mod rules;
pub mod text;
pub mod types;

pub use annotate::{annotate, decide};
pub use config::DedupConfig;
pub use index::{ClusterView, Dedup, DedupOutcome, DedupStats};
pub use record::{district_key, eligible, record, MatterRecord};
pub use rules::DedupRules;
