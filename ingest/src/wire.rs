//! Conversions between the `hotline.v1` wire types and the router's domain
//! types. The only place that knows both.
use chrono::{DateTime, Utc};
use hotline_proto::v1 as pb;
use hotline_proto::Timestamp;
use hotline_router as r;

/// A wire value that cannot be turned into a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {msg}")]
pub struct ConvertError {
    pub field: &'static str,
    pub msg: String,
}

impl ConvertError {
    /// Stable reason code, alongside the router's reject codes.
    pub fn code(&self) -> &'static str {
        "INVALID_TIMESTAMP"
    }
}

/// Wire timestamp to UTC instant.
pub fn instant(ts: &Timestamp, field: &'static str) -> Result<DateTime<Utc>, ConvertError> {
    u32::try_from(ts.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .and_then(|n| DateTime::from_timestamp(ts.seconds, n))
        .ok_or_else(|| ConvertError {
            field,
            msg: format!("timestamp {}s {}ns is out of range", ts.seconds, ts.nanos),
        })
}

/// UTC instant to wire timestamp.
pub fn timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn opt_ts(t: Option<DateTime<Utc>>) -> Option<Timestamp> {
    t.map(timestamp)
}

pub fn channel_from(c: i32) -> Option<r::Channel> {
    match pb::Channel::try_from(c).ok()? {
        pb::Channel::Unspecified => None,
        pb::Channel::Phone => Some(r::Channel::Phone),
        pb::Channel::Sms => Some(r::Channel::Sms),
        pb::Channel::Wechat => Some(r::Channel::Wechat),
        pb::Channel::Web => Some(r::Channel::Web),
        pb::Channel::App => Some(r::Channel::App),
        pb::Channel::Platform => Some(r::Channel::Platform),
    }
}

pub fn channel_to(c: r::Channel) -> pb::Channel {
    match c {
        r::Channel::Phone => pb::Channel::Phone,
        r::Channel::Sms => pb::Channel::Sms,
        r::Channel::Wechat => pb::Channel::Wechat,
        r::Channel::Web => pb::Channel::Web,
        r::Channel::App => pb::Channel::App,
        r::Channel::Platform => pb::Channel::Platform,
    }
}

pub fn kind_from(k: i32) -> Option<r::Kind> {
    match pb::Kind::try_from(k).ok()? {
        pb::Kind::Unspecified => None,
        pb::Kind::Consultation => Some(r::Kind::Consultation),
        pb::Kind::Help => Some(r::Kind::Help),
        pb::Kind::Opinion => Some(r::Kind::Opinion),
        pb::Kind::Suggestion => Some(r::Kind::Suggestion),
        pb::Kind::Complaint => Some(r::Kind::Complaint),
        pb::Kind::Report => Some(r::Kind::Report),
        pb::Kind::Epidemic => Some(r::Kind::Epidemic),
    }
}

pub fn kind_to(k: r::Kind) -> pb::Kind {
    match k {
        r::Kind::Consultation => pb::Kind::Consultation,
        r::Kind::Help => pb::Kind::Help,
        r::Kind::Opinion => pb::Kind::Opinion,
        r::Kind::Suggestion => pb::Kind::Suggestion,
        r::Kind::Complaint => pb::Kind::Complaint,
        r::Kind::Report => pb::Kind::Report,
        r::Kind::Epidemic => pb::Kind::Epidemic,
    }
}

pub fn origin_from(o: i32) -> r::Origin {
    match pb::Origin::try_from(o) {
        Ok(pb::Origin::Provincial) => r::Origin::Provincial,
        Ok(pb::Origin::National) => r::Origin::National,
        _ => r::Origin::Local,
    }
}

pub fn origin_to(o: r::Origin) -> pb::Origin {
    match o {
        r::Origin::Local => pb::Origin::Local,
        r::Origin::Provincial => pb::Origin::Provincial,
        r::Origin::National => pb::Origin::National,
    }
}

pub fn route_to(k: r::RouteKind) -> pb::RouteKind {
    match k {
        r::RouteKind::DirectAnswer => pb::RouteKind::DirectAnswer,
        r::RouteKind::WorkOrder => pb::RouteKind::WorkOrder,
        r::RouteKind::SubcenterTransfer => pb::RouteKind::SubcenterTransfer,
        r::RouteKind::EmergencyTransfer => pb::RouteKind::EmergencyTransfer,
        r::RouteKind::UtilityLinkage => pb::RouteKind::UtilityLinkage,
        r::RouteKind::NotAccepted => pb::RouteKind::NotAccepted,
    }
}

fn priority_to(p: r::Priority) -> pb::Priority {
    match p {
        r::Priority::Normal => pb::Priority::Normal,
        r::Priority::Special => pb::Priority::Special,
        r::Priority::SpecialEmergency => pb::Priority::SpecialEmergency,
    }
}

fn target_kind_to(k: r::TargetKind) -> pb::TargetKind {
    match k {
        r::TargetKind::Unit => pb::TargetKind::Unit,
        r::TargetKind::Line => pb::TargetKind::Line,
        r::TargetKind::Knowledge => pb::TargetKind::Knowledge,
    }
}

/// Wire contact to domain contact. Unknown enum values become "not given"
/// (the router then refuses an unknown channel by name).
pub fn contact_from(c: &pb::Contact) -> Result<r::Contact, ConvertError> {
    let received_at = c
        .received_at
        .as_ref()
        .map(|t| instant(t, "received_at"))
        .transpose()?;
    let platform_due = c
        .platform_due_at
        .as_ref()
        .map(|t| instant(t, "platform_due_at"))
        .transpose()?;
    let caller = c.caller.as_ref().map(|k| r::Caller {
        phone: k.phone.clone(),
        wechat_openid: k.wechat_openid.clone(),
        account_id: k.account_id.clone(),
    });
    let location = c.location.as_ref().map(|l| r::Location {
        district_code: l.district_code.clone(),
        address: l.address.clone(),
    });
    Ok(r::Contact {
        contact_id: c.contact_id.clone(),
        channel: channel_from(c.channel),
        received_at,
        caller: caller.unwrap_or_default(),
        content: c.content.clone(),
        kind_hint: kind_from(c.kind_hint),
        category_hint: c.category_hint.clone(),
        location: location.unwrap_or_default(),
        origin: origin_from(c.origin),
        call_id: c.call_id.clone(),
        enterprise: c.enterprise,
        attributes: c
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        platform_due,
    })
}

/// Domain decision to wire decision.
pub fn decision_to(d: r::Decision) -> pb::Decision {
    let provisional = d.provisional();
    let dl = &d.deadlines;
    pb::Decision {
        contact_id: d.contact_id,
        case_id: d.case_id,
        route: route_to(d.route) as i32,
        targets: d
            .targets
            .iter()
            .map(|t| pb::Target {
                kind: target_kind_to(t.kind) as i32,
                code: String::from(&*t.code),
                name: String::from(&*t.name),
            })
            .collect(),
        lead_unit: d.lead_unit.as_deref().unwrap_or_default().to_string(),
        co_units: d.co_units.iter().map(|s| String::from(&**s)).collect(),
        kind: kind_to(d.kind) as i32,
        category: String::from(&*d.category),
        priority: priority_to(d.priority) as i32,
        deadlines: Some(pb::Deadlines {
            accept_by: opt_ts(dl.accept_by),
            dispatch_by: opt_ts(dl.dispatch_by),
            sign_by: opt_ts(dl.sign_by),
            return_by: opt_ts(dl.return_by),
            complete_by: opt_ts(dl.complete_by),
            notify_by: opt_ts(dl.notify_by),
            first_feedback_by: opt_ts(dl.first_feedback_by),
            progress_by: opt_ts(dl.progress_by),
            provisional: dl.provisional,
            relay_by: opt_ts(dl.relay_by),
        }),
        dedup: Some(pb::DedupLinks {
            repeat_of: d.dedup.repeat_of,
            repeat_count: d.dedup.repeat_count,
            reopen: d.dedup.reopen,
            cluster_id: d.dedup.cluster_id,
            cluster_lead_case: d.dedup.cluster_lead_case,
            cluster_lead_unit: d.dedup.cluster_lead_unit,
            cluster_size: d.dedup.cluster_size,
        }),
        rule_ids: d.rule_ids.iter().map(|s| String::from(&**s)).collect(),
        provisional,
        guidance: d.guidance,
        channel: channel_to(d.channel) as i32,
        origin: origin_to(d.origin) as i32,
        enterprise: d.enterprise,
        district_code: d.district_code,
        received_at: Some(timestamp(d.received_at)),
        caller_ref: d.caller_ref,
        tags: d.tags.iter().map(|s| s.to_string()).collect(),
        classification: d.confidence.map(|c| pb::Classification {
            kind_confidence: c.kind,
            category_confidence: c.category,
            kinds: c
                .kinds
                .iter()
                .map(|(k, p)| pb::Alternative {
                    label: k.as_str().to_string(),
                    probability: *p,
                })
                .collect(),
            categories: c
                .categories
                .iter()
                .map(|(code, p)| pb::Alternative {
                    label: code.to_string(),
                    probability: *p,
                })
                .collect(),
        }),
        review: d.review.unwrap_or_default(),
        safety: safety_to(d.safety) as i32,
        safety_rule: d.safety_rule.as_deref().unwrap_or_default().to_string(),
        safety_lines: d.safety_lines.iter().map(|l| l.to_string()).collect(),
        relay: d.relay,
        tenant: String::new(),
    }
}

/// Domain safety level to wire.
pub fn safety_to(s: r::SafetyLevel) -> pb::SafetyLevel {
    match s {
        r::SafetyLevel::None => pb::SafetyLevel::SafetyNone,
        r::SafetyLevel::Possible => pb::SafetyLevel::SafetyPossible,
        r::SafetyLevel::Emergency => pb::SafetyLevel::SafetyEmergency,
    }
}
