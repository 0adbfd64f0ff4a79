//! The metrics catalogue (`telemetry::catalogue`) is the truth about
//! `/metrics`: every family a running daemon exports has a `# HELP` line
//! and is in the catalogue with its type, every metric name the source
//! emits is in it, and README.md lists each.
mod support;
use hotline_ingest::telemetry::catalogue::{find, Type, CATALOGUE};
use std::path::Path;
use support::*;

fn family(sample: &str) -> &str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(f) = sample.strip_suffix(suffix) {
            if find(f).is_some() {
                return f;
            }
        }
    }
    sample
}

#[test]
fn every_exported_family_has_help_and_is_catalogued() {
    let dir = temp_dir("metrics");
    let d = Daemon::start_in(&dir, None);
    // Some traffic, so that per-contact series exist too.
    rt().block_on(async {
        for c in mixed_contacts("m", 12) {
            d.submit(c).await;
        }
    });
    let (status, text) = http_get(d.admin, "/metrics").expect("metrics");
    assert_eq!(status, 200);
    let mut helped = std::collections::HashSet::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        match (w.next(), w.next(), w.next(), w.next()) {
            (Some("#"), Some("HELP"), Some(name), Some(_)) => {
                helped.insert(name.to_string());
            }
            (Some("#"), Some("TYPE"), Some(name), Some(t)) => {
                typed.push((name.to_string(), t.to_string()))
            }
            _ => {}
        }
    }
    assert!(typed.len() >= 30, "{text}");
    for (name, t) in &typed {
        assert!(helped.contains(name), "{name} has no # HELP line");
        let m = find(name).unwrap_or_else(|| panic!("{name} is not in the catalogue"));
        let want = match m.kind {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        };
        assert_eq!(t, want, "{name}");
    }
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let sample = line.split(['{', ' ']).next().unwrap_or_default();
        assert!(
            find(family(sample)).is_some(),
            "{sample} is not in the catalogue"
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_name_in_the_source_is_catalogued_and_documented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut names = std::collections::BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        for part in text.split("\"hotline_").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && part[name.len()..].starts_with('"') {
                names.insert(format!("hotline_{name}"));
            }
        }
    }
    assert!(names.len() >= 30, "{names:?}");
    for n in &names {
        assert!(find(n).is_some(), "{n} is emitted but not in the catalogue");
    }
    let readme = std::fs::read_to_string(root.join("../README.md")).expect("README");
    for m in CATALOGUE {
        assert!(
            readme.contains(m.name),
            "README.md does not list {}",
            m.name
        );
    }
}
