//! `hotline-bench dedup-eval FILE`: precision, recall and F1 over pairs for
//! repeats and clusters on a labeled set, running each contact in time order
//! through the same decide + dedup code the daemon uses.
//!
//! - Repeat pairs: truth = same `repeat_group`; found = linked by
//!   `repeat_of` (a repeat names the original case, and joins it when it is
//!   a work order), transitively.
//! - Cluster pairs, over contacts of different callers only (different
//!   `repeat_group`s): truth = same `cluster_group`; found = same cluster
//!   (a cluster's lead is the contact whose case leads it).
use hotline_ingest::wire::contact_from;
use hotline_proto::v1 as pb;
use hotline_router::dedup::types::TypeModel;
use hotline_router::dedup::{self, Dedup, DedupConfig, DedupRules};
use hotline_router::Router;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Deserialize)]
struct Labeled {
    contact: pb::Contact,
    #[serde(default)]
    repeat_group: String,
    #[serde(default)]
    cluster_group: String,
}

#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub true_pairs: u64,
    pub found_pairs: u64,
    pub correct_pairs: u64,
}

impl Prf {
    fn new(t: u64, f: u64, c: u64) -> Prf {
        let precision = if f == 0 { 1.0 } else { c as f64 / f as f64 };
        let recall = if t == 0 { 1.0 } else { c as f64 / t as f64 };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            precision,
            recall,
            f1,
            true_pairs: t,
            found_pairs: f,
            correct_pairs: c,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub contacts: usize,
    pub refused: usize,
    pub repeat: Prf,
    pub cluster: Prf,
}

impl crate::report::Printed for EvalReport {
    /// The shape the issue asks for (`{"repeat": {precision, recall, f1}, "cluster": …}`)
    /// plus the contact counts and the pair counts behind the ratios.
    fn json(&self) -> anyhow::Result<String> {
        Ok(serde_json::json!({
            "repeat": {"precision": self.repeat.precision, "recall": self.repeat.recall, "f1": self.repeat.f1},
            "cluster": {"precision": self.cluster.precision, "recall": self.cluster.recall, "f1": self.cluster.f1},
            "contacts": self.contacts,
            "refused": self.refused,
            "pairs": {"repeat": self.repeat, "cluster": self.cluster},
        })
        .to_string())
    }

    fn summary(&self) -> String {
        let line = |n: &str, p: &Prf| {
            format!(
                "{n:8} precision {:.3}  recall {:.3}  F1 {:.3}  (pairs: {} true, {} found, {} correct)",
                p.precision, p.recall, p.f1, p.true_pairs, p.found_pairs, p.correct_pairs
            )
        };
        format!(
            "{} contacts ({} refused by the router)\n{}\n{}",
            self.contacts,
            self.refused,
            line("repeat", &self.repeat),
            line("cluster", &self.cluster)
        )
    }
}

struct Row {
    repeat_of: String,
    text: String,
    category: String,
    district: String,
    repeat_group: String,
    cluster_group: String,
    case: String,
    cluster: Option<String>,
    /// What dedup matched the contact with (for `HOTLINE_EVAL_PAIRS`).
    record: Option<dedup::MatterRecord>,
}

/// Evaluates the labeled JSON lines in `text`, with the embedded
/// problem-type model unless `types` says otherwise (`Some(None)`: none).
pub fn evaluate(
    text: &str,
    cfg: DedupConfig,
    types: Option<Option<TypeModel>>,
) -> anyhow::Result<EvalReport> {
    let router =
        Router::embedded().map_err(|e| anyhow::anyhow!("embedded rules: {} error(s)", e.len()))?;
    let mut rules =
        DedupRules::embedded(cfg).map_err(|e| anyhow::anyhow!("matters lexicon: {e}"))?;
    if let Some(t) = types {
        rules.lexicon = rules.lexicon.with_types(t);
    }
    let rules = std::sync::Arc::new(rules);
    let mut idx = Dedup::new(rules.clone(), &router);
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Labeled =
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))?;
        let c = contact_from(&l.contact).map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))?;
        items.push((c, l.repeat_group, l.cluster_group));
    }
    items.sort_by_key(|(c, _, _)| c.received_at);
    let mut rows = Vec::new();
    let mut refused = 0;
    for (c, repeat_group, cluster_group) in items {
        let now = c.received_at.unwrap_or_default();
        match dedup::decide(&router, &mut idx, &c, now) {
            Ok((d, o)) => rows.push(Row {
                record: dedup::record(&router, &rules, &c, &d),
                repeat_of: d.dedup.repeat_of.clone(),
                text: c.content.clone(),
                category: d.category.to_string(),
                district: d.district_code.clone(),
                repeat_group,
                cluster_group,
                case: d.case_id.clone(),
                cluster: o.cluster_id.clone(),
            }),
            Err(e) => {
                if std::env::var_os("HOTLINE_EVAL_REFUSED").is_some() {
                    eprintln!("refused {}: {e}", c.contact_id);
                }
                refused += 1
            }
        }
    }
    // A cluster's lead: the first contact whose case leads it.
    let mut first_of_case: HashMap<String, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        first_of_case.entry(r.case.clone()).or_insert(i);
    }
    let mut cluster_of: Vec<Option<String>> = rows.iter().map(|r| r.cluster.clone()).collect();
    for r in &rows {
        if let Some(cid) = &r.cluster {
            if let Some(&lead) = cid.strip_prefix("CL-").and_then(|lc| first_of_case.get(lc)) {
                cluster_of[lead] = Some(cid.clone());
            }
        }
    }
    dump_pairs(&rules, &rows, &cluster_of);
    // Repeat groups: case ids joined by repeat_of links.
    let mut parent: HashMap<String, String> = HashMap::new();
    fn find(p: &mut HashMap<String, String>, x: &str) -> String {
        let mut cur = x.to_string();
        while let Some(next) = p.get(&cur).filter(|n| **n != cur).cloned() {
            cur = next;
        }
        cur
    }
    for r in &rows {
        if !r.repeat_of.is_empty() {
            let (a, b) = (find(&mut parent, &r.case), find(&mut parent, &r.repeat_of));
            if a != b {
                parent.insert(a, b);
            }
        }
    }
    let group: Vec<String> = rows.iter().map(|r| find(&mut parent, &r.case)).collect();
    let (mut rt, mut rf, mut rc, mut ct, mut cf, mut cc) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for i in 0..rows.len() {
        for j in (i + 1)..rows.len() {
            let (a, b) = (&rows[i], &rows[j]);
            let same_caller = !a.repeat_group.is_empty() && a.repeat_group == b.repeat_group;
            let found_repeat = group[i] == group[j];
            rt += u64::from(same_caller);
            rf += u64::from(found_repeat);
            rc += u64::from(same_caller && found_repeat);
            explain(a, b, same_caller, found_repeat, "repeat");
            if !same_caller {
                let truth = !a.cluster_group.is_empty() && a.cluster_group == b.cluster_group;
                let found = cluster_of[i].is_some() && cluster_of[i] == cluster_of[j];
                ct += u64::from(truth);
                cf += u64::from(found);
                cc += u64::from(truth && found);
                explain(a, b, truth, found, "cluster");
            }
        }
    }
    Ok(EvalReport {
        contacts: rows.len() + refused,
        refused,
        repeat: Prf::new(rt, rf, rc),
        cluster: Prf::new(ct, cf, cc),
    })
}

/// With `HOTLINE_EVAL_EXPLAIN=1`, prints every wrong pair to stderr.
fn explain(a: &Row, b: &Row, truth: bool, found: bool, what: &str) {
    if truth == found || std::env::var_os("HOTLINE_EVAL_EXPLAIN").is_none() {
        return;
    }
    let Ok(lex) = dedup::text::Lexicon::embedded() else {
        return;
    };
    let ((fa, pa), (fb, pb)) = (
        lex.features_and_problem(&a.text, ""),
        lex.features_and_problem(&b.text, ""),
    );
    eprintln!(
        "{what} {} matters {:x}/{:x} place {:?} sim {:.2} ov {:.2} | {} {} {} | {} {} {}",
        if truth { "MISSED" } else { "WRONG" },
        fa.matters,
        fb.matters,
        dedup::text::same_place(&fa.places, &fb.places),
        fa.sketch.similarity(&fb.sketch),
        dedup::rarity::overlap(&pa, &pb),
        a.district,
        a.category,
        a.text,
        b.district,
        b.category,
        b.text
    );
}

/// A problem's likeliest types by name, with their weights (none without
/// a model).
fn type_names(m: Option<&dedup::types::TypeModel>, p: &dedup::text::Problem) -> Vec<(String, u8)> {
    let Some(m) = m else {
        return Vec::new();
    };
    p.types
        .ids
        .iter()
        .zip(p.types.p)
        .filter(|(t, _)| **t != 0)
        .map(|(t, w)| (m.label(*t).unwrap_or("?").to_string(), w))
        .collect()
}

/// With `HOTLINE_EVAL_PAIRS=FILE`, writes the evidence of every pair of
/// different callers in one district within the cluster window, and of
/// one caller within the repeat window.
fn dump_pairs(rules: &DedupRules, rows: &[Row], cluster_of: &[Option<String>]) {
    let Some(path) = std::env::var_os("HOTLINE_EVAL_PAIRS") else {
        return;
    };
    let mut out = String::new();
    for i in 0..rows.len() {
        for j in (i + 1)..rows.len() {
            let (a, b) = (&rows[i], &rows[j]);
            let (Some(ra), Some(rb)) = (&a.record, &b.record) else {
                continue;
            };
            let same_caller = ra.idents.iter().any(|x| *x != 0 && rb.idents.contains(x));
            let window = if same_caller {
                rules.cfg.repeat_window
            } else {
                rules.cfg.cluster_window
            };
            if (!same_caller && a.repeat_group == b.repeat_group)
                || ra.district != rb.district
                || (ra.at - rb.at).abs() > window.num_seconds()
            {
                continue;
            }
            let (fa, fb) = (&ra.features, &rb.features);
            let enc = |x: Option<bool>| match x {
                Some(true) => 1,
                Some(false) => -1,
                None => 0,
            };
            let shared = fa.matters & fb.matters;
            out.push_str(
                &serde_json::json!({
                    "i": i, "j": j,
                    "y": a.cluster_group == b.cluster_group,
                    "same_caller": same_caller,
                    "repeat": a.repeat_group == b.repeat_group,
                    "place": enc(dedup::text::same_place(&fa.places, &fb.places)),
                    "fine": enc(dedup::text::fine_place_agreement(&fa.places, &fb.places)),
                    "shared": shared != 0,
                    "special": shared & rules.special_matters_bits() != 0,
                    "both_matters": fa.matters != 0 && fb.matters != 0,
                    "sim": fa.sketch.similarity(&fb.sketch),
                    "ov": dedup::rarity::overlap(&ra.problem, &rb.problem),
                    "agree": ra.problem.category_agreement(&rb.problem),
                    "samecat": ra.category == rb.category,
                    "types": ra.problem.type_agreement(&rb.problem),
                    "named": ra.problem.shares_a_name(&rb.problem),
                    "rule": rules.same_cluster_matter(
                        (fa, &ra.problem, ra.category),
                        (fb, &rb.problem, rb.category),
                        rules.cfg.cluster_similarity,
                    ),
                    "joined": cluster_of[i].is_some() && cluster_of[i] == cluster_of[j],
                    "types_a": type_names(rules.lexicon.types(), &ra.problem),
                    "types_b": type_names(rules.lexicon.types(), &rb.problem),
                    "dt": (ra.at - rb.at).abs() as f64 / 3600.0,
                    "a": a.text, "b": b.text,
                })
                .to_string(),
            );
            out.push('\n');
        }
    }
    if let Err(e) = std::fs::write(&path, out) {
        eprintln!("HOTLINE_EVAL_PAIRS {}: {e}", path.to_string_lossy());
    }
}
