//! Entry points for the fuzzers (`fuzz/`, cargo-fuzz on the nightly
//! toolchain) and for the replay of their corpus on stable
//! (`tests/fuzz_corpus.rs`): each takes arbitrary bytes as an untrusted
//! peer or a careless operator could send them, and must return without
//! panicking, whatever it decides (README.md, "Fuzzing").
use crate::admit::pipeline::Pipeline;
use crate::admit::Event;
use crate::config::Config;
use crate::state::dedup::DedupStage;
use crate::state::orders::Orders;
use chrono::{TimeZone, Utc};
use hotline_proto::v1 as pb;
use hotline_router::dedup::{Dedup, DedupConfig, DedupRules};
use hotline_router::tracker::TrackerConfig;
use hotline_router::{Calendar, Router};
use prost::Message;
use std::sync::{Arc, LazyLock, Mutex};

/// The embedded rules and a small dedup index, shared by every input of a
/// run: later inputs meet the state earlier ones left, as in the daemon.
static PIPELINE: LazyLock<Option<Pipeline>> = LazyLock::new(|| {
    let router = Arc::new(Router::embedded().ok()?);
    let cfg = DedupConfig {
        max_callers: 10_000,
        ..DedupConfig::default()
    };
    let rules = Arc::new(DedupRules::embedded(cfg).ok()?);
    let index = Arc::new(Mutex::new(Dedup::new(rules.clone(), &router)));
    let orders = Orders::new(&router, TrackerConfig::default(), Some(index.clone()));
    let dedup = DedupStage {
        rules,
        index,
        orders,
    };
    Some(Pipeline::new(router, Some(dedup)))
});

/// A `hotline.v1.Contact` as gRPC or the contacts topic delivers it:
/// decoded, checked, decided and matched against the dedup index.
pub fn contact(data: &[u8]) {
    let Ok(c) = pb::Contact::decode(data) else {
        return;
    };
    let Some(p) = PIPELINE.as_ref() else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).single();
    if let Some(now) = now {
        let _ = p.decide_one(&c, now);
    }
}

/// A record of the call-events or order-events topic (the first byte
/// chooses which), decoded and turned into its store row.
pub fn kafka_event(data: &[u8]) {
    let Some((which, body)) = data.split_first() else {
        return;
    };
    let ev = if which % 2 == 0 {
        pb::CallEvent::decode(body).map(Event::Call)
    } else {
        pb::OrderEvent::decode(body).map(Event::Order)
    };
    if let Ok(ev) = ev {
        let _ = ev.row();
    }
}

/// A config file's text, parsed and validated (the files it names are not
/// read: a fuzzer's paths must not reach the machine's files).
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if text.contains('/') || text.contains('\\') {
        return;
    }
    let _ = Config::parse(&text);
}

/// A holiday calendar file (`rules/calendar/<year>.toml`).
pub fn calendar(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let _ = Calendar::from_sources([("2026.toml".to_string(), text)]);
}
