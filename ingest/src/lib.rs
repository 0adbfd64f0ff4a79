//! `hotline-ingest`: the `hotlined` daemon and its offline commands. The
//! decision logic lives in `hotline-router`; this crate owns everything with
//! I/O: config, the wire, the store, the servers, the commands
//! (ARCHITECTURE.md).
//!
//! Folders, and the rule that keeps them apart:
//!
//! ```text
//! sources/   gRPC intake, Kafka consumer: read, authenticate, hand over
//! admit/     the way a contact or event enters: decide (hotline-router),
//!            commit, count, open its case; restore on start
//! state/     live work-order deadlines, service targets, the dedup index,
//!            stats snapshots of them
//! sinks/     the store (SQLite) and its committer, the Kafka publisher
//! telemetry/ the metrics catalogue and the HDR histograms
//! config/    the TOML file, its sections and the rules directory
//! wire.rs    hotline.v1 ⇄ router types
//! auth.rs    bearer tokens per role; admin.rs the admin HTTP listener;
//!            conn.rs connection limits of both listeners
//! cmd/       offline commands (replay, train, eval, decisions, calendar)
//! fuzz.rs    entry points for the fuzzers and their corpus replay
//! app/       `serve`: builds, spawns and drains everything
//! ```
//!
//! Imports point one way, down this list: sources → admit → state → sinks
//! → telemetry, each also free to use the leaves (config, wire, auth).
//! Only `app/` (and `main.rs`) see everything; nothing but `app/` imports
//! `sources/`. `tests/layout.rs` checks it.
// gRPC handlers and interceptors must return `tonic::Status` (176 bytes);
// boxing it would only add an allocation on every error path.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod admit;
pub mod app;
pub mod auth;
pub mod cmd;
pub mod config;
pub mod conn;
pub mod fuzz;
pub mod sinks;
pub mod sources;
pub mod state;
pub mod telemetry;
pub mod wire;
