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
//!
//! Weaker, a text may only go on with something ([`Reference::Continues`]:
//! 又, 还是, 还没, 到现在, 补充, 那个事, 你们回复说 …): "又吵了一夜",
//! "水还是黄的", "还没修好"
//! are how a caller follows up without saying so, though a first report
//! may use the same words. And a caller may say the contact is on another
//! matter ([`Reference::Another`]: 另外一个事, 说个别的, 又要投诉一个), which
//! wins over both.
use super::text::longest_first;
use aho_corasick::AhoCorasick;
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

/// Words of going on with something already told: again, still, not yet.
const CONTINUES: &[&str] = &[
    "又",
    "还没",
    "还在",
    "还不",
    "还有人",
    "仍然",
    "仍旧",
    "依然",
    "依旧",
    "照样",
    "照旧",
    "到现在",
    "至今",
    "一直没",
    "补充",
    "总算",
    "终于",
    // The matter as one, the hotline's answer to it.
    "那个事",
    "那件事",
    "处理结果",
    "回复说",
    "你们说",
    "好几次了",
    // Not another matter: "this is the third time".
    "这次是第",
    "这回是第",
];

/// Words saying the contact is on another matter than the caller's last.
const ANOTHER: &[&str] = &[
    "另外一个",
    "另外一件",
    "另外个",
    "另一个",
    "另一件",
    "另一家",
    "另一条",
    "别的事",
    "个别的",
    "其他事",
    "其他的事",
    "新的问题",
    "新问题",
    "还有一个事",
    "还有个事",
    "还有一件事",
    "换个事",
    "又一个",
    "又一家",
    "又要投诉一",
    "又要反映一",
    "再反映一个",
    "这回是",
    "这次是",
];

/// How many characters after the time word the verb may come.
const NEAR: usize = 10;

/// What a match of the one automaton over [`REFERENCES`], [`WHEN`] and
/// [`AGAIN`] is.
#[derive(Clone, Copy)]
enum Cue {
    Reference,
    When,
    Again,
    Continues,
    Another,
}

/// What a text says of the caller's earlier contacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reference {
    /// Nothing.
    #[default]
    None,
    /// Words of going on (又, 还是, 还没 …): perhaps a follow-up.
    Continues,
    /// It refers back to an earlier contact (还是我, 昨天反映的 …).
    RefersBack,
    /// It says it is on another matter (另外一个事 …).
    Another,
}

/// One automaton over the three lists (longest first, so 还是上次 is a
/// reference, not 还是 then 上次), the cue of each pattern, and the two
/// follower automatons.
struct Cues {
    all: AhoCorasick,
    kinds: Vec<Cue>,
    contacted: AhoCorasick,
    matter: AhoCorasick,
}

static CUES: LazyLock<Option<Cues>> = LazyLock::new(|| {
    let lists = [
        (REFERENCES, Cue::Reference),
        (WHEN, Cue::When),
        (AGAIN, Cue::Again),
        (CONTINUES, Cue::Continues),
        (ANOTHER, Cue::Another),
    ];
    let words = lists.iter().flat_map(|(l, _)| l.iter());
    let kinds = lists
        .iter()
        .flat_map(|(l, k)| std::iter::repeat_n(*k, l.len()))
        .collect();
    Some(Cues {
        all: longest_first(words).ok()?,
        kinds,
        contacted: longest_first(CONTACTED).ok()?,
        matter: longest_first(MATTER).ok()?,
    })
});

/// Whether `content` refers back to an earlier contact (see the module doc).
/// Traditional characters read as simplified.
pub fn refers_back(content: &str) -> bool {
    reference(content) == Reference::RefersBack
}

/// What `content` says of the caller's earlier contacts (see the module
/// doc). Traditional characters read as simplified.
pub fn reference(content: &str) -> Reference {
    reference_simplified(&fast2s::convert(content))
}

/// [`reference`] of a text already converted to simplified characters (one
/// pass of one automaton; the few characters after a time word or "still"
/// are searched only where one occurs): another matter if it says so, else
/// a reference back if one is made, else going on if a word of it occurs.
pub fn reference_simplified(s: &str) -> Reference {
    let Some(c) = &*CUES else {
        return Reference::None;
    };
    let mut out = Reference::None;
    for m in c.all.find_iter(s) {
        let follower = match c.kinds.get(m.pattern().as_usize()) {
            Some(Cue::Another) => return Reference::Another,
            Some(Cue::Reference) => {
                out = Reference::RefersBack;
                continue;
            }
            Some(Cue::Continues) => {
                if out == Reference::None {
                    out = Reference::Continues;
                }
                continue;
            }
            Some(Cue::When) => &c.contacted,
            Some(Cue::Again) => &c.matter,
            None => continue,
        };
        let after = &s[m.end()..];
        let end = after
            .char_indices()
            .nth(NEAR)
            .map_or(after.len(), |(i, _)| i);
        if follower.is_match(&after[..end]) {
            out = Reference::RefersBack;
        } else if matches!(c.kinds.get(m.pattern().as_usize()), Some(Cue::Again))
            && out == Reference::None
        {
            // 还是 / 又是 without a matter named after it: still going on.
            out = Reference::Continues;
        }
    }
    out
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

    /// Words of going on are a weaker reference; a caller saying the
    /// contact is on another matter wins over any reference; "this is the
    /// third time" is not another matter.
    #[test]
    fn going_on_and_another_matter_are_told_apart() {
        for (t, want) in [
            ("又吵了一夜 三点过都没停", Reference::Continues),
            ("水还是黄的", Reference::Continues),
            ("還沒修好 都一個禮拜了", Reference::Continues),
            ("这次是第三次了，物业还是不管", Reference::Continues),
            ("你们回复说在协调，协调到现在", Reference::Continues),
            ("天然气那个事，燃气公司说可以少收点", Reference::Continues),
            ("还是我，昨天反映的停水", Reference::RefersBack),
            ("今天又停水了，我昨天打过电话", Reference::RefersBack),
            ("又是我，今天说个别的，电梯坏了", Reference::Another),
            ("又要投诉一个出租车，不打表", Reference::Another),
            ("还是文化路的，这回是斜对面那家烧烤", Reference::Another),
            ("另外一件事，路灯不亮", Reference::Another),
            ("小区门口的路灯坏了", Reference::None),
            ("", Reference::None),
        ] {
            assert_eq!(reference(t), want, "{t}");
        }
    }
}
