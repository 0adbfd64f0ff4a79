//! Hardening through the real daemon: ids and fields that could mislead a
//! reader or fill the store are refused, so are contacts dated long ago
//! (idempotency holds over the retention period: a contact old enough to
//! have been purged can never be decided again as a new case), and the
//! store's files are the owner's alone.
mod support;
use hotline_proto::v1 as pb;
use std::os::unix::fs::PermissionsExt;
use support::*;

/// The refusal of one contact: (code, reject reason in the message).
fn refusal(d: &Daemon, c: pb::Contact) -> (tonic::Code, String) {
    rt().block_on(async {
        match d.client().await.submit(c).await {
            Ok(r) => panic!("accepted: {:?}", r.into_inner().contact_id),
            Err(s) => (s.code(), s.message().to_string()),
        }
    })
}

fn accepted(d: &Daemon, c: pb::Contact) -> pb::Decision {
    rt().block_on(async {
        d.client()
            .await
            .submit(c)
            .await
            .unwrap_or_else(|s| panic!("refused: {s:?}"))
            .into_inner()
    })
}

#[test]
fn misleading_ids_bad_districts_and_oversized_fields_are_refused() {
    let dir = temp_dir("hardening-fields");
    let d = Daemon::start_in(&dir, None);
    for (id, why) in [
        ("abc\u{202E}cba", "right-to-left override"),
        ("ab\u{200B}c", "zero-width space"),
        ("a\u{2066}b", "isolate"),
        ("a\u{7}b", "control"),
    ] {
        let (code, msg) = refusal(&d, contact(id, "小区路灯坏了好几天了"));
        assert_eq!(code, tonic::Code::InvalidArgument, "{why}");
        assert!(msg.starts_with("INVALID_CONTACT_ID"), "{why}: {msg}");
    }
    let long = "9".repeat(10_000);
    for code in ["abc", "../../etc/passwd", "999999", long.as_str()] {
        let mut c = contact("dist-x", "小区路灯坏了好几天了");
        c.location = Some(pb::Location {
            district_code: code.into(),
            address: String::new(),
        });
        let (status, msg) = refusal(&d, c);
        assert_eq!(status, tonic::Code::InvalidArgument);
        assert!(msg.starts_with("INVALID_DISTRICT"), "{msg}");
        assert!(
            msg.len() < 200,
            "the bad value is not echoed whole: {} bytes",
            msg.len()
        );
    }
    // The city's own code and an empty one are fine.
    for (i, code) in ["510800", "", "510823"].iter().enumerate() {
        let mut c = contact(&format!("dist-ok-{i}"), "小区路灯坏了好几天了");
        c.location = Some(pb::Location {
            district_code: (*code).into(),
            address: String::new(),
        });
        accepted(&d, c);
    }
    let mut c = contact("addr-long", "小区路灯坏了好几天了");
    c.location = Some(pb::Location {
        district_code: "510802".into(),
        address: "街".repeat(400),
    });
    let (_, msg) = refusal(&d, c);
    assert!(msg.starts_with("INVALID_FIELD"), "{msg}");
}

#[test]
fn contacts_dated_long_ago_are_refused_per_origin() {
    let dir = temp_dir("hardening-age");
    let d = Daemon::start_in(&dir, None);
    let day = 86_400;
    let at = |id: &str, days_ago: i64, origin: pb::Origin| {
        let mut c = contact(id, "小区路灯坏了好几天了");
        c.received_at = ts(now_secs() - days_ago * day);
        c.origin = origin as i32;
        if origin != pb::Origin::Local {
            c.channel = pb::Channel::Platform as i32;
        }
        c
    };
    accepted(&d, at("age-2d", 2, pb::Origin::Local));
    for (id, days) in [("age-4d", 4), ("age-800d", 800)] {
        let (code, msg) = refusal(&d, at(id, days, pb::Origin::Local));
        assert_eq!(code, tonic::Code::InvalidArgument);
        assert!(msg.starts_with("RECEIVED_TOO_OLD"), "{msg}");
    }
    // Year 1.
    let mut c = contact("age-year-1", "小区路灯坏了好几天了");
    c.received_at = Some(hotline_proto::Timestamp {
        seconds: -62_135_596_800,
        nanos: 0,
    });
    let (_, msg) = refusal(&d, c);
    assert!(msg.starts_with("RECEIVED_TOO_OLD"), "{msg}");
    // Platform orders may be older.
    accepted(&d, at("age-p20", 20, pb::Origin::Provincial));
    let (_, msg) = refusal(&d, at("age-p40", 40, pb::Origin::Provincial));
    assert!(msg.starts_with("RECEIVED_TOO_OLD"), "{msg}");
}

#[test]
fn the_store_is_the_owners_alone() {
    let dir = temp_dir("hardening-perms");
    let d = Daemon::start_in(&dir, None);
    accepted(&d, contact("perm-1", "小区路灯坏了好几天了"));
    let data = d.dir.join("data");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data directory");
    assert_eq!(mode(&data.join("hotline.db")), 0o600, "database");
    let wal = data.join("hotline.db-wal");
    assert!(
        wal.exists(),
        "WAL mode: the log exists while the daemon runs"
    );
    assert_eq!(mode(&wal), 0o600, "write-ahead log");
}

/// Without `$HOTLINE_CALLER_SECRET` the daemon never uses the built-in
/// key: it creates the data directory's own (32 random bytes, 0600) and
/// keeps using it across restarts, so pseudonyms stay stable and cannot be
/// reversed by someone who knows the source. Offline commands without a
/// key print no pseudonym at all.
#[test]
fn caller_pseudonyms_use_the_data_directorys_own_key() {
    let dir = temp_dir("hardening-key");
    let d = Daemon::start_in(&dir, None);
    let first = accepted(&d, contact("key-1", "小区路灯坏了好几天了"));
    let key = dir.join("data/caller.key");
    let bytes = std::fs::read(&key).expect("caller.key");
    assert_eq!(bytes.len(), 32);
    let mode = std::fs::metadata(&key).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!first.caller_ref.is_empty());
    assert!(d.terminate().success());
    let d = Daemon::start_in(&dir, None);
    let again = accepted(&d, contact("key-2", "小区门口的垃圾好几天没人收"));
    assert_eq!(
        again.caller_ref, first.caller_ref,
        "the same caller after a restart"
    );
    assert_eq!(
        std::fs::read(&key).expect("caller.key"),
        bytes,
        "the key is kept"
    );
    // Another data directory, another key: the pseudonym is not a
    // function of the phone number alone.
    let other_dir = temp_dir("hardening-key-2");
    let other = Daemon::start_in(&other_dir, None);
    let there = accepted(&other, contact("key-3", "小区路灯坏了好几天了"));
    assert_ne!(there.caller_ref, first.caller_ref);

    // `hotlined replay` without a key: no pseudonym in its output.
    let line = r#"{"contactId":"r1","channel":"PHONE","receivedAt":"2026-11-26T02:00:00Z","caller":{"phone":"13800138000"},"content":"小区路灯坏了好几天了","location":{"districtCode":"510802"}}"#;
    let mut child = std::process::Command::new(BIN)
        .arg("replay")
        .env_remove("HOTLINE_CALLER_SECRET")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("replay");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{line}").expect("write");
    }
    let out = child.wait_with_output().expect("replay output");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a decision");
    assert!(v.get("caseId").is_some(), "{v}");
    assert!(
        v.get("callerRef").is_none_or(|r| r.as_str() == Some("")),
        "no pseudonym without a key: {v}"
    );
}

/// Tokens in clear beyond loopback are refused unless the operator says a
/// TLS proxy is in front; a TLS key others can read is refused.
#[test]
fn tokens_in_clear_and_readable_tls_keys_are_refused() {
    let dir = temp_dir("hardening-tls");
    let check = |text: &str| -> (bool, String) {
        let p = dir.join("c.toml");
        std::fs::write(&p, text).expect("write");
        let out = std::process::Command::new(BIN)
            .arg("check-config")
            .arg(&p)
            .output()
            .expect("check-config");
        let all = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), all)
    };
    let token = "[[auth.tokens]]\nrole = \"gateway\"\nsha256 = \"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\"\n";
    let (ok, out) = check(&format!("[server]\ngrpc_addr = \"0.0.0.0:50051\"\n{token}"));
    assert!(!ok && out.contains("in clear"), "{out}");
    let (ok, out) = check(&format!(
        "[server]\ngrpc_addr = \"0.0.0.0:50051\"\n[privacy]\nallow_plaintext_tokens = true\n{token}"
    ));
    assert!(ok, "{out}");
    let (ok, out) = check(&format!(
        "[server]\ngrpc_addr = \"127.0.0.1:50051\"\n{token}"
    ));
    assert!(ok, "{out}");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, "cert").expect("write");
    std::fs::write(&key, "key").expect("write");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let tls = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let (ok, out) = check(&tls);
    assert!(!ok && out.contains("readable by other users"), "{out}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (_, out) = check(&tls);
    assert!(!out.contains("readable by other users"), "{out}");
}
