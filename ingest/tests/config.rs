//! Config files: the shipped example is valid, and errors come all at once.
use hotline_ingest::config::kafka::KafkaConfig;
use hotline_ingest::config::rules::build_router;
use hotline_ingest::config::Config;
use std::path::Path;

#[test]
fn the_embedded_default_spelled_out_is_the_default() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/hotlined.embedded.toml");
    let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(format!("{cfg:?}"), format!("{:?}", Config::default()));
    assert!(build_router(&cfg).is_ok());
}

#[test]
fn every_error_at_once() {
    let text = r#"
[server]
grpc_addr = "nowhere"
admin_addr = "127.0.0.1:9464"
unknown_a = 1
[store]
retention_days = 7
page_size_kib = 12
unknown_b = 2
[pipeline]
queue_capacity = 0
batch_max = "many"
[[auth.tokens]]
role = "root"
sha256 = "abc"
[tls]
cert = "/nonexistent/cert.pem"
[kafka]
brokers = " "
max_in_flight = 0
[kafka.topics]
contacts = "bad topic!"
[kafka.client]
"enable.auto.offset.store" = "true"
[mystery]
"#;
    let errors = Config::parse(text).expect_err("bad config");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    for needle in [
        "server.grpc_addr",
        "server.unknown_a",
        "store.retention_days",
        "store.page_size_kib",
        "store.unknown_b",
        "pipeline",
        "auth.tokens[0].role",
        "auth.tokens[0].sha256",
        "tls.cert",
        "tls.key",
        "mystery: unknown section",
        // The [kafka] section checks itself too (check-config and serve).
        "kafka.brokers",
        "kafka.max_in_flight",
        "kafka.topics.contacts",
        "kafka.client",
    ] {
        assert!(all.contains(needle), "missing {needle} in\n{all}");
    }
}

/// An open case's contacts are held past the repeat window, never for less.
#[test]
fn the_unresolved_window_is_at_least_the_repeat_window() {
    let errors = Config::parse("[dedup]\nrepeat_window_days = 30\nunresolved_window_days = 20\n")
        .expect_err("shorter than the repeat window");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        all.iter()
            .any(|e| e.contains("dedup.unresolved_window_days") && e.contains("between 30 and 365")),
        "{all:?}"
    );
    assert!(Config::parse("[dedup]\nunresolved_window_days = 30\n").is_ok());
}

#[test]
fn rules_and_calendar_directories_are_loaded_and_checked() {
    let dir = std::env::temp_dir().join(format!("hotline-cfg-{}", std::process::id()));
    let rules = dir.join("rules");
    let cal = dir.join("calendar");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::create_dir_all(&cal).expect("mkdir");
    std::fs::write(
        cal.join("2027.toml"),
        "year = 2027\n[[holiday]]\nname = \"元旦\"\nfrom = \"2027-01-01\"\nto = \"2027-01-03\"\n",
    )
    .expect("write");
    let mut cfg = Config::default();
    cfg.rules.dir = Some(rules.clone());
    cfg.rules.calendar_dir = Some(cal.clone());
    let r = build_router(&cfg).expect("router");
    assert_eq!(
        r.calendar()
            .is_workday(chrono::NaiveDate::from_ymd_opt(2027, 1, 1).expect("d")),
        (false, false)
    );

    std::fs::write(
        rules.join("kb.toml"),
        "[[entry]]\nid = \"kb.a\"\ntitle = \"t\"\nanswer = \"a\"\nkeywords = []\n",
    )
    .expect("write");
    std::fs::write(cal.join("2028.toml"), "year = 2028\nbogus = 1\n").expect("write");
    let errors = build_router(&cfg).expect_err("bad dirs");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    assert!(all.contains("2028.toml"), "{all}");
    assert!(
        all.contains("kb.toml") && all.contains("no keywords"),
        "{all}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The address other nodes reach this one at: the configured one, else the
/// listener's own.
#[test]
fn a_node_advertises_its_configured_address_else_its_listeners() {
    use hotline_ingest::config::kafka::ClusterConfig;
    let listener: std::net::SocketAddr = "10.1.2.3:50051".parse().expect("addr");
    let given = ClusterConfig {
        advertise: "node-a.hotlined-nodes:50051".into(),
        ..Default::default()
    };
    assert_eq!(given.advertised(listener), "node-a.hotlined-nodes:50051");
    assert_eq!(
        ClusterConfig::default().advertised(listener),
        "10.1.2.3:50051"
    );
    let any: std::net::SocketAddr = "0.0.0.0:50051".parse().expect("addr");
    assert!(ClusterConfig::default().advertised(any).ends_with(":50051"));
    assert!(!ClusterConfig::default()
        .advertised(any)
        .starts_with("0.0.0.0"));
}

/// A `[kafka]` section with one brokers line, `extra`, and a decisions topic.
fn kafka_with(extra: &str) -> KafkaConfig {
    let cfg = Config::parse(&format!(
        "[kafka]\nbrokers = \"127.0.0.1:9092\"\n{extra}\n[kafka.topics]\ndecisions = \"d\"\n"
    ))
    .unwrap_or_else(|e| panic!("{e:?}"));
    cfg.kafka.unwrap_or_else(|| panic!("no [kafka]"))
}

/// The producer lingers 5 ms to batch on one node; with `[kafka.cluster]`,
/// where a Submit's answer waits for its changelog records on Kafka, it
/// sends at once; a `[kafka.client]` setting wins either way.
#[test]
fn the_producer_lingers_only_where_no_answer_waits_for_kafka() {
    let linger = |extra: &str| {
        let producer = kafka_with(extra)
            .producer_config()
            .unwrap_or_else(|e| panic!("{e}"));
        producer.get("linger.ms").map(str::to_string)
    };
    assert_eq!(linger("").as_deref(), Some("5"));
    let cluster = "[kafka.cluster]\npartitions = 4\nby_tenant = \"t\"\nchangelog = \"c\"";
    assert_eq!(linger(cluster).as_deref(), Some("0"));
    assert_eq!(
        linger(&format!("[kafka.client]\n\"linger.ms\" = \"2\"\n{cluster}")).as_deref(),
        Some("2")
    );
    // A setting read from the environment wins too (HOME: set in any test
    // run; librdkafka would refuse it, but the config only passes it on).
    let home = std::env::var("HOME").unwrap_or_else(|_| panic!("HOME is not set"));
    assert_eq!(
        linger(&format!(
            "[kafka.client_env]\n\"linger.ms\" = \"HOME\"\n{cluster}"
        )),
        Some(home)
    );
}

/// A cluster node's membership check stands for a third of the group
/// session, less when the heartbeat interval leaves less: the coordinator
/// must not be able to drop the node within it.
#[test]
fn the_fence_lease_is_shorter_than_the_coordinator_needs_to_drop_a_member() {
    let lease = |client: &str| kafka_with(client).fence_lease();
    let ms = std::time::Duration::from_millis;
    // Defaults: a 10 s session, librdkafka's 3 s heartbeat.
    assert_eq!(lease(""), ms(10_000) / 3);
    assert_eq!(
        lease("[kafka.client]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"500\""),
        ms(2_000)
    );
    // A slow heartbeat leaves less of the session.
    assert_eq!(
        lease("[kafka.client]\n\"session.timeout.ms\" = \"10000\"\n\"heartbeat.interval.ms\" = \"6000\""),
        ms(2_000)
    );
    // Read from the environment too (PATH's value is no number: the default).
    assert_eq!(
        lease("[kafka.client_env]\n\"heartbeat.interval.ms\" = \"PATH\""),
        ms(10_000) / 3
    );
}

/// The problem-type settings are checked like the others, and a model file
/// that is missing or not a model is reported with its key; the shipped
/// model written out is accepted.
#[test]
fn problem_type_settings_and_model_files_are_checked() {
    let dir = std::env::temp_dir().join(format!("hotline-types-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let garbage = dir.join("garbage.bin");
    std::fs::write(&garbage, b"not a model").expect("write");
    let good = dir.join("problems.bin");
    std::fs::write(&good, hotline_router::dedup::types::EMBEDDED_MODEL).expect("write");
    let parse = |extra: &str| {
        Config::parse(&format!("[dedup]\n{extra}\n"))
            .err()
            .map(|es| {
                es.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let all = parse("placed_types = 1.5\nother_types = -0.1");
    assert!(
        all.contains("dedup.placed_types") && all.contains("dedup.other_types"),
        "{all}"
    );
    let all = parse(&format!("types_file = {:?}", garbage.display().to_string()));
    assert!(
        all.contains("dedup.types_file") && all.contains("not a hotline"),
        "{all}"
    );
    let all = parse(&format!(
        "types_file = {:?}",
        dir.join("none.bin").display().to_string()
    ));
    assert!(all.contains("dedup.types_file"), "{all}");
    assert_eq!(
        parse(&format!("types_file = {:?}", good.display().to_string())),
        ""
    );
    let _ = std::fs::remove_dir_all(&dir);
}
