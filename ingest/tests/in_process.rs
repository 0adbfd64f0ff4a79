//! The daemon in-process (`app::run`): listeners and the shutdown signal
//! are parameters. A contact submitted before the signal is stored, and
//! once `run` returns every task it started has stopped: both listeners
//! are closed.
mod support;
use hotline_ingest::config::Config;
use std::time::Duration;
use support::*;

#[test]
fn a_daemon_in_process_serves_until_told_and_stops_everything() {
    let dir = temp_dir("in-process");
    let rt = rt();
    rt.block_on(async {
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let (grpc_addr, admin_addr) = (
            grpc.local_addr().expect("addr"),
            admin.local_addr().expect("addr"),
        );
        let mut cfg = Config::default();
        cfg.store.data_dir = dir.join("data");
        cfg.pipeline.drain_timeout_secs = 5;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let daemon = tokio::spawn(hotline_ingest::app::run(cfg, grpc, admin, async move {
            let _ = stopped.await;
        }));
        // Ready: the admin listener answers /ready.
        let ready = tokio::task::spawn_blocking(move || {
            for _ in 0..200 {
                if http_get(admin_addr, "/ready").map(|(s, _)| s) == Some(200) {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        })
        .await
        .expect("probe");
        assert!(ready, "ready");
        let mut client =
            hotline_proto::v1::intake_client::IntakeClient::connect(format!("http://{grpc_addr}"))
                .await
                .expect("connect");
        let d = client
            .submit(contact("inproc-1", "小区路灯坏了好几天了"))
            .await
            .expect("submit")
            .into_inner();
        drop(client);
        stop.send(()).expect("signal");
        let ended = tokio::time::timeout(Duration::from_secs(15), daemon)
            .await
            .expect("run returns within the drain deadline")
            .expect("task");
        assert!(ended.is_ok(), "{ended:?}");
        // Every task stopped: nothing listens any more.
        assert!(
            std::net::TcpStream::connect(grpc_addr).is_err(),
            "gRPC closed"
        );
        assert!(
            std::net::TcpStream::connect(admin_addr).is_err(),
            "admin closed"
        );
        d
    });
    let stored = stored_decisions(&dir.join("data"));
    assert!(
        stored.iter().any(|v| v["contactId"] == "inproc-1"),
        "{stored:?}"
    );
}
