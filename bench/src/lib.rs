//! `hotline-bench`: realistic synthetic hotline traffic (seeded, reproducible)
//! for tests, benchmarks and the load generator.
pub mod dedup_bench;
pub mod dedup_eval;
pub mod demo;
pub mod grpc;
pub mod kafka;
pub mod noop;
pub mod report;
pub mod tracker;
pub mod traffic;
pub mod train_problems;
