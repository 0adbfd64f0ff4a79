//! `hotlined replay`: contacts in (JSON lines, protobuf JSON mapping), one
//! decision or one error line out per input line. Deterministic: each
//! contact's own `received_at` is "now".
use crate::wire::{contact_from, decision_to};
use hotline_proto::v1 as pb;
use hotline_router::{decide, Router};
use serde::Serialize;
use std::io::{self, BufRead, Write};

/// Counts of one replay run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayStats {
    pub lines: u64,
    pub decided: u64,
    pub failed: u64,
}

/// The error line written for an input line that yields no decision.
#[derive(Debug, Serialize)]
pub struct ErrorLine<'a> {
    pub line: u64,
    pub error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub reason: &'a str,
    pub field: &'a str,
    pub message: String,
}

/// Decides one input line; `Err` is the error line to print.
fn one(router: &Router, n: u64, raw: &[u8]) -> Result<pb::Decision, ErrorLine<'static>> {
    let fail = |reason: &'static str, field: &'static str, message: String| ErrorLine {
        line: n,
        error: ErrorBody {
            reason,
            field,
            message,
        },
    };
    let text = std::str::from_utf8(raw).map_err(|e| fail("INVALID_UTF8", "", e.to_string()))?;
    let contact: pb::Contact =
        serde_json::from_str(text).map_err(|e| fail("INVALID_JSON", "", e.to_string()))?;
    let contact = contact_from(&contact).map_err(|e| fail(e.code(), e.field, e.to_string()))?;
    // Each contact's own received_at is "now"; without one the router refuses it.
    let now = contact.received_at.unwrap_or_default();
    let d = decide(router, &contact, now).map_err(|e| fail(e.code(), e.field(), e.to_string()))?;
    Ok(decision_to(d))
}

/// Replays every line of `input`, writing one line per non-blank input line.
pub fn replay(
    router: &Router,
    mut input: impl BufRead,
    mut out: impl Write,
) -> io::Result<ReplayStats> {
    let mut stats = ReplayStats::default();
    let mut buf = Vec::with_capacity(1024);
    let mut n = 0u64;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        n += 1;
        let raw = buf.trim_ascii();
        if raw.is_empty() {
            continue;
        }
        stats.lines += 1;
        match one(router, n, raw) {
            Ok(d) => {
                serde_json::to_writer(&mut out, &d).map_err(io::Error::other)?;
                stats.decided += 1;
            }
            Err(e) => {
                serde_json::to_writer(&mut out, &e).map_err(io::Error::other)?;
                stats.failed += 1;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(stats)
}
