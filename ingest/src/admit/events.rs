//! Call and order events as the store keeps them: checked, keyed and
//! encoded the same way whichever source (gRPC, Kafka) they came by.
use crate::sinks::store::EventRow;
use crate::wire;
use hotline_proto::v1 as pb;
use prost::Message;

pub fn at_ms(ts: &Option<hotline_proto::Timestamp>) -> Result<i64, &'static str> {
    let ts = ts.as_ref().ok_or("missing at")?;
    wire::instant(ts, "at")
        .map(|t| t.timestamp_millis())
        .map_err(|_| "bad at")
}

pub fn call_event_row(ev: &pb::CallEvent) -> Result<EventRow, &'static str> {
    if ev.call_id.is_empty() || ev.call_id.len() > 128 {
        return Err("call_id");
    }
    if !matches!(pb::CallEventType::try_from(ev.r#type), Ok(t) if t != pb::CallEventType::CallEventUnspecified)
    {
        return Err("type");
    }
    if ev.queue.is_empty() || ev.queue.len() > 64 {
        return Err("queue");
    }
    stored("call", &ev.call_id, ev.r#type, &ev.at, ev)
}

pub fn order_event_row(ev: &pb::OrderEvent) -> Result<EventRow, &'static str> {
    if ev.case_id.is_empty() || ev.case_id.len() > 128 {
        return Err("case_id");
    }
    if !matches!(pb::OrderEventType::try_from(ev.r#type), Ok(t) if t != pb::OrderEventType::OrderEventUnspecified)
    {
        return Err("type");
    }
    // A return names its reason and basis (Art. 13(2)).
    if ev.r#type == pb::OrderEventType::Returned as i32 && ev.reason.trim().is_empty() {
        return Err("reason");
    }
    stored("order", &ev.case_id, ev.r#type, &ev.at, ev)
}

/// The row of a checked event: keyed by its id, type and time, the
/// protobuf as body; events are not published.
fn stored(
    stream: &'static str,
    key: &str,
    event_type: i32,
    at: &Option<hotline_proto::Timestamp>,
    ev: &impl Message,
) -> Result<EventRow, &'static str> {
    Ok(EventRow {
        stream,
        key: key.to_string(),
        event_type,
        at_ms: at_ms(at)?,
        body: ev.encode_to_vec(),
        publish: None,
    })
}
