//! The dependency rule of `src/lib.rs`: sources → admit → state → sinks →
//! telemetry, leaves (config, wire, auth, admin) usable by all, `app/`,
//! `cmd/` and `main.rs` free. A module that imports a folder above its own
//! fails here with the file and the import.
use std::path::Path;

const ORDER: [&str; 5] = ["sources", "admit", "state", "sinks", "telemetry"];

fn rank(folder: &str) -> Option<usize> {
    ORDER.iter().position(|f| *f == folder)
}

fn visit(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            visit(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn imports_point_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    assert!(files.len() > 20, "{files:?}");
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src");
        let Some(Some(mine)) = rel
            .components()
            .next()
            .map(|c| rank(&c.as_os_str().to_string_lossy()))
        else {
            continue;
        };
        let text = std::fs::read_to_string(f).expect("read");
        for (n, line) in text.lines().enumerate() {
            for part in line.split("crate::").skip(1) {
                let folder: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let above = rank(&folder).is_some_and(|r| r < mine);
                if above || folder == "app" || folder == "cmd" {
                    wrong.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}
