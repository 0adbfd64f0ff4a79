//! Kafka in and out (README.md, "Kafka"): contacts, call events and order events
//! consumed in a consumer group; decisions and dead letters produced with
//! an idempotent, acks=all producer. At-least-once: an offset is stored only
//! after every output of its record is delivered, in partition order, and
//! redelivery is harmless because decisions are idempotent by contact_id.
pub mod config;
pub mod consumer;
pub mod publisher;

pub use config::KafkaConfig;
pub use consumer::KafkaIngest;
pub use publisher::Publisher;
