//! A tenant's changelog (README.md, "More than one node"): with
//! `[kafka.cluster]` every row its owner stores — a decision with its dedup
//! record, a call or order event, an alert — is also written to the outbox
//! as a `ChangelogRecord`, which the outbox publishes to the tenant's
//! partition of the changelog topic. The node assigned the partition next
//! applies the records it has not seen (from its checkpoint) to its own
//! store, then rebuilds the tenant's state from the store as on start. A
//! node's store is thus a cache of the changelog: rows it stored but did not
//! publish before losing the partition are rolled back (their input records
//! were not acknowledged, so the new owner decides them).
use crate::sinks::store::{key_of, DecisionRow, EventRow, Inserted, Reader, StoreError, Tx};
use hotline_proto::v1 as pb;
use prost::Message;
use rusqlite::{params, OptionalExtension};

/// The changelog record of a stored decision row.
pub fn decision_record(tenant: &str, r: &DecisionRow) -> Vec<u8> {
    pb::ChangelogRecord {
        tenant: tenant.to_string(),
        row: Some(pb::changelog_record::Row::Decision(pb::StoredDecision {
            contact_id: r.contact_id.clone(),
            case_id: r.case_id.clone(),
            route: r.route.to_string(),
            received_at_ms: r.received_at_ms,
            decided_at_ms: r.decided_at_ms,
            body: r.body.clone(),
            matter: r.matter.clone().unwrap_or_default(),
            label: r.label.clone().unwrap_or_default(),
        })),
    }
    .encode_to_vec()
}

/// The changelog record of a stored event row.
pub fn event_record(tenant: &str, e: &EventRow) -> Vec<u8> {
    pb::ChangelogRecord {
        tenant: tenant.to_string(),
        row: Some(pb::changelog_record::Row::Event(pb::StoredEvent {
            stream: e.stream.to_string(),
            key: e.key.clone(),
            r#type: e.event_type,
            at_ms: e.at_ms,
            body: e.body.clone(),
        })),
    }
    .encode_to_vec()
}

/// The route names a stored decision row may carry.
fn route_of(name: &str) -> &'static str {
    pb::RouteKind::from_str_name(name)
        .unwrap_or(pb::RouteKind::RouteUnspecified)
        .as_str_name()
}

/// The streams a stored event row may carry (anything else: `None`).
fn stream_of(name: &str) -> Option<&'static str> {
    ["call", "order", "alert"].into_iter().find(|s| *s == name)
}

impl Tx<'_> {
    /// Applies a changelog record another owner wrote: the row as it was
    /// stored there, replacing this store's row of the same contact (the
    /// changelog is the truth), an event added unless stored. Nothing goes
    /// to the outbox: it is on Kafka already.
    pub fn apply_changelog(&self, rec: &pb::ChangelogRecord) -> Result<(), rusqlite::Error> {
        match &rec.row {
            Some(pb::changelog_record::Row::Decision(d)) => {
                let row = DecisionRow {
                    contact_id: d.contact_id.clone(),
                    case_id: d.case_id.clone(),
                    route: route_of(&d.route),
                    received_at_ms: d.received_at_ms,
                    decided_at_ms: d.decided_at_ms,
                    body: d.body.clone(),
                    matter: (!d.matter.is_empty()).then(|| d.matter.clone()),
                    label: None,
                };
                let updated = self.sql().execute(
                    "UPDATE decisions SET case_id = ?3, route = ?4, received_at = ?5, decided_at = ?6, body = ?7, matter = ?8 WHERE contact_key = ?1 AND contact_id = ?2",
                    params![
                        key_of(&row.contact_id),
                        row.contact_id,
                        row.case_id,
                        row.route,
                        row.received_at_ms,
                        row.decided_at_ms,
                        row.body,
                        row.matter
                    ],
                )?;
                let new = updated == 0
                    && self.insert_keyed(&row, key_of(&row.contact_id))? == Inserted::New;
                if new && !d.label.is_empty() {
                    self.sql()
                        .prepare_cached(
                            "INSERT INTO labels(contact_id, at, body) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![d.contact_id, d.received_at_ms, d.label])?;
                }
            }
            Some(pb::changelog_record::Row::Event(e)) => {
                if let Some(stream) = stream_of(&e.stream) {
                    self.sql()
                        .prepare_cached("INSERT INTO events(stream, key, type, at, body) VALUES (?1,?2,?3,?4,?5) ON CONFLICT DO NOTHING")?
                        .execute(params![stream, e.key, e.r#type, e.at_ms, e.body])?;
                }
            }
            None => {}
        }
        Ok(())
    }

    /// Forgets every row this store holds that is not on the changelog —
    /// the rows whose changelog records wait in the outbox — and the whole
    /// outbox: nothing decided in an epoch that ended is published.
    /// Returns how many rows were rolled back.
    pub fn rollback_unpublished(&self) -> Result<usize, rusqlite::Error> {
        let bodies: Vec<Vec<u8>> = {
            let mut q = self
                .sql()
                .prepare_cached("SELECT body FROM outbox WHERE topic = 'changelog' ORDER BY id")?;
            let rows = q.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut n = 0;
        for body in bodies {
            let Ok(rec) = pb::ChangelogRecord::decode(&body[..]) else {
                continue;
            };
            n += match rec.row {
                Some(pb::changelog_record::Row::Decision(d)) => {
                    self.sql().execute(
                        "DELETE FROM labels WHERE at = ?1 AND contact_id = ?2",
                        params![d.received_at_ms, d.contact_id],
                    )?;
                    let by_key = self.sql().execute(
                        "DELETE FROM decisions WHERE contact_key = ?1 AND contact_id = ?2",
                        params![key_of(&d.contact_id), d.contact_id],
                    )?;
                    // A collided contact (stored without its key).
                    let listed = self.sql().execute(
                        "DELETE FROM decisions WHERE id IN (SELECT id FROM collided WHERE contact_id = ?1)",
                        params![d.contact_id],
                    )?;
                    self.sql().execute(
                        "DELETE FROM collided WHERE contact_id = ?1",
                        params![d.contact_id],
                    )?;
                    by_key + listed
                }
                Some(pb::changelog_record::Row::Event(e)) => self.sql().execute(
                    "DELETE FROM events WHERE stream = ?1 AND key = ?2 AND type = ?3 AND at = ?4",
                    params![e.stream, e.key, e.r#type, e.at_ms],
                )?,
                None => 0,
            };
        }
        self.sql().execute("DELETE FROM outbox", [])?;
        Ok(n)
    }

    /// Records that the changelog's `partition` is applied up to (not
    /// including) `next_offset`; never moves back.
    pub fn set_checkpoint(&self, partition: i32, next_offset: i64) -> Result<(), rusqlite::Error> {
        self.sql()
            .prepare_cached(
                "INSERT INTO changelog_checkpoint(partition, next_offset) VALUES (?1, ?2)
                 ON CONFLICT(partition) DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)",
            )?
            .execute(params![partition, next_offset])?;
        Ok(())
    }
}

impl Reader {
    /// The offset of the first changelog record of `partition` this store
    /// has not applied (0: none applied).
    pub fn checkpoint(&self, partition: i32) -> Result<i64, StoreError> {
        Ok(self
            .sql()
            .query_row(
                "SELECT next_offset FROM changelog_checkpoint WHERE partition = ?1",
                params![partition],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }
}
