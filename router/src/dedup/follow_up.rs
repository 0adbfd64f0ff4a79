//! Whether a contact's text refers back to an earlier contact of the same
//! caller ("还是我，昨天反映的那个事", "又打来了", "第三次打了"): a caller who
//! says so is following up a matter, even in words that share nothing with
//! the first contact's, so the repeat rule (Art. 14(3)) links it to that
//! caller's recent matter rather than opening a new one.
//!
//! Three kinds of reference back, written from how callers refer back, not
//! from any one labeled set:
//! - phrases that are a reference by themselves (又是我, 再次反映, 第二次打);
//! - a time word followed within a few characters by a verb of contacting
//!   (昨天……反映, 前两天……打, 上午……问), so "昨天说有人来看" counts and
//!   "昨天晚上停电" does not;
//! - "still" followed by the matter named as one (还是……的事, 还是……的问题),
//!   so "还是竹园快递驿站的问题" counts and "还是没有水" does not.
//!
//! Weaker, a text may only go on with something ([`Reference::Continues`]:
//! 又, 还是, 还没, 到现在, 补充, 那个事, 你们回复说 …): "又吵了一夜",
//! "水还是黄的", "还没修好" are how a caller follows up without saying so,
//! though a first report may use the same words (又脏又乱 is not one: 又
//! twice in a few characters is "both … and"). And a caller may say the
//! contact is on another matter ([`Reference::Another`]: a word of "other"
//! followed by the matter named as one — 另外一个事, 别的问题 —, "one
//! more" after a verb of reporting — 又要投诉一个, 说个别的 — or "this
//! time it is" — 这回是斜对面那家), which wins over both.
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

/// "Again" alone: going on, unless it is one of 又 … 又 ("both … and").
const BARE_AGAIN: &[&str] = &["又"];

/// Words of going on with something already told: still, not yet.
const CONTINUES: &[&str] = &[
    "还没",
    "还在",
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
    // The matter as one, the hotline's answer to it.
    "那个事",
    "那件事",
    "回复说",
    "好几次了",
];

/// Words of "other" that say the contact is on another matter when the
/// matter is named as one right after them ([`OTHER_MATTER`]).
const OTHER: &[&str] = &[
    "另外",
    "另一",
    "别的",
    "其他",
    "其它",
    "新的",
    "还有一",
    "还有个",
];

/// The matter named as one after a word of [`OTHER`].
const OTHER_MATTER: &[&str] = &["事", "问题", "情况", "投诉"];

/// How many characters after a word of [`OTHER`] the matter may come
/// (另外一个小区的事 is too far: the place, not the matter, is other).
const OTHER_NEAR: usize = 3;

/// "One more" after a verb of reporting: another matter by itself.
const ONE_MORE: &[&str] = &[
    "又要投诉一个",
    "又要投诉一家",
    "又要反映一个",
    "再反映一个",
    "还要反映一个",
    "再投诉一个",
    "说个别的",
    "说点别的",
    "说个其他的",
];

/// "This time it is …": another matter, unless what follows counts the
/// calls or says it goes on (这次是第三次, 这回是又停了, 这次是我).
const THIS_TIME: &[&str] = &["这回是", "这次是"];

/// What after [`THIS_TIME`] keeps a text on the same matter.
const THIS_TIME_SAME: &[char] = &['第', '又', '还', '我'];

/// How many characters after the time word the verb may come.
const NEAR: usize = 10;

/// Which list a match of the one automaton over every list comes from.
#[derive(Clone, Copy)]
enum Cue {
    Reference,
    When,
    Again,
    BareAgain,
    Continues,
    Other,
    OneMore,
    ThisTime,
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

/// One automaton over all the lists (longest first, so 还是上次 is a
/// reference, not 还是 then 上次), the cue of each pattern, and the
/// follower automatons.
struct Cues {
    all: AhoCorasick,
    kinds: Vec<Cue>,
    contacted: AhoCorasick,
    matter: AhoCorasick,
    other_matter: AhoCorasick,
}

static CUES: LazyLock<Option<Cues>> = LazyLock::new(|| {
    let lists = [
        (REFERENCES, Cue::Reference),
        (WHEN, Cue::When),
        (AGAIN, Cue::Again),
        (BARE_AGAIN, Cue::BareAgain),
        (CONTINUES, Cue::Continues),
        (OTHER, Cue::Other),
        (ONE_MORE, Cue::OneMore),
        (THIS_TIME, Cue::ThisTime),
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
        other_matter: longest_first(OTHER_MATTER).ok()?,
    })
});

/// What `content` says of the caller's earlier contacts (see the module
/// doc). Traditional characters read as simplified.
pub fn reference(content: &str) -> Reference {
    reference_simplified(&fast2s::convert(content))
}

/// The first `n` characters of `s`.
fn head(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// Whether the 又 at `at` (followed by `after`) is one of 又 … 又 ("both …
/// and": 又脏又乱), another 又 among the three characters before or after it.
fn both_and(s: &str, at: usize, after: &str) -> bool {
    head(after, 3).contains('又') || s[..at].chars().rev().take(3).any(|c| c == '又')
}

/// [`reference`] of a text already converted to simplified characters (one
/// pass of one automaton; the few characters after a time word, "still" or
/// "other" are searched only where one occurs): another matter if it says
/// so, else a reference back if one is made, else going on if a word of it
/// occurs.
pub fn reference_simplified(s: &str) -> Reference {
    let Some(c) = &*CUES else {
        return Reference::None;
    };
    let mut back = false;
    let mut going_on = false;
    for m in c.all.find_iter(s) {
        let Some(&kind) = c.kinds.get(m.pattern().as_usize()) else {
            continue;
        };
        let after = &s[m.end()..];
        match kind {
            Cue::OneMore => return Reference::Another,
            Cue::Other if c.other_matter.is_match(head(after, OTHER_NEAR)) => {
                return Reference::Another
            }
            Cue::Other => {}
            Cue::ThisTime if !after.starts_with(THIS_TIME_SAME) => return Reference::Another,
            Cue::ThisTime => {}
            Cue::Reference => back = true,
            Cue::When => back |= c.contacted.is_match(head(after, NEAR)),
            Cue::Again if c.matter.is_match(head(after, NEAR)) => back = true,
            // 还是 / 又是 without a matter named after it: still going on.
            Cue::Again => going_on = true,
            // 又脏又乱: "both … and", not "again".
            Cue::BareAgain => going_on |= !both_and(s, m.start(), after),
            Cue::Continues => going_on = true,
        }
    }
    if back {
        Reference::RefersBack
    } else if going_on {
        Reference::Continues
    } else {
        Reference::None
    }
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
            assert_eq!(reference(t), Reference::RefersBack, "{t}");
        }
        for t in [
            "昨天晚上停电了，到现在都没来",
            "楼上邻居天天晚上打麻将",
            "还是没有水",
            "还是一样的吵，睡不着觉",
            "小区门口的路灯坏了",
            "",
        ] {
            assert_ne!(reference(t), Reference::RefersBack, "{t}");
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
            ("这次是第三次了", Reference::None),
            ("还是我，昨天反映的停水", Reference::RefersBack),
            ("今天又停水了，我昨天打过电话", Reference::RefersBack),
            ("又是我，今天说另外一个事，电梯坏了", Reference::Another),
            ("又要投诉一个出租车，不打表", Reference::Another),
            ("还是我，还有一个问题，路灯不亮", Reference::Another),
            ("另外一件事，路灯不亮", Reference::Another),
            ("还是文化路的，这回是斜对面那家烧烤", Reference::Another),
            ("又是我，今天说个别的，电梯坏了", Reference::Another),
            ("这次是第三次打了，还是没人管", Reference::RefersBack),
            ("这回是又停了一天", Reference::Continues),
            // Not another matter: another place, a month, a staff member.
            ("又一个月了还没修", Reference::Continues),
            ("另外一个小区也停水了", Reference::None),
            ("个别的工作人员态度差", Reference::None),
            ("又要投诉一下，还是没人管", Reference::Continues),
            // Not going on: "both … and", speech filler, a first report.
            ("楼道里又脏又乱", Reference::None),
            ("我跟你们说哈，楼下烧烤油烟大", Reference::None),
            ("希望给个处理结果", Reference::None),
            ("小区门口的路灯坏了", Reference::None),
            ("", Reference::None),
        ] {
            assert_eq!(reference(t), want, "{t}");
        }
    }
}
