//! `hotlined decisions`: stored decisions as JSON lines (protobuf JSON
//! mapping), for an operator without a ticket system.
use crate::sinks::store::{Reader, StoreError};
use chrono::DateTime;
use hotline_proto::v1 as pb;
use prost::Message;
use std::io::Write;
use std::path::Path;

/// A bad argument or an unreadable store.
#[derive(Debug, thiserror::Error)]
pub enum DecisionsError {
    #[error("{0:?} is not an RFC 3339 time")]
    BadSince(String),
    #[error("{0:?} is not a route; one of direct_answer, work_order, subcenter_transfer, emergency_transfer, utility_linkage, not_accepted")]
    BadRoute(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes the matching decisions to `out`; returns how many.
pub fn run(
    data_dir: &Path,
    since: Option<&str>,
    route: Option<&str>,
    mut out: impl Write,
) -> Result<u64, DecisionsError> {
    let since_ms = match since {
        Some(s) => DateTime::parse_from_rfc3339(s.trim())
            .map_err(|_| DecisionsError::BadSince(s.into()))?
            .timestamp_millis(),
        None => i64::MIN,
    };
    let route = match route {
        Some(r) => Some(
            hotline_router::RouteKind::parse(r)
                .ok_or_else(|| DecisionsError::BadRoute(r.into()))?,
        ),
        None => None,
    };
    let route_name = route.map(|r| crate::wire::route_to(r).as_str_name());
    let reader = Reader::open(data_dir)?;
    let n = reader.decisions(since_ms, route_name, |body| {
        let d = pb::Decision::decode(&body[..]).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let line = serde_json::to_string(&d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        writeln!(out, "{line}").map_err(StoreError::Output)?;
        Ok(())
    })?;
    Ok(n)
}
