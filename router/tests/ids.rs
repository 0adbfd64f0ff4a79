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
    // Exactly 16 hex digits: 15 would parse as a number, but are no key.
    assert_eq!(case_key("GY20261127-00000000000002a"), None);
    assert_eq!(case_key("GY20261127-000000000000002a"), Some(42));
    assert_eq!(case_key("no dash"), None);
}

/// The contact key is xxh3-64 of the contact id (README.md, "Store
/// layout": the store's unique index), so keys differ with the ids (found
/// by cargo-mutants: a constant key passed every test).
#[test]
fn the_contact_key_is_xxh3_of_the_id() {
    for id in ["pbx-1-000042", "pbx-1-000043", "", "短信-7"] {
        assert_eq!(
            contact_key(id),
            xxhash_rust::xxh3::xxh3_64(id.as_bytes()),
            "{id}"
        );
    }
    assert_ne!(contact_key("a"), contact_key("b"));
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
