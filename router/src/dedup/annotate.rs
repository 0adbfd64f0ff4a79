//! What dedup found, written into the decision, and the whole per-contact
//! step in one call.
use super::*;
use crate::deadlines::{self, DeadlineInput, Scope};
use crate::model::{Contact, Decision, Priority, RouteKind};
use crate::router::Router;

/// Decides a contact and runs it through dedup: what the daemon does per
/// contact, in one call (the daemon splits it to hold the index lock only
/// around [`Dedup::apply`]).
pub fn decide(
    router: &Router,
    dedup: &mut Dedup,
    contact: &Contact,
    now: crate::Instant,
) -> Result<(Decision, DedupOutcome), crate::Reject> {
    let mut d = crate::decide(router, contact, now)?;
    let rules = dedup.rules.clone();
    let out = match record(router, &rules, contact, &d) {
        Some(r) => dedup.apply(&r),
        None => DedupOutcome::default(),
    };
    annotate(&router.calendar, &mut d, &out);
    Ok((d, out))
}

/// Writes what dedup found into the decision: links, the original case of
/// a repeat, the cluster's lead unit, the special-matter priority of a
/// hotspot (with its deadlines) and tags.
pub fn annotate(calendar: &crate::Calendar, d: &mut Decision, o: &DedupOutcome) {
    if let Some(orig) = &o.repeat_of {
        d.dedup.repeat_of = orig.clone();
        d.dedup.repeat_count = o.repeat_count;
        d.dedup.reopen = o.reopen;
        d.tags.push(if o.reopen { "reopen" } else { "repeat" });
        d.rule_ids.push(crate::ids::DEDUP_REPEAT.clone());
        if o.joins {
            d.case_id = orig.clone();
        }
        if o.joins && !o.reopen {
            // Joins the open case: its deadlines run on, no new work order.
            let (accept_by, relay_by) = (d.deadlines.accept_by, d.deadlines.relay_by);
            d.deadlines = crate::Deadlines {
                accept_by,
                relay_by,
                ..Default::default()
            };
            // An emergency or utility transfer keeps its own guidance.
            if d.route == RouteKind::WorkOrder {
                d.guidance = format!("同一来电人同一事项重复来电，已并入原工单{orig}继续办理。");
            }
        }
    }
    if o.escalate {
        d.tags.push("escalation");
    }
    if let Some(cid) = &o.cluster_id {
        d.dedup.cluster_id = cid.clone();
        d.dedup.cluster_lead_case = o.cluster_lead_case.clone();
        d.dedup.cluster_lead_unit = o
            .cluster_lead_unit
            .as_deref()
            .unwrap_or_default()
            .to_string();
        d.dedup.cluster_size = o.cluster_size;
        d.tags.push("cluster");
        d.rule_ids.push(crate::ids::DEDUP_CLUSTER.clone());
        // Art. 12(3): the first-receiving unit leads; this contact's unit co-handles.
        if d.route == RouteKind::WorkOrder {
            if let Some(lead) = &o.cluster_lead_unit {
                if d.lead_unit.as_ref() != Some(lead) {
                    if let Some(own) = d.lead_unit.take() {
                        if !d.co_units.contains(&own) {
                            d.co_units.push(own);
                        }
                    }
                    d.lead_unit = Some(lead.clone());
                }
            }
        }
    }
    if o.hotspot {
        d.tags.push("hotspot");
    }
    if o.raise_special && d.priority == Priority::Normal {
        d.priority = Priority::Special;
        d.tags.push("special");
        d.rule_ids.push(crate::ids::DEDUP_HOTSPOT_SPECIAL.clone());
        let input = DeadlineInput {
            received_at: d.received_at,
            kind: d.kind,
            origin: d.origin,
            channel: d.channel,
            priority: d.priority,
            route: d.route,
            platform_due: None,
        };
        let repeat_open = o.joins && !o.reopen;
        if !repeat_open {
            // The special-matter limits are added; a relay clock stays.
            // The completion limit is the decision's (a platform's own due
            // time included): the kind and origin have not changed.
            let (relay_by, complete_by) = (d.deadlines.relay_by, d.deadlines.complete_by);
            d.deadlines = deadlines::compute(calendar, &input, Scope::Route);
            d.deadlines.relay_by = relay_by;
            d.deadlines.complete_by = complete_by;
        }
    }
}
