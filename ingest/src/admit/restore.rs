//! Rebuilding the work-order tracker and the dedup index on start, from what
//! the embedded store holds: decisions, dedup records and order events, in
//! one pass in time order — so a case completed and later reopened is open
//! after a restart, and dedup knows which cases were closed when.
use crate::admit::Shared;
use crate::sinks::store::{Item, Reader, StoreError};
use crate::state::dedup::DedupStage;
use crate::state::orders::Orders;
use hotline_proto::v1 as pb;
use hotline_router::dedup::MatterRecord;
use prost::Message;

/// What was replayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    pub decisions: u64,
    pub matters: u64,
    pub order_events: u64,
    pub open_cases: usize,
}

/// Replays decisions and order events since `since_ms` into the tracker,
/// and dedup records since `dedup_since_ms` into the index.
pub fn replay(
    reader: &Reader,
    since_ms: i64,
    dedup_since_ms: i64,
    orders: &Orders,
    dedup: Option<&DedupStage>,
) -> Result<Restored, StoreError> {
    let mut r = Restored::default();
    reader.timeline(since_ms.min(dedup_since_ms), |item| {
        match item {
            Item::Decision(body) => {
                if let Ok(d) = pb::Decision::decode(&body[..]) {
                    let at = d
                        .received_at
                        .as_ref()
                        .map(|t| t.seconds * 1000)
                        .unwrap_or(0);
                    if at >= since_ms {
                        orders.open(&d);
                        r.decisions += 1;
                    }
                }
            }
            Item::Matter(body) => {
                if let (Some(stage), Some(m)) = (dedup, MatterRecord::from_bytes(&body)) {
                    if m.at * 1000 >= dedup_since_ms {
                        if let Ok(mut idx) = stage.index.lock() {
                            idx.apply(&m);
                        }
                        r.matters += 1;
                    }
                }
            }
            Item::Order(body) => {
                if let Ok(ev) = pb::OrderEvent::decode(&body[..]) {
                    orders.replay_event(&ev);
                    r.order_events += 1;
                }
            }
        }
        Ok(())
    })?;
    // What the replay tallied happened before this process: the live
    // per-unit counters start from now (the report reads the store).
    orders.discard_tallies();
    r.open_cases = orders.open_cases();
    Ok(r)
}

/// How far back the state looks: the tracker `tracker_days` (40, or the
/// unresolved window if longer), the dedup index `dedup_days` (the
/// unresolved window), the call windows 25 hours.
#[derive(Debug, Clone, Copy)]
pub struct Horizon {
    pub tracker_days: i64,
    pub dedup_days: i64,
}

impl Horizon {
    pub fn of(cfg: &crate::config::Config) -> Horizon {
        let unresolved = cfg
            .dedup
            .unresolved_window_days
            .max(cfg.dedup.repeat_window_days);
        Horizon {
            tracker_days: unresolved.max(40),
            dedup_days: unresolved,
        }
    }
}

/// Forgets a tenant's state in memory and rebuilds it from its store as of
/// `now`: the call windows, the work-order tracker and the dedup index (a
/// node taking over a tenant after its changelog is applied, and every
/// start). Returns what was replayed and how many call events.
pub fn rebuild(
    shared: &Shared,
    horizon: Horizon,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Restored, u64), StoreError> {
    let reader = Reader::open(&shared.data_dir)?;
    shared.sla.reset();
    shared.orders.reset();
    if let Some(stage) = shared.pipeline.dedup() {
        stage.reset(shared.pipeline.router());
    }
    let calls = shared.sla.restore(
        &reader,
        (now - chrono::Duration::hours(25)).timestamp_millis(),
    )?;
    let restored = replay(
        &reader,
        (now - chrono::Duration::days(horizon.tracker_days)).timestamp_millis(),
        (now - chrono::Duration::days(horizon.dedup_days)).timestamp_millis(),
        &shared.orders,
        shared.pipeline.dedup(),
    )?;
    if let Some(stage) = shared.pipeline.dedup() {
        stage.report();
    }
    Ok((restored, calls))
}
