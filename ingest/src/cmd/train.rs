//! `hotlined train` and `hotlined eval`: the classifier of kind and
//! category (`hotline_router::classifier`) trained on labeled contacts and
//! scored on others, through the same `decide` the daemon runs.
//!
//! A corpus is JSON lines `{"text", "channel", "district", "kind",
//! "category"}`; a directory contributes its `*.jsonl` files except
//! `heldout*.jsonl`, which are for `eval` only (name them explicitly).
use chrono::{TimeZone as _, Utc};
use hotline_proto::v1 as pb;
use hotline_router::classifier::{Model, TrainConfig};
use hotline_router::{decide, Caller, Channel, Contact, Kind, Location, Router};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A bad corpus file or line.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {msg}")]
    Line {
        path: String,
        line: usize,
        msg: String,
    },
    #[error("no labeled contacts in the corpus")]
    Empty,
}

/// One labeled contact of a corpus.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Labeled {
    pub text: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub district: String,
    pub kind: String,
    pub category: String,
}

/// The files a corpus argument names: a file, or a directory's `*.jsonl`
/// without the held-out ones, sorted.
fn files_of(p: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let io = |source| TrainError::Io {
        path: p.display().to_string(),
        source,
    };
    if !p.is_dir() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).map_err(io)? {
        let path = e.map_err(io)?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".jsonl") && !name.starts_with("heldout") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Every labeled contact of the corpus arguments, checked against the
/// router's categories.
pub fn read_corpus(paths: &[PathBuf], router: &Router) -> Result<Vec<Labeled>, TrainError> {
    let known: Vec<std::sync::Arc<str>> = router.category_list();
    let mut out = Vec::new();
    for p in paths {
        for f in files_of(p)? {
            let path = f.display().to_string();
            let text = std::fs::read_to_string(&f).map_err(|source| TrainError::Io {
                path: path.clone(),
                source,
            })?;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let bad = |msg: String| TrainError::Line {
                    path: path.clone(),
                    line: i + 1,
                    msg,
                };
                let l: Labeled = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
                if Kind::parse(&l.kind).is_none() {
                    return Err(bad(format!("unknown kind {:?}", l.kind)));
                }
                if !known.iter().any(|c| **c == *l.category) {
                    return Err(bad(format!("unknown category {:?}", l.category)));
                }
                out.push(l);
            }
        }
    }
    if out.is_empty() {
        return Err(TrainError::Empty);
    }
    Ok(out)
}

/// Trains the classifier on the corpus with the router's rules as cues.
pub fn train(router: &Router, corpus: &[Labeled], cfg: &TrainConfig) -> Model {
    let labeled: Vec<(&str, Kind, &str)> = corpus
        .iter()
        .filter_map(|l| Some((l.text.as_str(), Kind::parse(&l.kind)?, l.category.as_str())))
        .collect();
    router.train_model(&labeled, cfg)
}

/// Why the labels cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0:?} is not an RFC 3339 time")]
    BadSince(String),
    #[error(transparent)]
    Store(#[from] crate::sinks::store::StoreError),
}

/// A stored label row (see `pipeline::label_of`).
#[derive(Debug, Deserialize)]
struct StoredLabel {
    text: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    district: String,
    kind: String,
    category: String,
    #[serde(default)]
    kind_from: String,
    #[serde(default)]
    category_from: String,
    #[serde(default)]
    case_id: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    alternatives: Vec<String>,
}

/// One exported line: the corpus format and where each label came from.
#[derive(Debug, Serialize)]
struct ExportedLabel<'a> {
    text: &'a str,
    channel: &'a str,
    district: &'a str,
    kind: &'a str,
    category: &'a str,
    kind_from: &'a str,
    category_from: &'a str,
}

/// What `export-labels` wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    /// Contacts an agent classified (a kind or category hint).
    pub agent: u64,
    /// Work orders re-dispatched to another unit (category from the unit).
    pub redispatched: u64,
    /// Re-dispatched to a unit that handles several categories, none of
    /// them named by the dispatch or among the decision's alternatives.
    pub unnamed: u64,
}

/// The category a re-dispatch of a stored work order gives it: when the
/// last `DISPATCHED` event names a unit other than the decision's, its category if
/// it names one, else the one the unit handles among the alternatives.
/// `Ok(None)`: not re-dispatched; `Ok(Some(None))`: re-dispatched, no
/// category can be named.
fn redispatch_category(
    router: &Router,
    reader: &crate::sinks::store::Reader,
    l: &StoredLabel,
) -> Result<Option<Option<String>>, crate::sinks::store::StoreError> {
    use prost::Message as _;
    if l.case_id.is_empty() {
        return Ok(None);
    }
    let events = reader.case_events(&l.case_id, pb::OrderEventType::Dispatched as i32)?;
    let Some(ev) = events
        .iter()
        .filter_map(|b| pb::OrderEvent::decode(b.as_slice()).ok())
        .rev()
        .find(|e| !e.unit.trim().is_empty())
    else {
        return Ok(None);
    };
    // Where the case went last: back at the decision's unit is no re-dispatch.
    if ev.unit.trim() == l.unit {
        return Ok(None);
    }
    let named = ev.category.trim();
    if !named.is_empty() && router.category_codes().any(|c| c == named) {
        return Ok(Some(Some(named.to_string())));
    }
    Ok(Some(
        router
            .category_for_unit(ev.unit.trim(), l.alternatives.iter().map(String::as_str))
            .map(|c| c.to_string()),
    ))
}

/// Writes the stored labeled examples (JSON lines in the corpus format)
/// received at or after `since`: contacts an agent classified, and work
/// orders a dispatcher re-dispatched to another unit (their category from
/// that unit, `category_from: "redispatch"`).
pub fn export_labels(
    router: &Router,
    data_dir: &Path,
    since: Option<&str>,
    mut out: impl std::io::Write,
) -> Result<Exported, ExportError> {
    use crate::sinks::store::StoreError;
    let since_ms = match since {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s.trim())
            .map_err(|_| ExportError::BadSince(s.into()))?
            .timestamp_millis(),
        None => i64::MIN,
    };
    let reader = crate::sinks::store::Reader::open(data_dir)?;
    let mut n = Exported::default();
    reader.labels(since_ms, |line| {
        // A row this build cannot read is skipped, not fatal: the export
        // is for retraining, and the rest is still good.
        let Ok(l) = serde_json::from_str::<StoredLabel>(&line) else {
            return Ok(());
        };
        let agent = l.kind_from == "agent" || l.category_from == "agent";
        let mut e = ExportedLabel {
            text: &l.text,
            channel: &l.channel,
            district: &l.district,
            kind: &l.kind,
            category: &l.category,
            kind_from: &l.kind_from,
            category_from: &l.category_from,
        };
        let redispatched;
        match redispatch_category(router, &reader, &l)? {
            Some(Some(c)) if l.category_from != "agent" => {
                redispatched = c;
                e.category = &redispatched;
                e.category_from = "redispatch";
                if !agent {
                    n.redispatched += 1;
                }
            }
            Some(None) if !agent => {
                n.unnamed += 1;
                return Ok(());
            }
            _ if !agent => return Ok(()),
            _ => {}
        }
        if agent {
            n.agent += 1;
        }
        let json = serde_json::to_string(&e).map_err(|e| StoreError::Output(e.into()))?;
        writeln!(out, "{json}").map_err(StoreError::Output)
    })?;
    out.flush()
        .map_err(crate::sinks::store::StoreError::Output)?;
    Ok(n)
}

/// Accuracy over some labeled contacts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub n: usize,
    pub correct: usize,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        self.n += 1;
        self.correct += usize::from(ok);
    }
    pub fn accuracy(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.correct as f64 / self.n as f64
        }
    }
}

/// One threshold of the coverage table: decisions whose confidence (the
/// smaller of kind and category) is at least `threshold`.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub threshold: f32,
    pub coverage: f64,
    pub kind_accuracy: f64,
    pub category_accuracy: f64,
}

/// What `eval` measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EvalReport {
    pub contacts: usize,
    pub refused: usize,
    pub kind: Tally,
    pub category: Tally,
    pub by_kind: BTreeMap<String, Tally>,
    pub by_category: BTreeMap<String, Tally>,
    /// (truth → decided, count), most frequent first.
    pub confused_kinds: Vec<(String, String, usize)>,
    pub confused_categories: Vec<(String, String, usize)>,
    pub coverage: Vec<Coverage>,
}

const THRESHOLDS: [f32; 9] = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

fn contact_of(i: usize, l: &Labeled, at: chrono::DateTime<Utc>) -> Contact {
    Contact {
        contact_id: format!("eval-{i}"),
        channel: Some(Channel::parse(&l.channel).unwrap_or(Channel::Phone)),
        received_at: Some(at),
        caller: Caller {
            phone: "13800138000".into(),
            wechat_openid: "o-eval".into(),
            account_id: "eval".into(),
        },
        content: l.text.clone(),
        location: Location {
            district_code: l.district.clone(),
            address: String::new(),
        },
        ..Default::default()
    }
}

/// Decides every labeled contact (no hints) and compares.
pub fn eval(router: &Router, corpus: &[Labeled]) -> EvalReport {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 25, 2, 0, 0)
        .single()
        .unwrap_or_default();
    let mut r = EvalReport {
        contacts: corpus.len(),
        ..Default::default()
    };
    let mut ck: HashMap<(String, String), usize> = HashMap::new();
    let mut cc: HashMap<(String, String), usize> = HashMap::new();
    let mut scored: Vec<(f32, bool, bool)> = Vec::new();
    for (i, l) in corpus.iter().enumerate() {
        let Ok(d) = decide(router, &contact_of(i, l, at), at) else {
            r.refused += 1;
            continue;
        };
        let (kind, cat) = (d.kind.as_str(), &*d.category);
        let (kok, cok) = (kind == l.kind, cat == l.category);
        r.kind.add(kok);
        r.category.add(cok);
        r.by_kind.entry(l.kind.clone()).or_default().add(kok);
        r.by_category
            .entry(l.category.clone())
            .or_default()
            .add(cok);
        if !kok {
            *ck.entry((l.kind.clone(), kind.to_string())).or_default() += 1;
        }
        if !cok {
            *cc.entry((l.category.clone(), cat.to_string())).or_default() += 1;
        }
        let conf = d
            .confidence
            .as_ref()
            .map(|c| c.kind.min(c.category))
            .unwrap_or(1.0);
        scored.push((conf, kok, cok));
    }
    let top = |m: HashMap<(String, String), usize>| {
        let mut v: Vec<(String, String, usize)> =
            m.into_iter().map(|((a, b), n)| (a, b, n)).collect();
        v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        v.truncate(10);
        v
    };
    r.confused_kinds = top(ck);
    r.confused_categories = top(cc);
    for t in THRESHOLDS {
        let kept: Vec<&(f32, bool, bool)> = scored.iter().filter(|s| s.0 >= t).collect();
        let n = kept.len().max(1) as f64;
        r.coverage.push(Coverage {
            threshold: t,
            coverage: kept.len() as f64 / scored.len().max(1) as f64,
            kind_accuracy: kept.iter().filter(|s| s.1).count() as f64 / n,
            category_accuracy: kept.iter().filter(|s| s.2).count() as f64 / n,
        });
    }
    r
}

/// The report as text.
pub fn render(r: &EvalReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} contacts ({} refused by the router)\nkind      accuracy {:.3} ({}/{})\ncategory  accuracy {:.3} ({}/{})",
        r.contacts,
        r.refused,
        r.kind.accuracy(),
        r.kind.correct,
        r.kind.n,
        r.category.accuracy(),
        r.category.correct,
        r.category.n
    );
    let _ = writeln!(s, "\nper kind:");
    for (k, t) in &r.by_kind {
        let _ = writeln!(s, "  {k:<14} {:.3} ({}/{})", t.accuracy(), t.correct, t.n);
    }
    let _ = writeln!(s, "\nper category:");
    for (k, t) in &r.by_category {
        let _ = writeln!(s, "  {k:<24} {:.3} ({}/{})", t.accuracy(), t.correct, t.n);
    }
    let _ = writeln!(s, "\nmost confused kinds (truth → decided):");
    for (a, b, n) in &r.confused_kinds {
        let _ = writeln!(s, "  {a} → {b}: {n}");
    }
    let _ = writeln!(s, "\nmost confused categories (truth → decided):");
    for (a, b, n) in &r.confused_categories {
        let _ = writeln!(s, "  {a} → {b}: {n}");
    }
    let _ = writeln!(
        s,
        "\nconfidence ≥ threshold: coverage, kind accuracy, category accuracy"
    );
    for c in &r.coverage {
        let _ = writeln!(
            s,
            "  {:.2}  {:.3}  {:.3}  {:.3}",
            c.threshold, c.coverage, c.kind_accuracy, c.category_accuracy
        );
    }
    s
}
