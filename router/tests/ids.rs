//! The formats of the ids a decision carries: case id (prefix, local date,
//! 16 hex digits of the contact key) and caller pseudonym (32 hex digits of
//! a keyed BLAKE3 hash).
use chrono::{TimeZone, Utc};
use hotline_router::decide::{caller_ref, case_id, case_key, contact_key};

#[test]
fn case_id_carries_the_shanghai_date_and_the_contact_key() {
    // 20:00 UTC on the 26th is the 27th in Shanghai.
    let at = Utc.with_ymd_and_hms(2026, 11, 26, 20, 0, 0).unwrap();
    let id = case_id("GY", at, "pbx-1-000042");
    let key = contact_key("pbx-1-000042");
    assert_eq!(id, format!("GY20261127-{key:016x}"));
    assert_eq!(case_key(&id), Some(key));
    let jan = Utc.with_ymd_and_hms(2027, 1, 5, 1, 0, 0).unwrap();
    assert!(case_id("X", jan, "c").starts_with("X20270105-"));
    assert_eq!(case_key("GY20261127-xyz"), None);
}

#[test]
fn caller_ref_is_the_hex_of_the_keyed_hash() {
    let secret = [7u8; 32];
    let r = caller_ref(&secret, "+8613800138000");
    let h = blake3::keyed_hash(&secret, b"+8613800138000");
    let want: String = h.as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r, want);
    assert_eq!(r.len(), 32);
}
