//! Crash safety: `kill -9` in the middle of a stream of 10 000 contacts, a
//! restart on the same data directory, and a full resubmit. Every contact
//! acknowledged before the crash is stored exactly once; afterwards every
//! contact has exactly one decision and no case is duplicated.
mod support;
use hotline_proto::v1 as pb;
use std::collections::{HashMap, HashSet};
use support::*;

const N: usize = 10_000;

fn contacts() -> Vec<pb::Contact> {
    mixed_contacts("crash", N)
}

async fn stream_all(
    d: &Daemon,
    cs: Vec<pb::Contact>,
    kill_after: Option<usize>,
    pid: u32,
) -> Vec<pb::Ack> {
    let mut c = d.client().await;
    let mut s = c
        .submit_stream(tokio_stream::iter(cs))
        .await
        .expect("stream")
        .into_inner();
    let mut acks = Vec::new();
    while let Ok(Some(a)) = s.message().await {
        acks.push(a);
        if Some(acks.len()) == kill_after {
            let _ = std::process::Command::new("kill")
                .arg("-9")
                .arg(pid.to_string())
                .status();
        }
    }
    acks
}

#[test]
fn kill_9_mid_stream_loses_and_duplicates_nothing() {
    let dir = temp_dir("crash");
    let rt = rt();

    let d = Daemon::start_in(&dir, None);
    let pid = d.child.id();
    let before = rt.block_on(stream_all(&d, contacts(), Some(3000), pid));
    d.kill9();
    assert!(
        before.len() >= 3000 && before.len() < N,
        "killed mid-way after {} acks",
        before.len()
    );
    let acked: HashMap<String, String> = before
        .iter()
        .filter(|a| a.error.is_none())
        .map(|a| (a.contact_id.clone(), a.case_id.clone()))
        .collect();

    let d = Daemon::start_in(&dir, None);
    let after = rt.block_on(stream_all(&d, contacts(), None, 0));
    assert_eq!(after.len(), N, "every contact acknowledged after restart");
    for a in &after {
        assert!(a.error.is_none(), "{a:?}");
        if let Some(case) = acked.get(&a.contact_id) {
            assert!(
                a.duplicate,
                "{} was acknowledged before the crash, so it must be stored",
                a.contact_id
            );
            assert_eq!(&a.case_id, case);
        }
    }
    assert!(d.terminate().success());

    let stored = stored_decisions(&dir.join("data"));
    assert_eq!(stored.len(), N, "exactly one decision per contact");
    let ids: HashSet<&str> = stored
        .iter()
        .filter_map(|v| v["contactId"].as_str())
        .collect();
    let cases: HashSet<&str> = stored.iter().filter_map(|v| v["caseId"].as_str()).collect();
    assert_eq!(ids.len(), N);
    assert_eq!(cases.len(), N, "no case duplicated");
}
