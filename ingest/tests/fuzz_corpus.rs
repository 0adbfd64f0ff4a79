//! The fuzzers' corpus (`fuzz/corpus/<target>/`, README.md "Fuzzing")
//! replayed on stable: every input the fuzzers kept, and every one that
//! once crashed, goes through its entry point again without a panic. A
//! missing or empty corpus fails, never skips.
use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = e.expect("corpus entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        f(&data);
        n += 1;
    }
    assert!(n >= 2, "{target}: {n} inputs in {}", dir.display());
    eprintln!("{target}: {n} inputs replayed");
}

#[test]
fn contact_corpus() {
    replay("contact", hotline_ingest::fuzz::contact);
}

#[test]
fn kafka_event_corpus() {
    replay("kafka_event", hotline_ingest::fuzz::kafka_event);
}

#[test]
fn config_corpus() {
    replay("config", hotline_ingest::fuzz::config);
}

#[test]
fn calendar_corpus() {
    replay("calendar", hotline_ingest::fuzz::calendar);
}
