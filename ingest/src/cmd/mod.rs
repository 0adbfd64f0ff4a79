//! The offline commands of `hotlined` (everything but `serve`): the command
//! line, replay, train and eval, stored decisions, the per-unit report, the
//! working-day calendar.
pub mod calendar;
pub mod cli;
pub mod decisions;
pub mod replay;
pub mod report;
pub mod train;
