//! `hotline-ingest`: the `hotlined` daemon and its offline commands. The
//! decision logic lives in `hotline-router`; this crate owns everything with
//! I/O: config, conversions from the wire, the commands.
pub mod calendar_cmd;
pub mod cli;
pub mod config;
pub mod convert;
pub mod replay;
pub mod rules_dir;
