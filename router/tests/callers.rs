//! The callers' index of dedup (`dedup::callers`): one caller known by
//! several identities, the bounds and evictions, and the expiry of old
//! contacts. Found by cargo-mutants: merging two known callers, a stale
//! expiry record of a reused slot, and the expiry's edges were reached
//! only through whole-index tests that never exercised them.
use hotline_router::dedup::callers::{Callers, CaseRef, Entry};

const PHONE: u64 = 11;
const WECHAT: u64 = 22;

fn entry(contact: u64, at: i64) -> Entry {
    let case = CaseRef {
        date: 20261102,
        hash: contact,
    };
    Entry {
        contact,
        case,
        chain: case,
        opens_case: true,
        at,
        category: 1,
        district: 1,
        features: Default::default(),
        types: Default::default(),
        escalated: false,
    }
}

/// The caller of `idents`, with a contact of theirs stored at `at`.
fn called(c: &mut Callers, idents: [u64; 3], contact: u64, at: i64) -> u32 {
    let slot = c.resolve(&idents);
    c.push(slot, entry(contact, at));
    slot
}

fn contacts(c: &Callers, slot: u32) -> Vec<u64> {
    c.entries(slot).iter().map(|e| e.contact).collect()
}

/// A caller first seen by phone, then by WeChat, is one caller once a
/// contact carries both: one slot, both histories in time order, either
/// identity finding it.
#[test]
fn two_known_identities_on_one_contact_merge_into_one_caller() {
    let mut c = Callers::new(100, 32);
    assert!(c.is_empty());
    let by_wechat = called(&mut c, [0, WECHAT, 0], 1, 100);
    let by_phone = called(&mut c, [PHONE, 0, 0], 2, 200);
    assert_ne!(by_phone, by_wechat);
    assert_eq!(c.len(), 2);
    assert!(!c.is_empty());

    let both = c.resolve(&[PHONE, WECHAT, 0]);
    assert_eq!(c.len(), 1, "one caller");
    assert_eq!(contacts(&c, both), [1, 2], "both histories, oldest first");
    assert_eq!(c.resolve(&[0, WECHAT, 0]), both);
    assert_eq!(c.resolve(&[PHONE, 0, 0]), both);
    // The same identities again change nothing.
    assert_eq!(c.resolve(&[PHONE, WECHAT, 0]), both);
    assert_eq!(c.len(), 1);
}

/// An evicted caller is forgotten under every identity: calling again, it
/// is a new caller with no history, even when its slot was reused.
#[test]
fn an_evicted_caller_is_forgotten_under_its_identities() {
    let mut c = Callers::new(1, 32);
    called(&mut c, [PHONE, 0, 0], 1, 100);
    let second = called(&mut c, [0, WECHAT, 0], 2, 200);
    assert_eq!(c.len(), 1);
    assert_eq!(c.evicted_callers, 1);
    assert_eq!(contacts(&c, second), [2]);
    let again = c.resolve(&[PHONE, 0, 0]);
    assert!(
        contacts(&c, again).is_empty(),
        "no history of another caller"
    );
}

/// A caller resolved before any contact of theirs is stored holds nothing
/// to evict: a new caller past the bound is still taken.
#[test]
fn a_caller_with_nothing_stored_does_not_stop_new_callers() {
    let mut c = Callers::new(1, 32);
    let a = c.resolve(&[PHONE, 0, 0]);
    let b = c.resolve(&[0, WECHAT, 0]);
    assert_ne!(a, b);
    assert_eq!(c.len(), 2);
}

/// After a merge the absorbed slot is reused by another caller; the
/// expiry records left for the old occupant must not evict the new one.
#[test]
fn a_reused_slot_is_not_evicted_for_its_previous_occupant() {
    let mut c = Callers::new(2, 32);
    called(&mut c, [0, WECHAT, 0], 1, 100);
    called(&mut c, [PHONE, 0, 0], 2, 200);
    let merged = c.resolve(&[PHONE, WECHAT, 0]);
    let q = called(&mut c, [33, 0, 0], 3, 300);
    assert_eq!(c.len(), 2);
    // A third caller: the oldest live one (the merged caller) goes.
    let r = called(&mut c, [44, 0, 0], 4, 400);
    assert_eq!(c.evicted_callers, 1);
    let q_again = c.resolve(&[33, 0, 0]);
    assert_eq!(q_again, q);
    assert_eq!(contacts(&c, q), [3], "the newer caller stays");
    assert_eq!(contacts(&c, r), [4]);
    assert_ne!(q, merged);
}

/// Expiry forgets the contacts at or before the cutoff, keeps the newer
/// ones of the same caller and the ones `held` keeps, and forgets a caller
/// left with none.
#[test]
fn expiry_forgets_contacts_at_or_before_the_cutoff_and_keeps_the_rest() {
    let mut c = Callers::new(100, 32);
    // Contacts come in time order (the index applies them so).
    let a = called(&mut c, [PHONE, 0, 0], 1, 100);
    called(&mut c, [0, WECHAT, 0], 3, 200);
    c.push(a, entry(2, 300));
    c.expire(200, 1_000, |_| false);
    assert_eq!(
        contacts(&c, a),
        [2],
        "the contact at the cutoff is forgotten too"
    );
    assert_eq!(c.len(), 1, "a caller left with nothing is forgotten");
    // A held contact stays past the cutoff.
    let d = called(&mut c, [55, 0, 0], 5, 400);
    c.expire(500, 1_000, |e| e.contact == 5);
    assert_eq!(contacts(&c, d), [5]);
    assert!(contacts(&c, a).is_empty());
}

/// Case ids that `decide` does not make do not parse as case references.
#[test]
fn only_well_formed_case_ids_parse() {
    assert!(CaseRef::parse("GY", "GY20261102-0123456789abcdef").is_some());
    for bad in [
        "GY2026110-0123456789abcdef",
        "GY20261102-0123456789abcde",
        "GY2026110-0123456789abcde",
        "GY20261102",
        "XX20261102-0123456789abcdef",
    ] {
        assert!(CaseRef::parse("GY", bad).is_none(), "{bad}");
    }
}
