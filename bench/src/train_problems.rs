//! `hotline-bench train-problems`: the problem-type model of dedup
//! (`hotline_router::dedup::types`) trained on labeled paraphrases
//! (`router/data/problems/corpus.jsonl`: JSON lines `{"text", "type"}`),
//! written where the router embeds it, with its accuracy on the corpus
//! itself and on a held-out tenth (trained without it first).
use hotline_router::dedup::types::{grams_of, Example, TypeModel, TypesTrain};
use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    text: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Reads a corpus: the labels (sorted) and the examples.
pub fn read(text: &str) -> anyhow::Result<(Vec<String>, Vec<Example>)> {
    let mut rows = Vec::new();
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let r: Line =
            serde_json::from_str(l).map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))?;
        rows.push(r);
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

/// Trains, reports, and returns the model file's bytes.
pub fn run(text: &str, cfg: &TypesTrain) -> anyhow::Result<Vec<u8>> {
    let (labels, examples) = read(text)?;
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
    let model = TypeModel::train(labels, &examples, cfg);
    eprintln!("trained on all: {:.3} on them", accuracy(&model, &examples));
    Ok(model.to_bytes())
}
