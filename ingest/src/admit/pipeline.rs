//! The per-contact transform: wire contact in, wire decision and store row
//! out, or a refusal. Plain and synchronous; the gRPC and Kafka wiring are
//! thin async layers around [`Pipeline::decide_one`] and
//! [`Pipeline::decide_many`].
use crate::sinks::store::DecisionRow;
use crate::state::dedup::DedupStage;
use crate::state::orders::AlertOut;
use crate::wire::{contact_from, decision_to};
use chrono::{DateTime, Utc};
use hotline_proto::v1 as pb;
use hotline_router::dedup::{self, Dedup, DedupOutcome, MatterRecord};
use hotline_router::{decide, Router};
use prost::Message;
use std::sync::Arc;
use std::sync::{LockResult, MutexGuard};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A contact decided, its dedup record built, not yet matched.
struct Staged {
    decision: hotline_router::Decision,
    record: Option<MatterRecord>,
    label: Option<String>,
}

/// A contact as a labeled example in the classifier's corpus format, for
/// `hotlined export-labels`: one an agent classified (a kind or category
/// hint), with the agent's values and, for a head without a hint, the
/// decision's (`kind_from` / `category_from` say which); and every work
/// order, with the decision's values, its case, unit and category
/// alternatives, which the export turns into a labeled example only if the
/// case is later re-dispatched to another unit (see `store::Reader::labels`).
fn label_of(c: &hotline_router::Contact, d: &hotline_router::Decision) -> Option<String> {
    let category_hinted = !c.category_hint.trim().is_empty()
        && !d
            .rule_ids
            .contains(&*hotline_router::ids::CATEGORY_HINT_UNKNOWN);
    let work_order = d.route == hotline_router::RouteKind::WorkOrder;
    if c.kind_hint.is_none() && !category_hinted && !work_order {
        return None;
    }
    let from = |agent: bool| if agent { "agent" } else { "decision" };
    let alternatives: Vec<&str> = d
        .confidence
        .as_ref()
        .map(|c| c.categories.iter().map(|(code, _)| &**code).collect())
        .unwrap_or_default();
    serde_json::to_string(&serde_json::json!({
        "text": c.content,
        "channel": d.channel.as_str().to_ascii_uppercase(),
        "district": d.district_code,
        "kind": d.kind.as_str(),
        "category": &*d.category,
        "kind_from": from(c.kind_hint.is_some()),
        "category_from": from(category_hinted),
        "case_id": d.case_id,
        "unit": d.lead_unit.as_deref().unwrap_or_default(),
        "alternatives": alternatives,
    }))
    .ok()
}

/// A contact decided, ready to be stored.
pub struct Decided {
    pub decision: pb::Decision,
    pub row: DecisionRow,
    pub channel: &'static str,
    pub route: &'static str,
    /// Life safety and review, as counted.
    pub outcome: crate::telemetry::metrics::Outcome,
    /// Its alerts (a possible emergency's or a relay's, dedup's
    /// escalation and hotspot): stored with it, in its transaction.
    pub alerts: Vec<AlertOut>,
}

/// Why a contact was refused: reason code, field path, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub field: &'static str,
    pub message: String,
}

impl Refusal {
    /// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` field violation and
    /// a `google.rpc.ErrorInfo` carrying the reason code.
    pub fn status(&self) -> Status {
        let mut details = ErrorDetails::with_bad_request_violation(
            self.field,
            format!("{}: {}", self.code, self.message),
        );
        details.set_error_info(self.code, "hotline.v1", std::collections::HashMap::new());
        Status::with_error_details(
            Code::InvalidArgument,
            format!("{}: {}", self.code, self.message),
            details,
        )
    }

    /// The same refusal as a per-contact stream error.
    pub fn to_error(&self) -> pb::Error {
        pb::Error {
            reason: self.code.into(),
            field: self.field.into(),
            message: self.message.clone(),
        }
    }
}

/// Route name as stored and labelled.
pub fn route_name(route: i32) -> &'static str {
    pb::RouteKind::try_from(route)
        .map(|r| r.as_str_name())
        .unwrap_or("ROUTE_UNSPECIFIED")
}

/// A deadline past the known holiday calendar is provisional (README.md, "Conventions"),
/// with a metric and a warning so operators load the next year's file. The
/// warning is logged for the first such decision and every 10 000th after.
fn provisional_warning() {
    static SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    crate::telemetry::metrics::provisional();
    if SEEN
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .is_multiple_of(10_000)
    {
        tracing::warn!(
            "a deadline reaches past the holiday calendar: Monday–Friday assumed and the decision marked provisional; add the next year's <year>.toml to rules.calendar_dir"
        );
    }
}

/// The tag of a decision made without the dedup index.
pub const NO_DEDUP: &str = "no_dedup";

/// The transform.
#[derive(Clone)]
pub struct Pipeline {
    router: Arc<Router>,
    dedup: Option<DedupStage>,
}

impl Pipeline {
    pub fn new(router: Arc<Router>, dedup: Option<DedupStage>) -> Pipeline {
        Pipeline { router, dedup }
    }

    /// The tenant's rules.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The dedup stage (None without dedup).
    pub fn dedup(&self) -> Option<&DedupStage> {
        self.dedup.as_ref()
    }

    /// Converts and decides one contact and builds its dedup record: all
    /// of a contact's work that needs no shared state.
    fn stage(&self, contact: &pb::Contact, now: DateTime<Utc>) -> Result<Staged, Refusal> {
        let c = contact_from(contact).map_err(|e| Refusal {
            code: e.code(),
            field: e.field,
            message: e.to_string(),
        })?;
        let decision = decide(&self.router, &c, now).map_err(|e| Refusal {
            code: e.code(),
            field: e.field(),
            message: e.to_string(),
        })?;
        let record = self
            .dedup
            .as_ref()
            .and_then(|stage| dedup::record(&self.router, &stage.rules, &c, &decision));
        let label = label_of(&c, &decision);
        Ok(Staged {
            decision,
            record,
            label,
        })
    }

    /// Writes what dedup found into the decision and builds the wire
    /// decision and the store row.
    fn finish(
        &self,
        Staged {
            mut decision,
            record,
            label,
        }: Staged,
        found: Option<DedupOutcome>,
        now: DateTime<Utc>,
    ) -> Decided {
        if let Some(out) = &found {
            dedup::annotate(self.router.calendar(), &mut decision, out);
            if !out.replay {
                crate::telemetry::metrics::dedup_outcome(out);
            }
        }
        if decision.provisional() {
            provisional_warning();
        }
        let (channel, received_at_ms) = (
            decision.channel.as_str(),
            decision.received_at.timestamp_millis(),
        );
        let outcome = crate::telemetry::metrics::Outcome::of(&decision);
        let mut decision = decision_to(decision);
        decision.tenant = self.router.city_code().to_string();
        let alerts = alerts_of(&decision, found.as_ref());
        let route = route_name(decision.route);
        let row = DecisionRow {
            contact_id: decision.contact_id.clone(),
            case_id: decision.case_id.clone(),
            route,
            received_at_ms,
            decided_at_ms: now.timestamp_millis(),
            body: decision.encode_to_vec(),
            matter: record.map(|m| m.to_bytes()),
            label,
        };
        Decided {
            decision,
            row,
            channel,
            route,
            outcome,
            alerts,
        }
    }

    /// Decides one contact as seen at `now`.
    pub fn decide_one(
        &self,
        contact: &pb::Contact,
        now: DateTime<Utc>,
    ) -> Result<Decided, Refusal> {
        let staged = self.stage(contact, now)?;
        let found = staged
            .record
            .as_ref()
            .and_then(|r| Some(matched(&mut self.index()?, r)));
        Ok(self.finish(staged, found, now))
    }

    /// Decides one contact without the dedup index (its tenant's owner is
    /// unknown: README.md, "More than one node"): route, kind and deadlines
    /// as the rules give them, no repeat or cluster, tagged `no_dedup`. The
    /// owner decides it again with dedup later (an update of the decision).
    pub fn decide_without_dedup(
        &self,
        contact: &pb::Contact,
        now: DateTime<Utc>,
    ) -> Result<pb::Decision, Refusal> {
        let staged = self.stage(contact, now)?;
        let mut d = self.finish(staged, None, now).decision;
        d.tags.push(NO_DEDUP.into());
        Ok(d)
    }

    /// Decides contacts as seen at `now`, in order, one result each. Each
    /// is decided as by itself; the dedup index is locked once for all of
    /// them (a stream's contacts that arrived together), which spares the
    /// lock hand-offs between workers that one lock per contact cost.
    pub fn decide_many(
        &self,
        contacts: &[pb::Contact],
        now: DateTime<Utc>,
    ) -> Vec<Result<Decided, Refusal>> {
        let staged: Vec<Result<Staged, Refusal>> =
            contacts.iter().map(|c| self.stage(c, now)).collect();
        // Locked only when some contact has a record to match.
        let mut index = staged.iter().find_map(record_of).and_then(|_| self.index());
        let found: Vec<Option<DedupOutcome>> = staged
            .iter()
            .map(|s| Some(matched(index.as_mut()?, record_of(s)?)))
            .collect();
        drop(index);
        staged
            .into_iter()
            .zip(found)
            .map(|(s, f)| s.map(|s| self.finish(s, f, now)))
            .collect()
    }

    /// The dedup index, locked (None without dedup).
    fn index(&self) -> Option<LockResult<MutexGuard<'_, Dedup>>> {
        self.dedup.as_ref().map(|stage| stage.index.lock())
    }
}

/// The dedup record of a staged contact, if it has one.
fn record_of(s: &Result<Staged, Refusal>) -> Option<&MatterRecord> {
    s.as_ref().ok()?.record.as_ref()
}

/// Matches and indexes one record. A poisoned index (a panic while
/// matching) dedups nothing more.
fn matched(index: &mut LockResult<MutexGuard<'_, Dedup>>, r: &MatterRecord) -> DedupOutcome {
    match index {
        Ok(idx) => idx.apply(r),
        Err(_) => DedupOutcome::default(),
    }
}

/// A decision's own alerts: a (possible) emergency's (Art. 10(3), 15), and
/// the ESCALATION and HOTSPOT dedup found (Art. 21, 27(1)).
fn alerts_of(d: &pb::Decision, dedup: Option<&DedupOutcome>) -> Vec<AlertOut> {
    let mut alerts: Vec<AlertOut> = crate::state::orders::safety_alert(d).into_iter().collect();
    if let Some(out) = dedup {
        if out.escalate {
            alerts.push(crate::state::orders::escalation_alert(d));
        }
        if out.hotspot {
            alerts.push(crate::state::orders::hotspot_alert(d));
        }
    }
    alerts
}
