#![allow(dead_code)]
use chrono::{DateTime, NaiveDateTime, Utc};
use hotline_router::{Caller, Channel, Contact, Location, Router};
use std::sync::OnceLock;

pub fn router() -> &'static Router {
    static R: OnceLock<Router> = OnceLock::new();
    R.get_or_init(|| match Router::embedded() {
        Ok(r) => r,
        Err(e) => panic!("embedded rules must load: {e:?}"),
    })
}

/// Local Shanghai time "YYYY-MM-DD HH:MM" as UTC.
pub fn at(local: &str) -> DateTime<Utc> {
    let n = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").expect("test time");
    (n - chrono::Duration::hours(8)).and_utc()
}

/// The JSON lines of a data file under the router crate (`data/…`,
/// `tests/data/…`), blank lines skipped.
pub fn jsonl(rel: &str) -> Vec<serde_json::Value> {
    let path = format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {l}: {e}")))
        .collect()
}

/// A string field of a JSON object, empty when absent.
pub fn field(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

pub fn phone_contact(id: &str, text: &str, district: &str) -> Contact {
    Contact {
        contact_id: id.into(),
        channel: Some(Channel::Phone),
        received_at: Some(at("2026-11-26 10:00")),
        caller: Caller {
            phone: "13800138000".into(),
            ..Default::default()
        },
        content: text.into(),
        location: Location {
            district_code: district.into(),
            address: "某街道某号".into(),
        },
        ..Default::default()
    }
}
