//! `replay` never panics, whatever bytes it is fed, and always answers one
//! line per non-blank input line.
use hotline_ingest::cmd::replay::replay;
use hotline_router::Router;
use proptest::prelude::*;
use std::sync::OnceLock;

fn router() -> &'static Router {
    static R: OnceLock<Router> = OnceLock::new();
    R.get_or_init(|| Router::embedded().unwrap_or_else(|e| panic!("{e:?}")))
}

fn lines_out(input: &[u8]) -> (usize, usize) {
    let mut out = Vec::new();
    let stats = replay(router(), input, &mut out).expect("in-memory io");
    let expected = input
        .split(|b| *b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .count();
    assert_eq!(stats.lines as usize, expected);
    (out.iter().filter(|b| **b == b'\n').count(), expected)
}

const SEED: &str = r#"{"contactId":"x1","channel":"PHONE","receivedAt":"2026-11-26T02:00:00Z","caller":{"phone":"13800138000"},"content":"我要投诉小区物业","kindHint":"COMPLAINT","location":{"districtCode":"510802"},"attributes":{"k":"v"}}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (got, expected) = lines_out(&input);
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn mutated_contacts(pos in 0usize..SEED.len(), len in 0usize..16, junk in proptest::collection::vec(any::<u8>(), 0..16)) {
        let mut bytes = SEED.as_bytes().to_vec();
        let end = (pos + len).min(bytes.len());
        bytes.splice(pos..end, junk);
        let (got, expected) = lines_out(&bytes);
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn arbitrary_field_values(
        id in ".{0,200}", content in ".{0,300}", phone in ".{0,30}",
        secs in any::<i64>(), nanos in any::<i32>(), channel in -2i32..10, kind in -2i32..10,
    ) {
        let v = serde_json::json!({
            "contactId": id, "channel": channel, "kindHint": kind, "content": content,
            "caller": {"phone": phone}, "receivedAt": null,
        });
        let mut line = serde_json::to_vec(&v).expect("json");
        line.push(b'\n');
        let (got, expected) = lines_out(&line);
        // One line in, exactly one answer (a decision or an error) out.
        prop_assert_eq!(expected, 1);
        prop_assert_eq!(got, 1);
        // Out-of-range timestamps through the wire type as well: refused
        // or kept exactly, never shifted.
        let c = hotline_proto::v1::Contact { received_at: Some(hotline_proto::Timestamp { seconds: secs, nanos }), ..Default::default() };
        let valid = (0..1_000_000_000).contains(&nanos) && (-62_135_596_800..=253_402_300_799).contains(&secs);
        match hotline_ingest::wire::contact_from(&c) {
            Ok(x) => {
                prop_assert!(valid, "accepted an invalid timestamp {secs}.{nanos}");
                prop_assert_eq!(x.received_at.map(|t| t.timestamp()), Some(secs));
            }
            Err(_) => prop_assert!(!valid, "refused a valid timestamp {secs}.{nanos}"),
        }
    }
}
