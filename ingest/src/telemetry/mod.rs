//! What the daemon tells its operators: the metrics catalogue and the HDR
//! histograms (the stats snapshots that carry them are `state::stats`).
pub mod catalogue;
pub mod exposition;
pub mod hdr;
pub mod log_limit;
pub mod metrics;
