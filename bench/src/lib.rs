//! `hotline-bench`: realistic synthetic hotline traffic (seeded, reproducible)
//! for tests, benchmarks and the load generator.
pub mod traffic;
