//! The life of a case through a real daemon (README.md, "Order events"):
//! returns and re-dispatch, a case assigned by leadership, reviewed
//! extensions, completion, a return visit and re-handling; bad events
//! refused with their status and code, counted and not stored; every clock
//! where it was after kill -9; and `hotlined report` equal to the live
//! per-unit counters.
mod support;
use hotline_proto::v1 as pb;
use std::process::Command;
use support::*;

fn ev(case_id: &str, t: pb::OrderEventType, at: i64) -> pb::OrderEvent {
    pb::OrderEvent {
        case_id: case_id.into(),
        r#type: t as i32,
        at: ts(at),
        ..Default::default()
    }
}

/// Submits a contact received at `at` (unix seconds); its decision.
fn submit_at(d: &Daemon, id: &str, text: &str, at: i64) -> pb::Decision {
    let mut x = contact(id, text);
    x.received_at = ts(at);
    rt().block_on(d.submit(x))
}

fn send(d: &Daemon, evs: Vec<pb::OrderEvent>) -> pb::OrderEventsSummary {
    rt().block_on(d.order_events(evs))
}

fn report(dir: &std::path::Path, format: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "report",
            "--from",
            "2020-01-01",
            "--to",
            "2099-12-31",
            "--format",
            format,
        ])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .output()
        .expect("report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_case_is_returned_redispatched_extended_completed_revisited_and_rehandled() {
    use pb::OrderEventType as T;
    let dir = temp_dir("case-life");
    let d = Daemon::start_in(&dir, None);
    // A complaint received two hours ago.
    let r = now_secs() - 7200;
    let dec = submit_at(&d, "life-1", "我要投诉小区物业，电梯坏了一个月都没人修", r);
    assert_eq!(dec.route, pb::RouteKind::WorkOrder as i32, "{dec:?}");
    let case = dec.case_id.clone();
    // Its 10-minute dispatch limit passed long ago.
    assert_eq!(
        d.wait_metric("hotline_alerts_total{kind=\"OVERDUE\"} ", 1.0),
        1.0
    );
    let first = dec.lead_unit.clone();
    assert!(!first.is_empty());
    let other = "510800.scjg".to_string();

    let mut returned = ev(&case, T::Returned, r + 600);
    let no_reason = returned.clone();
    returned.reason = "不属于本单位职责：停车收费归市场监管".into();
    let mut redispatch = ev(&case, T::Dispatched, r + 700);
    redispatch.unit = other.clone();
    let mut dispatched = ev(&case, T::Dispatched, r + 120);
    dispatched.unit = first.clone();
    let mut extension = ev(&case, T::ExtensionRequested, r + 1200);
    extension.extension_days = 1;
    let mut late_return = ev(&case, T::Returned, r + 3000);
    late_return.reason = "再退".into();
    let s = send(
        &d,
        vec![
            dispatched,
            ev(&case, T::Signed, r + 300),
            no_reason,
            returned,
            redispatch,
            ev(&case, T::Signed, r + 900),
            ev(&case, T::ExtensionApproved, r + 1000),
            extension,
            ev(&case, T::Dispatched, r - 60),
            ev("GY-NO-SUCH-CASE", T::Signed, r + 1000),
            late_return,
        ],
    );
    let codes: Vec<(u64, &str, &str)> = s
        .rejections
        .iter()
        .map(|x| (x.index, x.status.as_str(), x.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (2, "INVALID_ARGUMENT", "INVALID_EVENT"),
            (6, "FAILED_PRECONDITION", "NO_EXTENSION_PENDING"),
            (8, "INVALID_ARGUMENT", "BEFORE_INTAKE"),
            (9, "FAILED_PRECONDITION", "UNKNOWN_CASE"),
            (10, "FAILED_PRECONDITION", "LATE_RETURN"),
        ]
    );
    assert_eq!((s.accepted, s.rejected, s.extensions_pending), (6, 5, 1));
    assert!(s.rejections[0].detail.contains("reason"));
    // The late return raised its OVERDUE "return" alert (counted as overdue).
    assert_eq!(
        d.wait_metric("hotline_alerts_total{kind=\"OVERDUE\"} ", 2.0),
        2.0
    );
    assert_eq!(
        d.metric("hotline_events_total{stream=\"order\",outcome=\"rejected\"} "),
        5.0
    );

    // 批办: from now on the case may not be returned.
    let mut ret = ev(&case, T::Returned, r + 1500);
    ret.reason = "不归我们管".into();
    let s = send(&d, vec![ev(&case, T::AssignedByLeadership, r + 1400), ret]);
    assert_eq!(s.rejections.len(), 1);
    assert_eq!(s.rejections[0].code, "ASSIGNED_BY_LEADERSHIP");
    assert_eq!(
        d.wait_metric("hotline_alerts_total{kind=\"RETURN_REFUSED\"} ", 1.0),
        1.0
    );

    // kill -9 with the extension pending: after the restart it is still
    // pending (an approval is accepted) and a second request is refused.
    d.kill9();
    let d = Daemon::start_in(&dir, None);
    assert_eq!(
        d.wait_metric("hotline_open_cases{tenant=\"510800\"} ", 1.0),
        1.0
    );
    let mut again = ev(&case, T::ExtensionRequested, r + 1600);
    again.extension_days = 1;
    let s = send(
        &d,
        vec![
            again,
            ev(&case, T::ExtensionApproved, r + 1700),
            ev(&case, T::Completed, r + 3600),
        ],
    );
    assert_eq!(
        (s.accepted, s.extensions_granted, s.rejected),
        (2, 1, 1),
        "{s:?}"
    );
    assert_eq!(s.rejections[0].code, "EXTENSION_PENDING");
    assert_eq!(
        d.wait_metric("hotline_open_cases{tenant=\"510800\"} ", 0.0),
        0.0
    );

    // The visit: unsatisfied re-opens it for the same unit (特提).
    let mut visit = ev(&case, T::Revisited, r + 5400);
    visit.satisfaction = pb::Satisfaction::Unsatisfied as i32;
    let s = send(&d, vec![visit.clone()]);
    assert_eq!((s.accepted, s.rejected), (1, 0));
    assert_eq!(
        d.wait_metric("hotline_open_cases{tenant=\"510800\"} ", 1.0),
        1.0
    );
    visit.at = ts(r + 5500);
    let s = send(&d, vec![visit]);
    assert_eq!(s.rejections[0].code, "CASE_NOT_COMPLETED");

    // The live per-unit counters and the report from the store agree.
    let live = |unit: &str, m: &str| {
        d.metric_with(&[
            "hotline_unit_cases_total{",
            &format!("unit=\"{unit}\""),
            &format!("measure=\"{m}\""),
        ])
        .unwrap_or(0.0)
    };
    let csv = report(&dir, "csv");
    eprintln!("hotlined report:\n{csv}");
    let header: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
    let row = |unit: &str| -> Vec<String> {
        csv.lines()
            .find(|l| l.starts_with(&format!("{unit},")))
            .unwrap_or_else(|| panic!("no row for {unit}:\n{csv}"))
            .split(',')
            .map(String::from)
            .collect()
    };
    let col = |unit: &str, m: &str| -> String {
        let i = header.iter().position(|h| *h == m).unwrap_or(0);
        row(unit)[i].clone()
    };
    for (unit, m, want) in [
        (first.as_str(), "received", "1"),
        (first.as_str(), "signed_on_time", "1"),
        (first.as_str(), "returned", "1"),
        (other.as_str(), "received", "1"),
        (other.as_str(), "signed_on_time", "1"),
        (other.as_str(), "extension_requested", "1"),
        (other.as_str(), "extension_approved", "1"),
        (other.as_str(), "completed_on_time", "1"),
        (other.as_str(), "unsatisfied", "1"),
        (other.as_str(), "rehandled", "1"),
        (other.as_str(), "overdue", "0"),
    ] {
        assert_eq!(col(unit, m), want, "{unit} {m}\n{csv}");
    }
    // The live counters since the restart equal the report's for what
    // happened since (the extension approval, completion, visit, re-handling).
    for m in [
        "extension_approved",
        "completed_on_time",
        "unsatisfied",
        "rehandled",
    ] {
        assert_eq!(live(&other, m), 1.0, "{m}");
    }
    let json: serde_json::Value = serde_json::from_str(&report(&dir, "json")).expect("json");
    let total = json
        .as_array()
        .and_then(|a| a.iter().find(|o| o["unit"] == "TOTAL"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(total["received"], 2);
    assert_eq!(total["returned"], 1);
}

/// kill -9 between any two events of a case's life: after each restart the
/// case is where it was — the probes its state must refuse are refused, the
/// next event is accepted — and the per-unit table equals that of a daemon
/// that was never stopped.
#[test]
fn every_clock_and_count_survives_kill9_between_any_two_events() {
    use pb::OrderEventType as T;
    let r = now_secs() - 86_400;
    let case_of = |d: &Daemon, id: &str| {
        submit_at(d, id, "我要投诉小区物业，电梯坏了一个月都没人修", r).case_id
    };
    // (event, minutes after intake, unit, probe refused after it with this code)
    let with = |t: T, min: i64| -> pb::OrderEvent {
        let mut e = ev("", t, r + min * 60);
        if t == T::Returned {
            e.reason = "非本单位职责".into();
        }
        if t == T::ExtensionRequested {
            e.extension_days = 1;
        }
        e
    };
    let mut revisit = with(T::Revisited, 300);
    revisit.satisfaction = pb::Satisfaction::Unsatisfied as i32;
    let mut revisit2 = with(T::Revisited, 500);
    revisit2.satisfaction = pb::Satisfaction::Satisfied as i32;
    let mut redispatch = with(T::Dispatched, 20);
    redispatch.unit = "510800.scjg".into();
    let steps: Vec<(pb::OrderEvent, Option<(pb::OrderEvent, &str)>)> = vec![
        (
            with(T::Dispatched, 2),
            Some((with(T::Revisited, 3), "CASE_NOT_COMPLETED")),
        ),
        (with(T::Signed, 5), None),
        (
            with(T::Returned, 10),
            Some((with(T::Returned, 11), "NOT_DISPATCHED")),
        ),
        (redispatch, None),
        (with(T::Signed, 25), None),
        (
            with(T::AssignedByLeadership, 30),
            Some((with(T::Returned, 31), "ASSIGNED_BY_LEADERSHIP")),
        ),
        (
            with(T::ExtensionRequested, 60),
            Some((with(T::ExtensionRequested, 61), "EXTENSION_PENDING")),
        ),
        (
            with(T::ExtensionApproved, 90),
            Some((with(T::ExtensionRejected, 91), "NO_EXTENSION_PENDING")),
        ),
        (
            with(T::Completed, 200),
            Some((with(T::Signed, 201), "CASE_COMPLETED")),
        ),
        (revisit, None),
        (with(T::Completed, 400), None),
        (revisit2, None),
    ];

    // The same life without a stop, for the reference table.
    let calm = temp_dir("life-calm");
    let d = Daemon::start_in(&calm, None);
    let case = case_of(&d, "calm-1");
    for (e, _) in &steps {
        let mut e = e.clone();
        e.case_id = case.clone();
        assert_eq!(send(&d, vec![e.clone()]).accepted, 1, "{e:?}");
    }
    d.terminate();

    let dir = temp_dir("life-kill9");
    let mut d = Daemon::start_in(&dir, None);
    let case = case_of(&d, "kill-1");
    for (i, (e, probe)) in steps.iter().enumerate() {
        let mut e = e.clone();
        e.case_id = case.clone();
        let s = send(&d, vec![e.clone()]);
        assert_eq!((s.accepted, s.rejected), (1, 0), "step {i}: {e:?} {s:?}");
        d.kill9();
        d = Daemon::start_in(&dir, None);
        if let Some((p, code)) = probe {
            let mut p = p.clone();
            p.case_id = case.clone();
            let s = send(&d, vec![p]);
            let got: Vec<&str> = s.rejections.iter().map(|x| x.code.as_str()).collect();
            assert_eq!(got, vec![*code], "after step {i} and a restart");
        }
    }
    d.terminate();
    let strip = |csv: String| -> Vec<String> { csv.lines().map(String::from).collect() };
    let table = strip(report(&calm, "csv"));
    // Two units, then TOTAL: received twice, returned once, re-handled once.
    assert_eq!(table.len(), 4, "{table:?}");
    assert!(
        table[3].starts_with("TOTAL,,2,2,0,1,2,0,0,1,1,1,0,1,1"),
        "{table:?}"
    );
    assert_eq!(strip(report(&dir, "csv")), table);
}

/// A sub-center transfer is a case the sub-center answers for (Art. 7(3)):
/// the kind's completion limit runs, OVERDUE counts against the
/// sub-center, and its COMPLETED closes the case.
#[test]
fn a_transfer_is_tracked_against_the_subcenter() {
    let dir = temp_dir("transfer");
    let d = Daemon::start_in(&dir, None);
    let dec = submit_at(
        &d,
        "tax-1",
        "请问个人所得税专项附加扣除怎么填报？",
        now_secs() - 7200,
    );
    assert_eq!(
        dec.route,
        pb::RouteKind::SubcenterTransfer as i32,
        "{dec:?}"
    );
    let line = dec
        .targets
        .first()
        .map(|t| t.code.clone())
        .unwrap_or_default();
    assert_eq!(line, "12366");
    assert!(dec.deadlines.as_ref().and_then(|x| x.complete_by).is_some());
    assert_eq!(
        d.wait_metric("hotline_open_cases{tenant=\"510800\"} ", 1.0),
        1.0
    );
    let overdue = [
        "hotline_unit_cases_total{",
        "unit=\"12366\"",
        "measure=\"overdue\"",
    ];
    assert_eq!(d.wait_metric_with(&overdue, 1.0), Some(1.0));
    let s = send(
        &d,
        vec![ev(&dec.case_id, pb::OrderEventType::Completed, now_secs())],
    );
    assert_eq!(s.accepted, 1);
    assert_eq!(
        d.wait_metric("hotline_open_cases{tenant=\"510800\"} ", 0.0),
        0.0
    );
    let late = [
        "hotline_unit_cases_total{",
        "unit=\"12366\"",
        "measure=\"completed_late\"",
    ];
    assert_eq!(d.wait_metric_with(&late, 1.0), Some(1.0));
}

/// A ticket system that retries a batch after a timeout sends events the
/// daemon already has: they are accepted (stored once, applied once), not
/// refused because the case has moved on.
#[test]
fn a_replayed_batch_is_accepted_and_applied_once() {
    use pb::OrderEventType as T;
    let dir = temp_dir("replayed-batch");
    let d = Daemon::start_in(&dir, None);
    let r = now_secs() - 3600;
    let case = submit_at(
        &d,
        "replay-1",
        "我要投诉小区物业，电梯坏了一个月都没人修",
        r,
    )
    .case_id;
    let mut returned = ev(&case, T::Returned, r + 600);
    returned.reason = "非本单位职责".into();
    let mut again = ev(&case, T::Dispatched, r + 700);
    again.unit = "510800.scjg".into();
    // Completed at the end: replayed, every earlier event would be refused
    // as an event on a completed case if it were not known as a replay.
    let batch = vec![
        ev(&case, T::Dispatched, r + 120),
        ev(&case, T::Signed, r + 300),
        returned,
        again,
        ev(&case, T::Completed, r + 1800),
    ];
    let first = send(&d, batch.clone());
    assert_eq!((first.accepted, first.rejected), (5, 0), "{first:?}");
    let second = send(&d, batch);
    assert_eq!((second.accepted, second.rejected), (5, 0), "{second:?}");
    assert_eq!(
        d.metric("hotline_events_total{stream=\"order\",outcome=\"duplicate\"} "),
        5.0
    );
    // A new event on the completed case is still refused.
    let s = send(&d, vec![ev(&case, T::Signed, r + 1900)]);
    assert_eq!(s.rejections[0].code, "CASE_COMPLETED");
    let received = ["hotline_unit_cases_total{", "measure=\"received\""];
    let live: f64 = ["510800.scjg", "510802.zjj", "510800.zjj"]
        .iter()
        .map(|u| {
            d.metric_with(&[received[0], received[1], &format!("unit=\"{u}\"")])
                .unwrap_or(0.0)
        })
        .sum();
    assert_eq!(live, 2.0, "each dispatch counted once");
    d.terminate();
    let csv = report(&dir, "csv");
    assert!(
        csv.lines().any(|l| l.starts_with("TOTAL,,2,1,0,1,1,")),
        "{csv}"
    );
}

/// An order event's alert is stored in a transaction after the event's.
/// A crash between the two left the event stored and its alert lost for
/// good: the client, never answered, retries, and a stored event is a
/// duplicate that raises nothing. Here the alert row is removed from the
/// store while the daemon is down, as that crash would leave it: the
/// restart's replay raises it again, once.
#[test]
fn an_order_events_alert_lost_before_its_commit_is_raised_after_a_restart() {
    use pb::OrderEventType as T;
    let dir = temp_dir("event-alert");
    let d = Daemon::start_in(&dir, None);
    let r = now_secs() - 60;
    let case = submit_at(&d, "ext-1", "我要投诉小区物业，电梯坏了一个月都没人修", r).case_id;
    let mut ext = ev(&case, T::ExtensionRequested, r + 30);
    ext.extension_days = 3;
    let s = send(
        &d,
        vec![
            ev(&case, T::Dispatched, r + 10),
            ev(&case, T::Signed, r + 20),
            ext,
        ],
    );
    assert_eq!((s.accepted, s.extensions_refused), (3, 1), "{s:?}");
    let refused = pb::AlertKind::ExtensionRefused as i32;
    let has = |dir: &std::path::Path| {
        stored_alerts(&dir.join("data"))
            .iter()
            .any(|(k, _, c)| *k == refused && *c == case)
    };
    assert!(has(&dir), "stored before the answer");
    d.terminate();

    let db = rusqlite::Connection::open(dir.join("data").join("hotline.db")).expect("store");
    let gone = db
        .execute(
            "DELETE FROM events WHERE stream = 'alert' AND key = ?1",
            [&case],
        )
        .expect("delete");
    drop(db);
    assert_eq!(gone, 1);
    assert!(!has(&dir));

    let d = Daemon::start_in(&dir, None);
    d.wait_ticks("deadlines", 2.0);
    assert!(has(&dir), "raised again by the replay");
    assert_eq!(
        d.metric("hotline_alerts_total{kind=\"EXTENSION_REFUSED\"} "),
        1.0,
        "counted once, as newly stored"
    );
    d.terminate();
    // Stored: a further restart replays it as the same row.
    let d = Daemon::start_in(&dir, None);
    d.wait_ticks("deadlines", 2.0);
    assert_eq!(
        d.metric("hotline_alerts_total{kind=\"EXTENSION_REFUSED\"} "),
        0.0
    );
    assert_eq!(
        stored_alerts(&dir.join("data"))
            .iter()
            .filter(|(k, _, _)| *k == refused)
            .count(),
        1
    );
}
