//! Live state kept between contacts: work-order deadlines (Art. 13), call
//! and message service targets (Art. 11, 13(1), 26(1)), the dedup index, and
//! the periodic snapshots of them all, and the wall screen's figures.
pub mod board;
pub mod dedup;
pub mod orders;
pub mod sla;
pub mod stats;
pub mod today;
