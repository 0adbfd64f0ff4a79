//! The characters' weights of dedup's problem comparison
//! (`router/data/char_df.txt`) are the ones the classifier's training
//! contacts give: recounted here, so a change to the corpus or to the
//! folding without recounting fails. `HOTLINE_REGENERATE=1` rewrites the file.
mod common;

use common::{field, jsonl};
use hotline_router::dedup::rarity;

#[test]
fn the_embedded_counts_are_the_training_corpus_counts() {
    let mut files: Vec<String> = std::fs::read_dir("data/corpus")
        .expect("corpus directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl") && !n.starts_with("heldout"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let texts: Vec<String> = files
        .iter()
        .flat_map(|f| jsonl(&format!("data/corpus/{f}")))
        .map(|v| field(&v, "text"))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let want = rarity::count(&refs);
    if std::env::var_os("HOTLINE_REGENERATE").is_some() {
        std::fs::write("data/char_df.txt", &want).expect("write data/char_df.txt");
    }
    assert!(
        want == rarity::EMBEDDED,
        "router/data/char_df.txt is stale: HOTLINE_REGENERATE=1 cargo test -p hotline-router --test rarity"
    );
}
