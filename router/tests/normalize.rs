//! `normalize_text` folds full-width forms before its NFKC quick check; it
//! must give exactly what full NFKC (then lower case and whitespace runs to
//! one space) gives.
use hotline_router::normalize::{normalize_text, spaced_lower};
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

/// The definition: NFKC always, then the same lower-casing and spacing.
fn reference(s: &str) -> String {
    spaced_lower(s.nfkc())
}

/// Characters Chinese contacts carry, and the ones that interact with NFKC:
/// full-width forms, CJK, ASCII, combining marks, compatibility characters.
fn text() -> impl Strategy<Value = String> {
    let pool: Vec<char> = "，。！？：；（）＂＇ＡＢｚ０９＠　 \t\n路灯坏了好几天投诉、《》「」『』【】“”…ab Z9\u{0301}\u{0308}\u{3099}か①ﬁ㎡Ⅳ½\u{00a0}\u{200b}"
        .chars()
        .chain(['\u{ff01}', '\u{ff5e}', '\u{ff5f}', '\u{ff61}', '\u{ffe5}'])
        .collect();
    proptest::collection::vec(proptest::sample::select(pool), 0..40)
        .prop_map(|v| v.into_iter().collect())
}

/// Only what the per-character fast path takes: ASCII (controls included),
/// CJK ideographs, common CJK punctuation, every full-width form.
fn common_text() -> impl Strategy<Value = String> {
    let pool: Vec<char> = "路灯坏了好几天投诉、。《》「」『』【】“”ab Z9\t\n\r\u{7f}\u{1}"
        .chars()
        .chain(['\u{4e00}', '\u{9fff}', '\u{3000}'])
        .chain(('\u{ff01}'..='\u{ff5e}').step_by(7))
        .collect();
    proptest::collection::vec(proptest::sample::select(pool), 0..40)
        .prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    #[test]
    fn same_as_full_nfkc(s in text()) {
        prop_assert_eq!(normalize_text(&s), reference(&s));
    }

    #[test]
    fn common_chinese_text_same_as_full_nfkc(s in common_text()) {
        prop_assert_eq!(normalize_text(&s), reference(&s));
    }
}

#[test]
fn a_chinese_complaint_with_full_width_punctuation() {
    assert_eq!(
        normalize_text("　您好，我要投诉！ＡＢＣ小区　　路灯坏了（３天）"),
        "您好,我要投诉!abc小区 路灯坏了(3天)"
    );
}
