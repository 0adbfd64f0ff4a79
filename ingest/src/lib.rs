//! `hotline-ingest`: the `hotlined` daemon and its offline commands. The
//! decision logic lives in `hotline-router`; this crate owns everything with
//! I/O: config, the wire, the store, the servers, the commands.
// gRPC handlers and interceptors must return `tonic::Status` (176 bytes);
// boxing it would only add an allocation on every error path.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod auth;
pub mod calendar_cmd;
pub mod cli;
pub mod committer;
pub mod config;
pub mod convert;
pub mod decisions_cmd;
pub mod hdr;
pub mod intake;
pub mod kafka;
pub mod metrics;
pub mod orders;
pub mod pipeline;
pub mod replay;
pub mod restore;
pub mod rules_dir;
pub mod serve;
pub mod shared;
pub mod sla;
pub mod stats;
pub mod store;
pub mod train_cmd;
