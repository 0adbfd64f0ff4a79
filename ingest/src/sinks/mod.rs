//! Where admitted contacts and events go: the embedded store (one SQLite
//! database, written by the committer thread) and the Kafka publisher.
pub mod changelog;
pub mod committer;
pub mod kafka;
pub mod outbox;
pub mod ownership;
pub mod store;
