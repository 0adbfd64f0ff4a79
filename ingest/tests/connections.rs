//! Connection limits and failed-login backoff through the real daemon: a
//! connection that sends nothing — a half-sent admin request, a bare HTTP/2
//! preface — is closed after `server.idle_timeout_secs`, before any
//! authentication; one over `server.max_connections` is closed at once;
//! a well-behaved client is served meanwhile; an address that keeps
//! presenting wrong tokens is made to wait.
mod support;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::*;

/// Whether the server closes `s` before `deadline` (reading whatever it
/// sends meanwhile: HTTP/2 settings and pings).
fn closed_before(s: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        if s.set_read_timeout(Some(left)).is_err() {
            return true;
        }
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

fn silent(addr: std::net::SocketAddr, first_bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(first_bytes).expect("write");
    s
}

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[test]
fn silent_connections_are_closed_and_a_good_client_is_served_meanwhile() {
    let dir = temp_dir("conn-idle");
    let d = Daemon::start_in(&dir, Some("[server]\nidle_timeout_secs = 2\n"));
    // Taken before the first connection: none of them is accepted earlier,
    // so none may be closed by the idle limit before `opened + 2 s`.
    let opened = Instant::now();
    let mut admin: Vec<TcpStream> = (0..40)
        .map(|_| silent(d.admin, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"))
        .collect();
    let mut grpc: Vec<TcpStream> = (0..40).map(|_| silent(d.grpc, PREFACE)).collect();
    // Served while the silent ones hang.
    let dec = rt().block_on(d.submit(contact("conn-good-1", "小区路灯坏了好几天了")));
    assert!(!dec.case_id.is_empty());
    assert_eq!(http_get(d.admin, "/ready").map(|(s, _)| s), Some(200));
    // Every silent connection closed: within the 2 s limit and a margin
    // for scheduling, and not before it.
    let deadline = opened + Duration::from_secs(8);
    for (i, s) in admin.iter_mut().enumerate() {
        assert!(
            closed_before(s, deadline),
            "admin connection {i} still open"
        );
    }
    // An admin connection sends no keepalive pings: only the idle limit
    // closes it.
    assert!(
        opened.elapsed() >= Duration::from_secs(2),
        "closed before the idle limit"
    );
    for (i, s) in grpc.iter_mut().enumerate() {
        assert!(closed_before(s, deadline), "gRPC connection {i} still open");
    }
    // The admin ones by the idle limit; a bare HTTP/2 preface may go first
    // by the unanswered keepalive ping (every third of the limit).
    let closed = d
        .metric_with(&["hotline_connections_closed_total", "idle"])
        .unwrap_or(0.0);
    assert!(closed >= 40.0, "{closed}");
    // And served after.
    rt().block_on(d.submit(contact("conn-good-2", "小区路灯坏了好几天了")));
}

/// A bare HTTP/2 preface and an empty SETTINGS frame, then four PINGs: a
/// connection that has sent over 96 bytes (as a client that made a
/// request has) and that the server keeps open, answering the pings.
fn busy_bytes() -> Vec<u8> {
    let mut b = PREFACE.to_vec();
    b.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    for i in 0..4u8 {
        b.extend_from_slice(&[0, 0, 8, 6, 0, 0, 0, 0, 0, i, 0, 0, 0, 0, 0, 0, 0]);
    }
    b
}

#[test]
fn at_the_cap_a_new_connection_displaces_one_that_made_no_request() {
    let dir = temp_dir("conn-cap");
    let d = Daemon::start_in(
        &dir,
        Some("[server]\nidle_timeout_secs = 30\nmax_connections = 5\n"),
    );
    // Five bare prefaces hold every slot.
    let mut silent_ones: Vec<TcpStream> = (0..5).map(|_| silent(d.grpc, PREFACE)).collect();
    // A real client still gets in, in the place of one of them.
    let dec = rt().block_on(d.submit(contact("conn-cap-1", "小区路灯坏了好几天了")));
    assert!(!dec.case_id.is_empty());
    let displaced = d
        .metric_with(&["hotline_connections_closed_total", "displaced"])
        .unwrap_or(0.0);
    assert!(displaced >= 1.0, "{displaced}");
    let closed = silent_ones
        .iter_mut()
        .map(|s| closed_before(s, Instant::now() + Duration::from_millis(300)))
        .filter(|c| *c)
        .count();
    assert!(closed >= 1, "a silent connection gave its place");
    drop(silent_ones);
    // Every slot held by a connection that has sent a request's worth of
    // bytes: one more is closed at once, well before the idle limit.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut busy: Vec<TcpStream> = Vec::new();
    while busy.len() < 5 && Instant::now() < deadline {
        let mut s = silent(d.grpc, &busy_bytes());
        if !closed_before(&mut s, Instant::now() + Duration::from_millis(300)) {
            busy.push(s);
        }
    }
    assert_eq!(busy.len(), 5, "five busy connections held");
    let before = d
        .metric_with(&["hotline_connections_closed_total", "over_limit"])
        .unwrap_or(0.0);
    let mut extra = silent(d.grpc, PREFACE);
    assert!(
        closed_before(&mut extra, Instant::now() + Duration::from_secs(2)),
        "the sixth connection is closed at once"
    );
    let after = d
        .metric_with(&["hotline_connections_closed_total", "over_limit"])
        .unwrap_or(0.0);
    assert!(after > before, "{before} -> {after}");
    for s in busy.iter_mut() {
        assert!(
            !closed_before(s, Instant::now() + Duration::from_millis(100)),
            "a busy connection is never displaced"
        );
    }
}

#[test]
fn an_address_presenting_wrong_tokens_is_made_to_wait() {
    let dir = temp_dir("conn-backoff");
    let good = "good-token-of-sufficient-length-000001";
    let d = Daemon::start_in(
        &dir,
        Some(&format!(
            "[[auth.tokens]]\nrole = \"gateway\"\nsha256 = \"{}\"\n",
            sha256_hex(good)
        )),
    );
    let submit = |token: &str, id: &str| -> Result<(), (tonic::Code, String)> {
        rt().block_on(async {
            let mut req = tonic::Request::new(contact(id, "小区路灯坏了好几天了"));
            req.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("header"),
            );
            d.client()
                .await
                .submit(req)
                .await
                .map(|_| ())
                .map_err(|s| (s.code(), s.message().to_string()))
        })
    };
    submit(good, "bo-0").expect("the right token");
    for i in 0..10 {
        let (code, _) =
            submit("wrong-token-wrong-token-wrong-token", &format!("bo-w{i}")).expect_err("wrong");
        assert_eq!(code, tonic::Code::Unauthenticated);
    }
    let (code, msg) =
        submit(good, "bo-1").expect_err("blocked for a while, even with the right token");
    assert_eq!(code, tonic::Code::Unauthenticated);
    assert!(msg.contains("too many failed attempts"), "{msg}");
    assert!(
        d.metric_with(&["hotline_auth_failures_total", "backoff"])
            .unwrap_or(0.0)
            >= 1.0
    );
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// This machine's address on its first non-loopback interface (the one a
/// route to the documentation network leaves by; no packet is sent).
fn own_address() -> std::net::IpAddr {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp");
    s.connect("192.0.2.1:9").expect("a route off this machine");
    let ip = s.local_addr().expect("local addr").ip();
    assert!(!ip.is_loopback(), "no non-loopback address to test from");
    ip
}

/// With `server.metrics_loopback_only`, `/metrics` answers this machine
/// only; the probes answer everyone.
#[test]
fn metrics_can_be_kept_on_this_machine() {
    let dir = temp_dir("conn-metrics");
    let port = free_port();
    std::fs::write(
        dir.join("hotlined.toml"),
        format!(
            "[server]\ngrpc_addr = \"127.0.0.1:{}\"\nadmin_addr = \"0.0.0.0:{port}\"\nmetrics_loopback_only = true\n",
            free_port()
        ),
    )
    .expect("config");
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--config"])
        .arg(dir.join("hotlined.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let local: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let remote = std::net::SocketAddr::new(own_address(), port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(local, "/ready").map(|(s, _)| s) != Some(200) {
        assert!(Instant::now() < deadline, "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let here = http_get(local, "/metrics").map(|(s, _)| s);
    let there = http_get(remote, "/metrics").map(|(s, _)| s);
    let probe = http_get(remote, "/ready").map(|(s, _)| s);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(here, Some(200));
    assert_eq!(there, Some(403));
    assert_eq!(probe, Some(200));
}

/// An admin client that trickles its request a byte at a time (so it is
/// never idle) is still closed once its headers take longer than the limit.
#[test]
fn a_trickled_admin_request_is_closed_at_the_header_deadline() {
    let dir = temp_dir("conn-trickle");
    let d = Daemon::start_in(&dir, Some("[server]\nidle_timeout_secs = 2\n"));
    let mut s = TcpStream::connect(d.admin).expect("connect");
    let started = Instant::now();
    let request = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut closed_at = None;
    for b in request.iter() {
        if s.write_all(&[*b]).is_err() {
            closed_at = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        if started.elapsed() > Duration::from_secs(12) {
            break;
        }
    }
    let closed_at = closed_at.or_else(|| {
        closed_before(&mut s, Instant::now() + Duration::from_secs(1)).then(|| started.elapsed())
    });
    let at = closed_at.expect("closed while still trickling its headers");
    assert!(
        at >= Duration::from_secs(2) && at < Duration::from_secs(8),
        "closed after {at:?}"
    );
}
