//! Whether a contact's text refers back to an earlier contact of the same
//! caller ("还是我，昨天反映的那个事", "又打来了", "第三次打了"): a caller who
//! says so is following up a matter, even in words that share nothing with
//! the first contact's, so the repeat rule (Art. 14(3)) links it to that
//! caller's recent matter rather than opening a new one.
//!
//! Two kinds of cue, written from how callers refer back, not from any one
//! labeled set:
//! - phrases that are a reference by themselves (又是我, 再次反映, 第二次打);
//! - a time word followed within a few characters by a verb of contacting
//!   (昨天……反映, 前两天……打, 上午……问), so "昨天说有人来看" counts and
//!   "昨天晚上停电" does not;
//! - "still" followed by the matter named as one (还是……的事, 还是……的问题),
//!   so "还是竹园快递驿站的问题" counts and "还是没有水" does not.
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::sync::LazyLock;

/// Phrases that refer back by themselves.
const REFERENCES: &[&str] = &[
    "还是我",
    "又是我",
    "我又打",
    "又打来",
    "又打电话",
    "又来电",
    "又来反映",
    "又来问",
    "再次来电",
    "再次反映",
    "再次投诉",
    "再次咨询",
    "再次举报",
    "还是上次",
    "还是上回",
    "还是昨天",
    "还是前天",
    "还是前几天",
    "还是前两天",
    "还是之前",
    "还是刚才",
    "还是那个事",
    "还是那件事",
    "还是这个事",
    "还是这件事",
    "第二次打",
    "第三次打",
    "第四次打",
    "第二次反映",
    "第三次反映",
    "第2次打",
    "第3次打",
    "第2次反映",
    "第3次反映",
    "打了好几次",
    "打了几次",
    "打过电话",
    "打过12345",
    "催一下",
    "催一催",
    "催办",
    "有没有回复",
    "还没有回复",
    "还没回复",
    "有没有进展",
    "有没有人处理",
];

/// Time words that start a reference when a verb of contacting follows.
const WHEN: &[&str] = &[
    "上次",
    "上回",
    "上周",
    "上礼拜",
    "上星期",
    "上个礼拜",
    "上个星期",
    "上个月",
    "昨天",
    "昨晚",
    "前天",
    "前两天",
    "前几天",
    "之前",
    "刚才",
    "刚刚",
    "今天上午",
    "今天早上",
    "上午",
    "早上",
];

/// Verbs of contacting the hotline.
const CONTACTED: &[&str] = &["反映", "打", "来电", "说", "问", "投诉", "咨询", "举报"];

/// Words that say "again" or "still" before a matter named as one.
const AGAIN: &[&str] = &["还是", "又是"];

/// A matter named as one.
const MATTER: &[&str] = &["事", "问题"];

/// How many characters after the time word the verb may come.
const NEAR: usize = 10;

fn automaton(words: &[&str]) -> Option<AhoCorasick> {
    AhoCorasickBuilder::new()
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(MatchKind::LeftmostLongest)
        .build(words)
        .ok()
}

static REFERENCES_AC: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| automaton(REFERENCES));
static WHEN_AC: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| automaton(WHEN));
static CONTACTED_AC: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| automaton(CONTACTED));
static AGAIN_AC: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| automaton(AGAIN));
static MATTER_AC: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| automaton(MATTER));

/// Whether a word of `first` is followed within [`NEAR`] characters by a
/// word of `then`.
fn followed(s: &str, first: &Option<AhoCorasick>, then: &Option<AhoCorasick>) -> bool {
    let (Some(first), Some(then)) = (first, then) else {
        return false;
    };
    first.find_iter(s).any(|m| {
        let after = &s[m.end()..];
        let end = after
            .char_indices()
            .nth(NEAR)
            .map_or(after.len(), |(i, _)| i);
        then.is_match(&after[..end])
    })
}

/// Whether `content` refers back to an earlier contact (see the module doc).
/// Traditional characters and full-width forms read as simplified; spaces
/// and punctuation are ignored.
pub fn refers_back(content: &str) -> bool {
    let s: String = fast2s::convert(content)
        .chars()
        .map(crate::normalize::fold_full_width)
        .filter(|c| c.is_alphanumeric())
        .collect();
    let Some(refs) = &*REFERENCES_AC else {
        return false;
    };
    refs.is_match(&s)
        || followed(&s, &WHEN_AC, &CONTACTED_AC)
        || followed(&s, &AGAIN_AC, &MATTER_AC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_time_words_with_a_verb_refer_back() {
        for t in [
            "还是我，养老保险那个事",
            "又是我，房产证那个",
            "我昨天晚上在APP上反映过网约车绕路",
            "前两天说的移民补助，乡上说资金没下来",
            "還是竹園快遞驛站的問題",
            "第三次打了哈，医保报销",
            "上午问的优待证，镇上说要去区里办",
        ] {
            assert!(refers_back(t), "{t}");
        }
        for t in [
            "昨天晚上停电了，到现在都没来",
            "楼上邻居天天晚上打麻将",
            "还是没有水",
            "还是一样的吵，睡不着觉",
            "小区门口的路灯坏了",
            "",
        ] {
            assert!(!refers_back(t), "{t}");
        }
    }
}
