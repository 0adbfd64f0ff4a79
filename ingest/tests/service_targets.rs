//! Live service targets over the real daemon: constructed call and message
//! events in, exact window figures out on `Stats/Watch` and `/metrics`,
//! alerts raised once, and the windows restored after `kill -9`.
mod support;
use hotline_proto::v1 as pb;
use std::time::Duration;
use support::*;

const CONFIG: &str = "[stats]\ninterval_secs = 1\nnode = \"test-node\"\n";

fn call(id: &str, t: pb::CallEventType, at_ms: i64, channel: pb::Channel) -> pb::CallEvent {
    pb::CallEvent {
        call_id: id.into(),
        r#type: t as i32,
        at: Some(hotline_proto::Timestamp {
            seconds: at_ms.div_euclid(1000),
            nanos: (at_ms.rem_euclid(1000) * 1_000_000) as i32,
        }),
        queue: "12345".into(),
        channel: channel as i32,
        ..Default::default()
    }
}

/// 40 calls offered over the last 10 minutes: 20 answered within 3 s
/// (waits 1.0–2.9 s), 10 answered after 5 s, 10 abandoned after 8 s; every
/// third event sent twice, and the answers of the first five calls sent
/// before their offers. Plus three messages: SMS accepted after 4 min
/// (late), WeChat never accepted (late), web accepted after 30 s.
fn day(now_ms: i64) -> Vec<pb::CallEvent> {
    use pb::CallEventType as T;
    let mut evs = Vec::new();
    for i in 0..40i64 {
        let id = format!("call-{i}");
        let t0 = now_ms - 600_000 + i * 10_000;
        let (t, wait) = match i {
            0..=19 => (T::Answered, 1_000 + i * 100),
            20..=29 => (T::Answered, 5_000),
            _ => (T::Abandoned, 8_000),
        };
        let offered = call(&id, T::Offered, t0, pb::Channel::Phone);
        let outcome = call(&id, t, t0 + wait, pb::Channel::Phone);
        if i < 5 {
            evs.push(outcome);
            evs.push(offered);
        } else {
            evs.push(offered);
            evs.push(outcome);
        }
        if i % 3 == 0 {
            let again = evs[evs.len() - 1].clone();
            evs.push(again);
        }
        evs.push(call(&id, T::Ended, t0 + wait + 60_000, pb::Channel::Phone));
    }
    evs.push(call(
        "sms-1",
        T::Offered,
        now_ms - 300_000,
        pb::Channel::Sms,
    ));
    evs.push(call(
        "sms-1",
        T::MessageAccepted,
        now_ms - 60_000,
        pb::Channel::Sms,
    ));
    evs.push(call(
        "wx-1",
        T::Offered,
        now_ms - 240_000,
        pb::Channel::Wechat,
    ));
    evs.push(call("web-1", T::Offered, now_ms - 60_000, pb::Channel::Web));
    evs.push(call(
        "web-1",
        T::MessageAccepted,
        now_ms - 30_000,
        pb::Channel::Web,
    ));
    evs
}

async fn watch(d: &Daemon) -> tonic::Streaming<pb::StatsSnapshot> {
    let mut c = pb::stats_client::StatsClient::connect(d.url())
        .await
        .expect("connect");
    c.watch(pb::WatchRequest {
        queues: vec!["12345".into()],
        ..Default::default()
    })
    .await
    .expect("watch")
    .into_inner()
}

fn window<'a>(s: &'a pb::StatsSnapshot, w: &str) -> Option<&'a pb::WindowStats> {
    s.queues
        .iter()
        .find(|q| q.queue == "12345")?
        .windows
        .iter()
        .find(|x| x.window == w)
}

#[test]
fn call_day_gives_exact_figures_alerts_once_and_survives_a_restart() {
    let dir = temp_dir("service-targets");
    let d = Daemon::start_in(&dir, Some(CONFIG));
    let now_ms = now_secs() * 1000;
    let evs = day(now_ms);
    let sent = evs.len() as u64;
    let summary = rt().block_on(async {
        d.client()
            .await
            .report_call_events(tokio_stream::iter(evs))
            .await
            .expect("report")
            .into_inner()
    });
    // 14 events were sent twice.
    assert_eq!((summary.accepted, summary.duplicates), (sent - 14, 14));

    // Stats/Watch: window counters exact; interval answer-wait histograms add up to 30.
    let (w15, waits) = rt().block_on(async {
        let mut s = watch(&d).await;
        let mut waits = 0;
        let mut last = None;
        for _ in 0..4 {
            let snap = tokio::time::timeout(Duration::from_secs(5), s.message())
                .await
                .expect("a snapshot every second")
                .expect("stream")
                .expect("open");
            assert_eq!(snap.node, "test-node");
            assert!(snap.queues.iter().all(|q| q.queue == "12345"), "filtered");
            let q = snap.queues.iter().find(|q| q.queue == "12345");
            let h = q.and_then(|q| q.histograms.iter().find(|h| h.name == "answer_wait"));
            waits += h.map(|h| h.count).unwrap_or(0);
            last = window(&snap, "15m").cloned();
        }
        (last.expect("queue 12345 in the snapshot"), waits)
    });
    assert_eq!(
        (
            w15.offered,
            w15.answered,
            w15.abandoned,
            w15.answered_within_3s
        ),
        (40, 30, 10, 20)
    );
    assert_eq!(w15.abandoned_within_3s, 0);
    assert!((w15.answer_rate - 0.75).abs() < 1e-9);
    assert!((w15.service_level - 20.0 / 30.0).abs() < 1e-9);
    assert!((w15.service_level_with_abandons - 20.0 / 40.0).abs() < 1e-9);
    assert_eq!(waits, 30, "every answered call's wait, once");

    // Prometheus: gauges, the wait histogram with a 3 s edge, alerts once.
    let gauge = [
        "hotline_answer_rate_ratio{",
        "queue=\"12345\"",
        "window=\"1h\"",
    ];
    assert_eq!(d.wait_metric_with(&gauge, 0.75), Some(0.75));
    let le3 = [
        "hotline_answer_wait_seconds_bucket{",
        "queue=\"12345\"",
        "le=\"3\"",
    ];
    assert_eq!(d.metric_with(&le3), Some(20.0));
    let low = ["hotline_alerts_total{", "kind=\"ANSWER_RATE_LOW\""];
    assert_eq!(d.wait_metric_with(&low, 1.0), Some(1.0));
    let late = ["hotline_alerts_total{", "kind=\"ACCEPT_LATE\""];
    assert_eq!(
        d.wait_metric_with(&late, 2.0),
        Some(2.0),
        "SMS accepted late, WeChat never"
    );
    let sms = ["hotline_accept_latency_seconds_count{", "channel=\"sms\""];
    assert_eq!(d.metric_with(&sms), Some(1.0));
    let web180 = [
        "hotline_accept_latency_seconds_bucket{",
        "channel=\"web\"",
        "le=\"180\"",
    ];
    assert_eq!(d.metric_with(&web180), Some(1.0));
    d.wait_ticks("service_targets", 2.0);
    assert_eq!(d.metric_with(&low), Some(1.0), "one alert per crossing");
    d.kill9();

    // Restarted: the windows come back from the stored events, no alert again.
    let d = Daemon::start_in(&dir, Some(CONFIG));
    let offered = [
        "hotline_window_calls{",
        "queue=\"12345\"",
        "window=\"1h\"",
        "outcome=\"offered\"",
    ];
    assert_eq!(d.wait_metric_with(&offered, 40.0), Some(40.0));
    assert_eq!(d.wait_metric_with(&gauge, 0.75), Some(0.75));
    d.wait_ticks("service_targets", 2.0);
    assert_eq!(d.metric_with(&low).unwrap_or(0.0), 0.0, "not raised again");
    assert_eq!(d.metric_with(&late).unwrap_or(0.0), 0.0, "not raised again");
    let w = rt().block_on(async {
        let mut s = watch(&d).await;
        let snap = tokio::time::timeout(Duration::from_secs(5), s.message())
            .await
            .expect("snapshot")
            .expect("stream")
            .expect("open");
        // The last hour's, not the day's: the day (Beijing time) may have
        // begun within the hour these calls were placed in.
        window(&snap, "1h").cloned()
    });
    let w = w.expect("restored queue");
    assert_eq!((w.offered, w.answered, w.abandoned), (40, 30, 10));
}

#[test]
fn watch_needs_the_dashboard_role() {
    let dir = temp_dir("watch-auth");
    let sha = |t: &str| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(t.as_bytes()))
    };
    let config = format!(
        "{CONFIG}[[auth.tokens]]\nrole = \"dashboard\"\nsha256 = \"{}\"\n[[auth.tokens]]\nrole = \"gateway\"\nsha256 = \"{}\"\n",
        sha("dash-token"),
        sha("gw-token")
    );
    let d = Daemon::start_in(&dir, Some(&config));
    rt().block_on(async {
        let mut c = pb::stats_client::StatsClient::connect(d.url())
            .await
            .expect("connect");
        let req = |t: &str| {
            let mut r = tonic::Request::new(pb::WatchRequest::default());
            r.metadata_mut().insert(
                "authorization",
                format!("Bearer {t}").parse().expect("ascii"),
            );
            r
        };
        let e = c
            .watch(req("gw-token"))
            .await
            .expect_err("gateway may not watch");
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        let e = c
            .watch(pb::WatchRequest::default())
            .await
            .expect_err("no token");
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        let mut s = c
            .watch(req("dash-token"))
            .await
            .expect("dashboard")
            .into_inner();
        let snap = tokio::time::timeout(Duration::from_secs(5), s.message())
            .await
            .expect("snapshot")
            .expect("stream")
            .expect("open");
        assert_eq!(snap.node, "test-node");
    });
}

/// A gateway keeps one ReportCallEvents stream open all day: each event
/// counts as soon as it is stored, not when the stream window fills or the
/// stream ends. An SMS accepted after 4 minutes raises ACCEPT_LATE while
/// the stream is still open.
#[test]
fn events_of_an_open_stream_count_as_soon_as_stored() {
    let dir = temp_dir("open-event-stream");
    let d = Daemon::start_in(&dir, Some(CONFIG));
    let now_ms = now_secs() * 1000;
    let rt = rt();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let mut client = rt.block_on(d.client());
    let call_task = rt.spawn(async move {
        client
            .report_call_events(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map(|r| r.into_inner())
    });
    let send = |e: pb::CallEvent| rt.block_on(tx.send(e)).expect("send");
    send(call(
        "sms-open",
        pb::CallEventType::Offered,
        now_ms - 300_000,
        pb::Channel::Sms,
    ));
    send(call(
        "sms-open",
        pb::CallEventType::MessageAccepted,
        now_ms - 60_000,
        pb::Channel::Sms,
    ));
    let stored = [
        "hotline_events_total{",
        "stream=\"call\"",
        "outcome=\"new\"",
    ];
    assert_eq!(
        d.wait_metric_with(&stored, 2.0),
        Some(2.0),
        "both events counted while the stream is open"
    );
    let late = ["hotline_alerts_total{", "kind=\"ACCEPT_LATE\""];
    assert_eq!(
        d.wait_metric_with(&late, 1.0),
        Some(1.0),
        "the late acceptance raised while the stream is open"
    );
    drop(tx);
    let summary = rt.block_on(call_task).expect("join").expect("report");
    assert_eq!((summary.accepted, summary.duplicates), (2, 0));
}
