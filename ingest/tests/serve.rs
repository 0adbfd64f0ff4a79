//! `hotlined serve` over real sockets and a real SQLite file: submit,
//! stream, idempotency, bad input, auth, shutdown.
mod support;
use hotline_proto::v1 as pb;
use support::*;
use tonic::Code;
use tonic_types::StatusExt;

#[test]
fn submit_stream_and_idempotent_resubmit() {
    let dir = temp_dir("submit");
    let d = Daemon::start_in(&dir, None);
    let data = d.dir.join("data");
    rt().block_on(async {
        let mut c = d.client().await;
        let first = c
            .submit(contact("s-1", "我要投诉小区物业，电梯坏了一个月没人修"))
            .await
            .expect("submit")
            .into_inner();
        assert_eq!(first.route, pb::RouteKind::WorkOrder as i32);
        assert_eq!(first.lead_unit, "510802.zjj");
        assert!(first
            .deadlines
            .as_ref()
            .and_then(|x| x.complete_by.as_ref())
            .is_some());
        // A retry, even with other content, returns the first decision.
        let again = c
            .submit(contact("s-1", "请问公积金怎么提取"))
            .await
            .expect("resubmit")
            .into_inner();
        assert_eq!(again, first);

        // A stream: 300 contacts, every 7th one bad; one ack each, in order.
        let contacts: Vec<pb::Contact> = (0..300)
            .map(|i| {
                if i % 7 == 3 {
                    pb::Contact {
                        content: String::new(),
                        ..contact(&format!("st-{i}"), "")
                    }
                } else {
                    contact(&format!("st-{i}"), "旁边工地夜间施工，吵得睡不着")
                }
            })
            .collect();
        let acks: Vec<pb::Ack> = {
            let mut s = c
                .submit_stream(tokio_stream::iter(contacts.clone()))
                .await
                .expect("stream")
                .into_inner();
            let mut v = Vec::new();
            while let Some(a) = s.message().await.expect("ack") {
                v.push(a);
            }
            v
        };
        assert_eq!(acks.len(), 300);
        for (i, a) in acks.iter().enumerate() {
            assert_eq!(a.contact_id, format!("st-{i}"));
            if i % 7 == 3 {
                let e = a.error.as_ref().expect("error ack");
                assert_eq!(
                    (e.reason.as_str(), e.field.as_str()),
                    ("EMPTY_CONTENT", "content")
                );
            } else {
                assert!(
                    a.error.is_none() && !a.duplicate && a.case_id.starts_with("GY"),
                    "{a:?}"
                );
            }
        }
        // The same stream again: all duplicates with the same case ids.
        let mut s = c
            .submit_stream(tokio_stream::iter(contacts))
            .await
            .expect("stream")
            .into_inner();
        let mut i = 0;
        while let Some(a) = s.message().await.expect("ack") {
            if a.error.is_none() {
                assert!(a.duplicate);
                assert_eq!(a.case_id, acks[i].case_id);
            }
            i += 1;
        }
        assert_eq!(i, 300);
    });
    assert!(d.terminate().success());
    let stored = stored_decisions(&data);
    assert_eq!(
        stored.len(),
        1 + 300 - 300 / 7 - 1,
        "one row per accepted contact"
    );
}

#[test]
fn concurrent_duplicates_get_one_decision() {
    let dir = temp_dir("dup");
    let d = Daemon::start_in(&dir, None);
    let data = d.dir.join("data");
    let rt = rt();
    let decisions = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let mut c = d.client().await;
            tasks.push(tokio::spawn(async move {
                c.submit(contact("same-moment", "举报黑作坊无证经营"))
                    .await
                    .map(|r| r.into_inner())
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("join").expect("submit"));
        }
        out
    });
    assert!(decisions.windows(2).all(|w| w[0] == w[1]));
    assert!(d.terminate().success());
    let stored = stored_decisions(&data);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["caseId"],
        serde_json::Value::String(decisions[0].case_id.clone())
    );
}

#[test]
fn bad_inputs_get_the_right_status_and_the_daemon_keeps_serving() {
    let dir = temp_dir("bad");
    let d = Daemon::start_in(&dir, None);
    rt().block_on(async {
        let mut c = d.client().await;
        let ok = || contact("b-1", "我要投诉小区物业");
        let mut no_caller = ok();
        no_caller.caller = None;
        let mut bad_phone = ok();
        bad_phone.caller = Some(pb::Caller {
            phone: "12345".into(),
            ..Default::default()
        });
        let cases: Vec<(pb::Contact, &str, &str)> = vec![
            (
                pb::Contact {
                    contact_id: String::new(),
                    ..ok()
                },
                "MISSING_CONTACT_ID",
                "contact_id",
            ),
            (
                pb::Contact {
                    contact_id: "x".repeat(200),
                    ..ok()
                },
                "INVALID_CONTACT_ID",
                "contact_id",
            ),
            (
                pb::Contact {
                    content: "   ".into(),
                    ..ok()
                },
                "EMPTY_CONTENT",
                "content",
            ),
            (
                pb::Contact {
                    content: "长".repeat(3000),
                    ..ok()
                },
                "CONTENT_TOO_LONG",
                "content",
            ),
            (
                pb::Contact {
                    received_at: None,
                    ..ok()
                },
                "MISSING_RECEIVED_AT",
                "received_at",
            ),
            (
                pb::Contact {
                    received_at: ts(now_secs() + 3600),
                    ..ok()
                },
                "RECEIVED_IN_FUTURE",
                "received_at",
            ),
            (
                pb::Contact {
                    received_at: Some(hotline_proto::Timestamp {
                        seconds: i64::MAX,
                        nanos: 0,
                    }),
                    ..ok()
                },
                "INVALID_TIMESTAMP",
                "received_at",
            ),
            (
                pb::Contact { channel: 0, ..ok() },
                "UNKNOWN_CHANNEL",
                "channel",
            ),
            (
                pb::Contact {
                    channel: 99,
                    ..ok()
                },
                "UNKNOWN_CHANNEL",
                "channel",
            ),
            (no_caller, "MISSING_CALLER", "caller.phone"),
            (bad_phone, "INVALID_PHONE", "caller.phone"),
        ];
        for (contact, code, field) in cases {
            let st = c.submit(contact).await.expect_err(code);
            assert_eq!(st.code(), Code::InvalidArgument, "{code}: {st:?}");
            let br = st
                .get_details_bad_request()
                .unwrap_or_else(|| panic!("{code}: no BadRequest"));
            assert_eq!(br.field_violations.len(), 1);
            assert_eq!(br.field_violations[0].field, field, "{code}");
            assert!(
                br.field_violations[0].description.starts_with(code),
                "{code}"
            );
            assert_eq!(
                st.get_details_error_info().map(|e| e.reason),
                Some(code.to_string())
            );
        }
        // Over the 64 KiB message limit.
        let st = c
            .submit(pb::Contact {
                content: "x".repeat(70 * 1024),
                ..ok()
            })
            .await
            .expect_err("oversize");
        assert!(
            matches!(
                st.code(),
                Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
            ),
            "{st:?}"
        );
        // Still serving.
        assert!(c.submit(ok()).await.is_ok());
    });
    let (status, body) = http_get(d.admin, "/metrics").expect("metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains("hotline_rejects_total{reason=\"EMPTY_CONTENT\"} 1"),
        "{body}"
    );
    assert!(body.contains("hotline_rejects_total{reason=\"UNKNOWN_CHANNEL\"} 2"));
    assert!(body.contains("hotline_contacts_total{channel=\"phone\",route=\"WORK_ORDER\"} 1"));
    assert!(!body.contains("13800138000"), "no phone number in metrics");
}

fn sha(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    r
}

#[test]
fn tokens_and_roles() {
    let dir = temp_dir("auth");
    let config = format!(
        "[[auth.tokens]]\nrole = \"gateway\"\nname = \"pbx\"\nsha256 = \"{}\"\n[[auth.tokens]]\nrole = \"ticket-system\"\nsha256 = \"{}\"\n[[auth.tokens]]\nrole = \"dashboard\"\nsha256 = \"{}\"\n",
        sha("gw-secret"), sha("ticket-secret"), sha("dash-secret")
    );
    let d = Daemon::start_in(&dir, Some(&config));
    rt().block_on(async {
        let mut c = d.client().await;
        let st = c
            .submit(contact("a-1", "我要投诉小区物业"))
            .await
            .expect_err("no token");
        assert_eq!(st.code(), Code::Unauthenticated);
        let st = c
            .submit(with_token(contact("a-1", "我要投诉小区物业"), "wrong"))
            .await
            .expect_err("wrong token");
        assert_eq!(st.code(), Code::Unauthenticated);
        let st = c
            .submit(with_token(
                contact("a-1", "我要投诉小区物业"),
                "dash-secret",
            ))
            .await
            .expect_err("wrong role");
        assert_eq!(st.code(), Code::PermissionDenied);
        let d1 = c
            .submit(with_token(contact("a-1", "我要投诉小区物业"), "gw-secret"))
            .await
            .expect("gateway")
            .into_inner();
        // The ticket system reads decisions; the gateway may not.
        let key = pb::GetDecisionRequest {
            key: Some(pb::get_decision_request::Key::CaseId(d1.case_id.clone())),
        };
        let got = c
            .get_decision(with_token(key.clone(), "ticket-secret"))
            .await
            .expect("ticket system")
            .into_inner();
        assert_eq!(got, d1);
        // By contact id too; an unknown one is NOT_FOUND, an empty one
        // INVALID_ARGUMENT.
        let by_contact = |id: &str| pb::GetDecisionRequest {
            key: Some(pb::get_decision_request::Key::ContactId(id.into())),
        };
        let got = c
            .get_decision(with_token(by_contact(&d1.contact_id), "ticket-secret"))
            .await
            .expect("by contact id")
            .into_inner();
        assert_eq!(got, d1);
        let st = c
            .get_decision(with_token(by_contact("no-such-contact"), "ticket-secret"))
            .await
            .expect_err("unknown contact");
        assert_eq!(st.code(), Code::NotFound, "{st:?}");
        let st = c
            .get_decision(with_token(by_contact(""), "ticket-secret"))
            .await
            .expect_err("empty key");
        assert_eq!(st.code(), Code::InvalidArgument, "{st:?}");
        let st = c
            .get_decision(with_token(key, "gw-secret"))
            .await
            .expect_err("gateway reads");
        assert_eq!(st.code(), Code::PermissionDenied);
        // Health stays open.
        let ch = tonic::transport::Endpoint::from_shared(d.url())
            .expect("url")
            .connect()
            .await
            .expect("connect");
        let mut h = tonic_health::pb::health_client::HealthClient::new(ch);
        let r = h
            .check(tonic_health::pb::HealthCheckRequest {
                service: "hotline.v1.Intake".into(),
            })
            .await
            .expect("check")
            .into_inner();
        assert_eq!(
            r.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        );
    });
}

#[test]
fn open_mode_refuses_non_loopback() {
    let dir = temp_dir("open");
    let out = std::process::Command::new(BIN)
        .args([
            "serve",
            "--grpc-addr",
            "0.0.0.0:0",
            "--admin-addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.join("data"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no tokens configured"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Art. 22: with tokens but without a caller key in the environment (one
/// every node shares), the daemon refuses a non-loopback address; with
/// `HOTLINE_CALLER_SECRET` set it starts there. (Plaintext tokens are
/// allowed here: the test is about the key.)
#[test]
fn caller_key_is_required_beyond_loopback() {
    let dir = temp_dir("callerkey");
    let config = dir.join("hotlined.toml");
    std::fs::write(
        &config,
        format!(
            "[privacy]\nallow_plaintext_tokens = true\n[[auth.tokens]]\nrole = \"gateway\"\nsha256 = \"{}\"\n",
            sha("a-gateway-token-of-enough-length-0001")
        ),
    )
    .expect("config");
    let run = |secret: Option<&str>| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["serve", "--config"])
            .arg(&config)
            .args([
                "--grpc-addr",
                "0.0.0.0:0",
                "--admin-addr",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(dir.join("data"))
            .env_remove("HOTLINE_CALLER_SECRET")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(s) = secret {
            cmd.env("HOTLINE_CALLER_SECRET", s);
        }
        cmd.spawn().expect("spawn")
    };
    let out = run(None).wait_with_output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("privacy.caller_secret_env") && err.contains("HOTLINE_CALLER_SECRET"),
        "{err}"
    );
    // With the key it serves: still running after its listeners are up.
    let mut child = run(Some("a-caller-key-of-thirty-two-bytes!!"));
    let started = std::time::Instant::now();
    let mut running = false;
    while started.elapsed() < std::time::Duration::from_secs(10) {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if dir.join("data").join("hotline.db").exists() {
            running = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    assert!(running, "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn logs_carry_no_caller_data() {
    let dir = temp_dir("logs");
    let d = Daemon::start_logged(&dir, "trace");
    rt().block_on(async {
        let mut c = d.client().await;
        let mut x = contact("log-1", "我家住在幸福小区三栋，电话13912345678，物业不作为");
        x.caller = Some(pb::Caller {
            phone: "+86 139 1234 5678".into(),
            wechat_openid: "oWxSecret42".into(),
            ..Default::default()
        });
        x.location = Some(pb::Location {
            district_code: "510802".into(),
            address: "利州区幸福小区三栋".into(),
        });
        c.submit(x.clone()).await.expect("submit");
        x.contact_id = "log-2".into();
        x.channel = 0;
        let _ = c.submit(x).await.expect_err("reject");
    });
    assert!(d.terminate().success());
    let log = std::fs::read_to_string(dir.join("hotlined.log")).expect("log");
    assert!(log.contains("hotlined serving"), "the log was written");
    for secret in [
        "13912345678",
        "139 1234",
        "oWxSecret42",
        "幸福小区",
        "物业不作为",
    ] {
        assert!(!log.contains(secret), "log leaks {secret:?}");
    }
}

#[test]
fn tls_serves_only_tls_clients() {
    let dir = temp_dir("tls");
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl (the test command installs it)");
    assert!(st.success());
    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let d = Daemon::start_in(&dir, Some(&config));
    let pem = std::fs::read(&cert).expect("cert");
    rt().block_on(async {
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(pem))
            .domain_name("localhost");
        let ch =
            tonic::transport::Endpoint::from_shared(format!("https://localhost:{}", d.grpc.port()))
                .expect("url")
                .tls_config(tls)
                .expect("tls")
                .connect()
                .await
                .expect("TLS connect");
        let mut c = pb::intake_client::IntakeClient::new(ch);
        let dec = c
            .submit(contact("tls-1", "我要投诉小区物业"))
            .await
            .expect("submit over TLS")
            .into_inner();
        assert_eq!(dec.contact_id, "tls-1");
        // A plaintext client gets nowhere.
        let plain = async {
            let mut c = pb::intake_client::IntakeClient::connect(d.url())
                .await
                .map_err(|e| e.to_string())?;
            c.submit(contact("tls-2", "我要投诉小区物业"))
                .await
                .map_err(|e| e.to_string())
        };
        assert!(
            tokio::time::timeout(std::time::Duration::from_secs(10), plain)
                .await
                .map(|r| r.is_err())
                .unwrap_or(true)
        );
    });
}

#[test]
fn decisions_command_filters_by_time_and_route() {
    let dir = temp_dir("filters");
    let d = Daemon::start_in(&dir, None);
    let data = d.dir.join("data");
    let base = now_secs() - 120;
    rt().block_on(async {
        let mut c = d.client().await;
        for (i, text) in [
            "我要投诉小区物业不作为",
            "请问公积金怎么提取",
            "楼下饭店着火了",
        ]
        .iter()
        .enumerate()
        {
            let mut x = contact(&format!("f-{i}"), text);
            x.received_at = ts(base + 60 * i as i64);
            c.submit(x).await.expect("submit");
        }
    });
    assert!(d.terminate().success());
    let run = |args: &[&str]| decisions_cmd(&data, args);
    assert_eq!(run(&[]).len(), 3);
    let since = chrono::DateTime::from_timestamp(base + 60, 0)
        .expect("ts")
        .to_rfc3339();
    let later: Vec<String> = run(&["--since", &since])
        .iter()
        .map(|v| v["contactId"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(later, ["f-1", "f-2"], "in received order");
    let fires = run(&["--route", "emergency_transfer"]);
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0]["route"], "EMERGENCY_TRANSFER");
    let bad = std::process::Command::new(BIN)
        .args(["decisions", "--route", "teleport", "--data-dir"])
        .arg(&data)
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn provisional_deadlines_are_counted() {
    // A contact from 2022 (a year the calendar does not hold) is accepted
    // only with the age limit raised, under a longer retention.
    let dir = temp_dir("provisional");
    let d = Daemon::start_in(
        &dir,
        Some("[store]\nretention_days = 3650\n[pipeline]\nmax_age_days = 3000\n"),
    );
    rt().block_on(async {
        let mut c = d.client().await;
        // Received in 2022, a year the calendar does not hold.
        let mut x = contact("prov-1", "我要投诉小区物业不作为");
        x.received_at = ts(1_654_041_600); // 2022-06-01
        let dec = c.submit(x).await.expect("submit").into_inner();
        assert!(dec.provisional);
        assert!(dec.tags.contains(&"provisional".to_string()));
        c.submit(contact("prov-2", "我要投诉小区物业不作为"))
            .await
            .expect("submit");
    });
    let (_, m) = http_get(d.admin, "/metrics").expect("metrics");
    assert!(m.contains("hotline_provisional_deadlines_total 1"), "{m}");
}

fn order_event(case_id: &str, t: pb::OrderEventType, days: u32) -> pb::OrderEvent {
    pb::OrderEvent {
        case_id: case_id.into(),
        r#type: t as i32,
        at: ts(now_secs()),
        extension_days: days,
        ..Default::default()
    }
}

#[test]
fn overdue_work_orders_alert_once_even_across_a_restart() {
    let dir = temp_dir("overdue");
    let d = Daemon::start_in(&dir, None);
    // A complaint received 15 minutes ago: its 10-minute dispatch limit has passed.
    let mut x = contact("late-1", "我要投诉小区物业不作为");
    x.received_at = ts(now_secs() - 900);
    let dec = rt().block_on(d.submit(x));
    assert_eq!(
        d.wait_metric("hotline_alerts_total{kind=\"OVERDUE\"} ", 1.0),
        1.0,
        "dispatch overdue"
    );
    d.wait_ticks("deadlines", 2.0);
    assert_eq!(
        d.metric("hotline_alerts_total{kind=\"OVERDUE\"} "),
        1.0,
        "raised once, not again at the next rounds"
    );
    assert_eq!(d.metric("hotline_open_cases{tenant=\"510800\"} "), 1.0);
    d.kill9();

    // Restarted: the case is restored and the alert is not raised again.
    let d = Daemon::start_in(&dir, None);
    assert_eq!(
        d.wait_metric("hotline_open_cases{tenant=\"510800\"} ", 1.0),
        1.0
    );
    d.wait_ticks("deadlines", 2.0);
    assert_eq!(
        d.metric("hotline_alerts_total{kind=\"OVERDUE\"} "),
        0.0,
        "no second alert after the restart"
    );

    let summary = rt().block_on(async {
        let evs = vec![
            order_event(&dec.case_id, pb::OrderEventType::Dispatched, 0),
            order_event(&dec.case_id, pb::OrderEventType::Signed, 0),
            order_event(&dec.case_id, pb::OrderEventType::ExtensionRequested, 3),
        ];
        d.order_events(evs).await
    });
    assert_eq!(
        (
            summary.accepted,
            summary.extensions_refused,
            summary.extensions_granted
        ),
        (3, 1, 0)
    );
    assert_eq!(
        d.wait_metric("hotline_alerts_total{kind=\"EXTENSION_REFUSED\"} ", 1.0),
        1.0
    );
    rt().block_on(async {
        let evs = vec![order_event(&dec.case_id, pb::OrderEventType::Completed, 0)];
        d.order_events(evs).await;
    });
    assert_eq!(
        d.wait_metric("hotline_open_cases{tenant=\"510800\"} ", 0.0),
        0.0,
        "completed cases leave the tracker"
    );
}

/// Shutdown end to end (README.md, "Shutdown"): at SIGTERM `/ready` turns
/// 503 and health NOT_SERVING while the drain runs, a new call on an open
/// connection is UNAVAILABLE, a stream being submitted is cut mid-way
/// with every acknowledged contact stored, and a client that holds a
/// stream open and never finishes it does not keep the process past the
/// drain deadline.
#[test]
fn sigterm_stops_taking_calls_and_exits_by_the_drain_deadline() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    const DRAIN_SECS: u64 = 3;
    let dir = temp_dir("drain-e2e");
    let mut d = Daemon::start_in(
        &dir,
        Some(&format!("[pipeline]\ndrain_timeout_secs = {DRAIN_SECS}\n")),
    );
    let pid = d.child.id();
    let admin = d.admin;
    let url = d.url();
    let rt = rt();
    let (acked, sent_term, during) = rt.block_on(async {
        let mut c = d.client().await;
        let mut other = d.client().await;
        let channel = tonic::transport::Channel::from_shared(url)
            .expect("url")
            .connect()
            .await
            .expect("health channel");
        let mut health = HealthClient::new(channel);
        // A stuck client: one contact, then a request stream that never ends.
        let (stuck_tx, stuck_rx) = tokio::sync::mpsc::channel::<pb::Contact>(1);
        stuck_tx
            .send(contact("stuck-1", "路灯坏了"))
            .await
            .expect("send");
        let mut stuck = c
            .clone()
            .submit_stream(tokio_stream::wrappers::ReceiverStream::new(stuck_rx))
            .await
            .expect("stuck stream")
            .into_inner();
        assert!(stuck.message().await.expect("ack").is_some());
        let contacts: Vec<pb::Contact> = (0..50_000)
            .map(|i| contact(&format!("e2e-{i}"), "路灯坏了好几天，晚上很黑"))
            .collect();
        let mut s = c
            .submit_stream(tokio_stream::iter(contacts))
            .await
            .expect("stream")
            .into_inner();
        let mut acked = Vec::new();
        let mut sent_term = None;
        let mut during = None;
        loop {
            match s.message().await {
                Ok(Some(a)) => {
                    if a.error.is_none() {
                        acked.push(a.contact_id);
                    }
                    if acked.len() == 1000 && sent_term.is_none() {
                        let _ = std::process::Command::new("kill")
                            .arg("-TERM")
                            .arg(pid.to_string())
                            .status();
                        sent_term = Some(std::time::Instant::now());
                        // While the drain runs (the stuck stream holds it):
                        // not ready, not serving, new calls refused.
                        let ready = tokio::task::spawn_blocking(move || {
                            let until =
                                std::time::Instant::now() + std::time::Duration::from_secs(2);
                            loop {
                                let s = http_get(admin, "/ready").map(|(s, _)| s);
                                if s != Some(200) || std::time::Instant::now() > until {
                                    return s;
                                }
                                std::thread::sleep(std::time::Duration::from_millis(20));
                            }
                        })
                        .await
                        .expect("ready probe");
                        let serving = health
                            .check(HealthCheckRequest {
                                service: "hotline.v1.Intake".into(),
                            })
                            .await
                            .map(|r| r.into_inner().status);
                        let new_call = other.submit(contact("after-term", "路灯坏了")).await;
                        during = Some((ready, serving, new_call.map_err(|e| e.code())));
                    }
                }
                Ok(None) => break,
                Err(st) => {
                    assert_eq!(st.code(), Code::Unavailable, "{st:?}");
                    break;
                }
            }
        }
        drop(stuck_tx);
        (acked, sent_term, during)
    });
    let sent_term = sent_term.expect("SIGTERM was sent");
    let (ready, serving, new_call) = during.expect("probed during the drain");
    assert_eq!(ready, Some(503), "/ready during the drain");
    assert_eq!(
        serving.ok(),
        Some(ServingStatus::NotServing as i32),
        "health during the drain"
    );
    assert_eq!(
        new_call.err(),
        Some(Code::Unavailable),
        "a new call during the drain"
    );
    assert!(
        acked.len() >= 1000 && acked.len() < 50_000,
        "cut mid-way: {} acked",
        acked.len()
    );
    // Gone by the deadline (and a margin for the last commit and exit),
    // though the stuck stream never ended.
    let until = sent_term + std::time::Duration::from_secs(DRAIN_SECS + 3);
    let status = loop {
        if let Some(st) = d.child.try_wait().expect("wait") {
            break Some(st);
        }
        if std::time::Instant::now() > until {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let status = status.unwrap_or_else(|| panic!("still running {DRAIN_SECS} s after SIGTERM"));
    assert!(status.success(), "{status:?}");
    let stored: std::collections::HashSet<String> = stored_decisions(&dir.join("data"))
        .iter()
        .map(|v| v["contactId"].as_str().unwrap_or_default().to_string())
        .collect();
    for id in &acked {
        assert!(stored.contains(id), "acknowledged {id} not stored");
    }
    assert!(stored.contains("stuck-1"));
}
