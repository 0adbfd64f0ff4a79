//! Producing to Kafka: decisions keyed by case id, and dead letters that
//! carry the original bytes with headers naming where they came from and why.
use crate::telemetry::metrics as m;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use std::time::Duration;

/// Dead-letter header names.
pub mod headers {
    pub const SOURCE_TOPIC: &str = "hotline.source.topic";
    pub const SOURCE_PARTITION: &str = "hotline.source.partition";
    pub const SOURCE_OFFSET: &str = "hotline.source.offset";
    pub const REASON: &str = "hotline.reason";
    pub const ERROR: &str = "hotline.error";
}

/// A produce that did not succeed within the delivery timeout.
#[derive(Debug, thiserror::Error)]
#[error("kafka produce to {topic}: {source}")]
pub struct PublishError {
    pub topic: String,
    pub source: rdkafka::error::KafkaError,
}

/// The producer and the output topics.
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer,
    decisions: String,
    alerts: String,
    stats: String,
    dlq: String,
    queue_timeout: Duration,
}

impl Publisher {
    pub fn new(
        producer: FutureProducer,
        topics: &crate::config::kafka::TopicsConfig,
        queue_timeout: Duration,
    ) -> Publisher {
        Publisher {
            producer,
            decisions: topics.decisions.clone(),
            alerts: topics.alerts.clone(),
            stats: topics.stats.clone(),
            dlq: topics.dlq.clone(),
            queue_timeout,
        }
    }

    /// The metric label of one of the output topics.
    fn label(&self, topic: &str) -> &'static str {
        if topic == self.decisions {
            "decisions"
        } else if topic == self.alerts {
            "alerts"
        } else if topic == self.stats {
            "stats"
        } else if topic == self.dlq {
            "dlq"
        } else {
            "other"
        }
    }

    /// An alert (protobuf bytes), keyed by its case id.
    pub async fn alert(&self, case_id: &str, body: &[u8]) -> Result<(), PublishError> {
        let rec = FutureRecord::to(&self.alerts)
            .key(case_id.as_bytes())
            .payload(body);
        self.send(&self.alerts, rec).await
    }

    async fn send(
        &self,
        topic: &str,
        rec: FutureRecord<'_, [u8], [u8]>,
    ) -> Result<(), PublishError> {
        match self
            .producer
            .send(rec, Timeout::After(self.queue_timeout))
            .await
        {
            Ok(_) => {
                m::produced(self.label(topic), "ok");
                Ok(())
            }
            Err((source, _)) => {
                m::produced(self.label(topic), "error");
                Err(PublishError {
                    topic: topic.to_string(),
                    source,
                })
            }
        }
    }

    /// A StatsSnapshot (protobuf bytes), keyed by the node that took it.
    pub async fn stats(&self, node: &str, body: &[u8]) -> Result<(), PublishError> {
        let rec = FutureRecord::to(&self.stats)
            .key(node.as_bytes())
            .payload(body);
        self.send(&self.stats, rec).await
    }

    /// A decision (protobuf bytes), keyed by its case id.
    pub async fn decision(&self, case_id: &str, body: &[u8]) -> Result<(), PublishError> {
        let rec = FutureRecord::to(&self.decisions)
            .key(case_id.as_bytes())
            .payload(body);
        self.send(&self.decisions, rec).await
    }

    /// A dead letter: the original key, value and headers, plus where the
    /// record came from and why it could not be processed.
    pub async fn dead_letter(
        &self,
        orig: &OwnedMessage,
        reason: &str,
        error: &str,
    ) -> Result<(), PublishError> {
        let mut h = OwnedHeaders::new();
        if let Some(oh) = orig.headers() {
            for x in oh.iter() {
                h = h.insert(Header {
                    key: x.key,
                    value: x.value,
                });
            }
        }
        let partition = orig.partition().to_string();
        let offset = orig.offset().to_string();
        h = h
            .insert(Header {
                key: headers::SOURCE_TOPIC,
                value: Some(orig.topic()),
            })
            .insert(Header {
                key: headers::SOURCE_PARTITION,
                value: Some(&partition),
            })
            .insert(Header {
                key: headers::SOURCE_OFFSET,
                value: Some(&offset),
            })
            .insert(Header {
                key: headers::REASON,
                value: Some(reason),
            })
            .insert(Header {
                key: headers::ERROR,
                value: Some(error),
            });
        let mut rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.dlq).headers(h);
        if let Some(k) = orig.key() {
            rec = rec.key(k);
        }
        if let Some(p) = orig.payload() {
            rec = rec.payload(p);
        }
        m::dead_letter(reason_label(reason));
        self.send(&self.dlq, rec).await
    }
}

/// Dead-letter reasons form a small fixed set for the metric label.
fn reason_label(reason: &str) -> &'static str {
    match reason {
        "UNDECODABLE" => "UNDECODABLE",
        "PRODUCE_FAILED" => "PRODUCE_FAILED",
        "INVALID_EVENT" => "INVALID_EVENT",
        "UNKNOWN_TOPIC" => "UNKNOWN_TOPIC",
        _ => "REJECTED",
    }
}
