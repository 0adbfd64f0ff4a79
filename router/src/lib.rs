//! `hotline-router`: the decision logic of the 12345 hotline as plain,
//! synchronous, deterministic Rust. No I/O, no async runtime, no clock reads:
//! time is a parameter.
//!
//! One module per stage, composed by [`decide`]:
//! [`normalize`] → [`classify`] → [`scope`] → [`route`] → [`deadlines`], with
//! the working-day [`calendar`]. Rules are data (`router/data/*.toml`, see its
//! README), compiled into one keyword automaton ([`matcher`]).
pub mod accept;
pub mod calendar;
pub mod calls;
pub mod classifier;
pub mod classify;
pub mod deadlines;
pub mod decide;
pub mod dedup;
pub mod ids;
pub mod matcher;
pub mod model;
mod model_file;
pub mod normalize;
pub mod reject;
pub mod route;
pub mod router;
pub mod rules;
pub mod safety;
pub mod scope;
mod strings;
pub mod tracker;

pub use calendar::{Calendar, CalendarError};
pub use decide::decide;
pub use model::*;
pub use reject::Reject;
pub use router::{Router, RouterOptions};
pub use rules::{RuleSources, RulesError};
