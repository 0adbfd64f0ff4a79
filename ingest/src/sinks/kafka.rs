//! Producing to Kafka: decisions keyed by case id, and dead letters that
//! carry the original bytes with headers naming where they came from and why.
//!
//! The producer is idempotent. After a long broker outage librdkafka may
//! end it with a fatal error (seen with tansu: `ProducerFenced` once timed
//! out messages made it bump its epoch); a fatal producer takes nothing
//! more, so the publisher then builds a new one from the same config (what
//! librdkafka's documentation asks of the application).
use crate::telemetry::metrics as m;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use rdkafka::ClientConfig;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Dead-letter header names.
pub mod headers {
    pub const SOURCE_TOPIC: &str = "hotline.source.topic";
    pub const SOURCE_PARTITION: &str = "hotline.source.partition";
    pub const SOURCE_OFFSET: &str = "hotline.source.offset";
    pub const REASON: &str = "hotline.reason";
    pub const ERROR: &str = "hotline.error";
    /// On decisions, alerts and changelog records: the node that published
    /// them (`stats.node`).
    pub const NODE: &str = "hotline.node";
}

/// A produce that did not succeed within the delivery timeout.
#[derive(Debug, thiserror::Error)]
#[error("kafka produce to {topic}: {source}")]
pub struct PublishError {
    pub topic: String,
    pub source: rdkafka::error::KafkaError,
}

/// Whether a failed send leaves the idempotent producer unable to send
/// more: librdkafka's fatal error, or an error that fences its producer id.
fn fatal(p: &FutureProducer, e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    p.client().fatal_error().is_some()
        || matches!(
            e.rdkafka_error_code(),
            Some(
                C::ProducerFenced
                    | C::InvalidProducerEpoch
                    | C::UnknownProducerId
                    | C::OutOfOrderSequenceNumber
                    | C::Fatal
            )
        )
}

/// The producer and the output topics.
#[derive(Clone)]
pub struct Publisher {
    /// Replaced by a new one after a fatal error (see the module's doc).
    producer: Arc<RwLock<FutureProducer>>,
    config: Arc<ClientConfig>,
    decisions: String,
    alerts: String,
    stats: String,
    dlq: String,
    queue_timeout: Duration,
    /// This node's name, in the `hotline.node` header of what the outbox sends.
    node: Arc<str>,
}

impl Publisher {
    /// Builds the producer from `config`.
    pub fn new(
        config: ClientConfig,
        topics: &crate::config::kafka::TopicsConfig,
        queue_timeout: Duration,
        node: &str,
    ) -> rdkafka::error::KafkaResult<Publisher> {
        let producer: FutureProducer = config.create()?;
        Ok(Publisher {
            producer: Arc::new(RwLock::new(producer)),
            config: Arc::new(config),
            decisions: topics.decisions.clone(),
            alerts: topics.alerts.clone(),
            stats: topics.stats.clone(),
            dlq: topics.dlq.clone(),
            queue_timeout,
            node: node.into(),
        })
    }

    fn producer(&self) -> Option<FutureProducer> {
        self.producer.read().ok().map(|p| p.clone())
    }

    /// A new producer in place of `failed`, which hit a fatal error (unless
    /// another task replaced it already).
    fn renew(&self, failed: &FutureProducer, error: &rdkafka::error::KafkaError) {
        let Ok(mut p) = self.producer.write() else {
            return;
        };
        if !std::ptr::eq(p.client().native_ptr(), failed.client().native_ptr()) {
            return;
        }
        match self.config.create::<FutureProducer>() {
            Ok(new) => {
                tracing::warn!(%error, "kafka: the producer failed fatally; a new one takes over");
                m::kafka_producer_renewed();
                *p = new;
            }
            Err(e) => tracing::error!(error = %e, "kafka: cannot build a new producer"),
        }
    }

    /// Waits up to `timeout` for queued records to be delivered.
    pub fn flush(&self, timeout: Duration) -> rdkafka::error::KafkaResult<()> {
        match self.producer() {
            Some(p) => p.flush(timeout),
            None => Ok(()),
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

    /// The `hotline.node` header.
    fn node_header(&self) -> OwnedHeaders {
        OwnedHeaders::new().insert(Header {
            key: headers::NODE,
            value: Some(&*self.node),
        })
    }

    /// An alert (protobuf bytes), keyed by its case id.
    pub async fn alert(&self, case_id: &str, body: &[u8]) -> Result<(), PublishError> {
        let rec = FutureRecord::to(&self.alerts)
            .key(case_id.as_bytes())
            .payload(body)
            .headers(self.node_header());
        self.send(&self.alerts, rec).await.map(drop)
    }

    /// Sends a record, renewing the producer after a fatal error; the
    /// offset it was stored at.
    async fn send(
        &self,
        topic: &str,
        rec: FutureRecord<'_, [u8], [u8]>,
    ) -> Result<i64, PublishError> {
        let Some(producer) = self.producer() else {
            return Err(PublishError {
                topic: topic.to_string(),
                source: rdkafka::error::KafkaError::Canceled,
            });
        };
        let sent = producer.send(rec, Timeout::After(self.queue_timeout)).await;
        if let Err((e, _)) = &sent {
            if fatal(&producer, e) {
                self.renew(&producer, e);
            }
        }
        match sent {
            Ok(d) => {
                m::produced(self.label(topic), "ok");
                Ok(d.offset)
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

    /// An outbox row: a `decision` or an `alert` (see `sinks::outbox`).
    pub async fn outbox(&self, topic: &str, key: &str, body: &[u8]) -> Result<(), PublishError> {
        match topic {
            "alert" => self.alert(key, body).await,
            _ => self.decision(key, body).await,
        }
    }

    /// A record to one partition of `topic` (the changelog); its offset.
    pub async fn to_partition(
        &self,
        topic: &str,
        partition: i32,
        key: &str,
        body: &[u8],
    ) -> Result<i64, PublishError> {
        let rec: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
            .partition(partition)
            .key(key.as_bytes())
            .payload(body)
            .headers(self.node_header());
        self.send(topic, rec).await
    }

    /// A StatsSnapshot (protobuf bytes), keyed by the node that took it.
    pub async fn stats(&self, node: &str, body: &[u8]) -> Result<(), PublishError> {
        let rec = FutureRecord::to(&self.stats)
            .key(node.as_bytes())
            .payload(body);
        self.send(&self.stats, rec).await.map(drop)
    }

    /// A decision (protobuf bytes), keyed by its case id.
    pub async fn decision(&self, case_id: &str, body: &[u8]) -> Result<(), PublishError> {
        let rec = FutureRecord::to(&self.decisions)
            .key(case_id.as_bytes())
            .payload(body)
            .headers(self.node_header());
        self.send(&self.decisions, rec).await.map(drop)
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
        self.send(&self.dlq, rec).await.map(drop)
    }
}

/// Dead-letter reasons form a small fixed set for the metric label
/// (`metrics::DLQ_REASONS`): a reject code of the router counts as REJECTED.
fn reason_label(reason: &str) -> &'static str {
    m::DLQ_REASONS
        .iter()
        .find(|r| **r == reason)
        .copied()
        .unwrap_or("REJECTED")
}
