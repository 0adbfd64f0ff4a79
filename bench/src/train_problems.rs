//! `hotline-bench train-problems`: the problem-type model of dedup
//! (`hotline_router::dedup::types`) trained on labeled paraphrases
//! (`router/data/problems/corpus.jsonl` and `corpus2.jsonl`: JSON lines
//! `{"text", "type"}`),
//! written where the router embeds it, with its accuracy on the corpus
//! itself and on a held-out tenth (trained without it first).
use hotline_router::dedup::types::{cosine, grams_of, Example, TypeModel, TypesTrain};
use hotline_router::dedup::DedupConfig;
use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    text: String,
    #[serde(rename = "type")]
    kind: String,
}

/// One file's paraphrases; a line that does not parse is reported with
/// the file's name and the line's number.
fn lines(name: &str, text: &str) -> anyhow::Result<Vec<Line>> {
    let mut rows = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let r: Line =
            serde_json::from_str(l).map_err(|e| anyhow::anyhow!("{name}: line {}: {e}", i + 1))?;
        rows.push(r);
    }
    Ok(rows)
}

/// Reads corpus files (name, text): the labels (sorted) and the examples.
pub fn read(files: &[(String, String)]) -> anyhow::Result<(Vec<String>, Vec<Example>)> {
    let mut rows = Vec::new();
    for (name, text) in files {
        rows.extend(lines(name, text)?);
    }
    let labels: Vec<String> = rows
        .iter()
        .map(|r| r.kind.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let examples = rows
        .iter()
        .filter_map(|r| {
            let y = labels.binary_search(&r.kind).ok()?;
            Some((grams_of(&r.text), y))
        })
        .collect();
    Ok((labels, examples))
}

fn accuracy(m: &TypeModel, ex: &[Example]) -> f64 {
    let ok = ex
        .iter()
        .filter(|(g, y)| usize::from(m.predict(g).0[0]) == y + 1)
        .count();
    ok as f64 / ex.len().max(1) as f64
}

/// How a model does on another writer's paraphrases: accuracy; the share
/// of same-type pairs whose types agree as dedup's `placed_types` asks;
/// the share of different-type pairs that still meet (dedup's
/// `other_types`, below which it parts two problems).
fn score_other(m: &TypeModel, labels: &[String], name: &str, rows: &[Line]) {
    let cfg = DedupConfig::default();
    let preds: Vec<_> = rows.iter().map(|r| m.predict(&grams_of(&r.text))).collect();
    // A type the model lacks scores wrong.
    let ok = rows
        .iter()
        .zip(&preds)
        .filter(|(r, p)| {
            labels
                .binary_search(&r.kind)
                .is_ok_and(|y| usize::from(p.0[0]) == y + 1)
        })
        .count();
    let (mut same, mut same_agree, mut other, mut other_meet) = (0u64, 0u64, 0u64, 0u64);
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let c = cosine((&preds[i].0, &preds[i].1), (&preds[j].0, &preds[j].1));
            // Same or different by the file's own labels.
            if rows[i].kind == rows[j].kind {
                same += 1;
                same_agree += u64::from(c >= cfg.placed_types);
            } else {
                other += 1;
                other_meet += u64::from(c >= cfg.other_types);
            }
        }
    }
    eprintln!(
        "{name}: {} paraphrases, accuracy {:.3}; same type agreeing (>= {}) {:.3} of {same} pairs; \
         different types meeting (>= {}) {:.4} of {other}",
        rows.len(),
        ok as f64 / rows.len().max(1) as f64,
        cfg.placed_types,
        same_agree as f64 / same.max(1) as f64,
        cfg.other_types,
        other_meet as f64 / other.max(1) as f64,
    );
}

/// Trains, reports (also on each of `eval`'s files: name and text), and
/// returns the model file's bytes.
pub fn run(
    corpus: &[(String, String)],
    cfg: &TypesTrain,
    eval: &[(String, String)],
) -> anyhow::Result<Vec<u8>> {
    let (labels, examples) = read(corpus)?;
    // The other writers' files are read before any training.
    let eval = eval
        .iter()
        .map(|(name, text)| Ok((name, lines(name, text)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    anyhow::ensure!(!examples.is_empty(), "no labeled paraphrases");
    let (train, held): (Vec<_>, Vec<_>) = examples
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 10 != 7);
    let strip = |v: Vec<(usize, Example)>| v.into_iter().map(|(_, x)| x).collect::<Vec<_>>();
    let (train, held) = (strip(train), strip(held));
    let dev = TypeModel::train(labels.clone(), &train, cfg);
    eprintln!(
        "{} types, {} paraphrases; trained on 9/10: {:.3} on them, {:.3} on the other tenth",
        labels.len(),
        examples.len(),
        accuracy(&dev, &train),
        accuracy(&dev, &held)
    );
    let model = TypeModel::train(labels.clone(), &examples, cfg);
    eprintln!("trained on all: {:.3} on them", accuracy(&model, &examples));
    for (name, rows) in &eval {
        score_other(&model, &labels, name, rows);
    }
    Ok(model.to_bytes())
}
