//! One test per reject reason: each contact is refused with its own code and field.
mod common;
use common::*;
use hotline_router::{decide, Channel, Contact, Reject};

fn check(c: Contact, code: &str, field: &str) {
    match decide(router(), &c, at("2026-11-26 10:00")) {
        Err(e) => {
            assert_eq!(e.code(), code, "{e}");
            assert_eq!(e.field(), field, "{e}");
            assert!(!e.to_string().is_empty());
        }
        Ok(d) => panic!("expected {code}, got a {:?} decision", d.route),
    }
}

fn ok() -> Contact {
    phone_contact("r1", "我要投诉小区物业", "510802")
}

#[test]
fn missing_contact_id() {
    check(
        Contact {
            contact_id: "  ".into(),
            ..ok()
        },
        "MISSING_CONTACT_ID",
        "contact_id",
    );
}

#[test]
fn invalid_contact_id() {
    check(
        Contact {
            contact_id: "x".repeat(129),
            ..ok()
        },
        "INVALID_CONTACT_ID",
        "contact_id",
    );
    check(
        Contact {
            contact_id: "a\nb".into(),
            ..ok()
        },
        "INVALID_CONTACT_ID",
        "contact_id",
    );
}

#[test]
fn empty_content() {
    check(
        Contact {
            content: "".into(),
            ..ok()
        },
        "EMPTY_CONTENT",
        "content",
    );
    check(
        Contact {
            content: " \u{3000}\t\n".into(),
            ..ok()
        },
        "EMPTY_CONTENT",
        "content",
    );
}

#[test]
fn content_too_long() {
    check(
        Contact {
            content: "投".repeat(2731),
            ..ok()
        },
        "CONTENT_TOO_LONG",
        "content",
    );
    // Exactly 8 KiB is still accepted.
    let c = Contact {
        content: "a".repeat(8192),
        ..ok()
    };
    assert!(decide(router(), &c, at("2026-11-26 10:00")).is_ok());
}

#[test]
fn missing_received_at() {
    check(
        Contact {
            received_at: None,
            ..ok()
        },
        "MISSING_RECEIVED_AT",
        "received_at",
    );
}

#[test]
fn received_in_future() {
    check(
        Contact {
            received_at: Some(at("2026-11-26 10:06")),
            ..ok()
        },
        "RECEIVED_IN_FUTURE",
        "received_at",
    );
    // Up to five minutes of clock skew is tolerated.
    let c = Contact {
        received_at: Some(at("2026-11-26 10:05")),
        ..ok()
    };
    assert!(decide(router(), &c, at("2026-11-26 10:00")).is_ok());
}

#[test]
fn unknown_channel() {
    check(
        Contact {
            channel: None,
            ..ok()
        },
        "UNKNOWN_CHANNEL",
        "channel",
    );
}

#[test]
fn missing_caller_per_channel() {
    let mut c = ok();
    c.caller.phone.clear();
    check(c.clone(), "MISSING_CALLER", "caller.phone");
    c.channel = Some(Channel::Sms);
    check(c.clone(), "MISSING_CALLER", "caller.phone");
    c.channel = Some(Channel::Wechat);
    check(c.clone(), "MISSING_CALLER", "caller.wechat_openid");
    c.channel = Some(Channel::Web);
    check(c.clone(), "MISSING_CALLER", "caller.account_id");
    c.channel = Some(Channel::App);
    check(c.clone(), "MISSING_CALLER", "caller.account_id");
    c.channel = Some(Channel::Platform);
    check(c.clone(), "MISSING_CALLER", "caller");
    c.channel = Some(Channel::Wechat);
    c.caller.wechat_openid = "oX1".into();
    assert!(decide(router(), &c, at("2026-11-26 10:00")).is_ok());
}

#[test]
fn invalid_phone() {
    let mut c = ok();
    c.caller.phone = "12345".into();
    check(c, "INVALID_PHONE", "caller.phone");
}

#[test]
fn every_code_is_listed() {
    let all = [
        Reject::MissingContactId,
        Reject::InvalidContactId,
        Reject::EmptyContent,
        Reject::ContentTooLong(1),
        Reject::MissingReceivedAt,
        Reject::ReceivedInFuture(1),
        Reject::ReceivedTooOld {
            age_days: 9,
            limit_days: 3,
        },
        Reject::InvalidDistrict("x".into()),
        Reject::InvalidField("location.address"),
        Reject::UnknownChannel,
        Reject::MissingCaller {
            channel: Channel::Phone,
            field: "caller.phone",
        },
        Reject::InvalidPhone,
    ];
    let codes: Vec<_> = all.iter().map(Reject::code).collect();
    assert_eq!(codes, Reject::CODES);
}

/// Limits are inclusive — a contact id of 128 bytes and a field of 512 are
/// accepted, one byte more is refused — and only the address may hold a
/// line break; an id-like field may not (found by cargo-mutants: the
/// boundaries and the address's exception were never looked at).
#[test]
fn field_limits_are_inclusive_and_only_the_address_may_hold_a_line_break() {
    let decided = |c: Contact| decide(router(), &c, at("2026-11-26 10:00")).is_ok();
    assert!(decided(Contact {
        contact_id: "x".repeat(128),
        ..ok()
    }));
    let mut c = ok();
    c.location.address = "路".repeat(170) + "xx";
    assert_eq!(c.location.address.len(), 512);
    assert!(decided(c.clone()));
    c.location.address.push('x');
    check(c, "INVALID_FIELD", "location.address");
    let mut c = ok();
    c.location.address = "利州区东坝\n幸福小区".into();
    assert!(decided(c), "a line break in the address");
    let mut c = ok();
    c.call_id = "call\n1".into();
    check(c, "INVALID_FIELD", "call_id");
    let mut c = ok();
    c.location.address = "利州区\u{0007}东坝".into();
    check(c, "INVALID_FIELD", "location.address");
    let mut c = ok();
    c.call_id = "c".repeat(512);
    assert!(decided(c.clone()));
    c.call_id.push('c');
    check(c, "INVALID_FIELD", "call_id");
}
