//! Stage 1, normalize: validates a contact and puts its text and caller into
//! one canonical form (NFKC, collapsed whitespace, one key per phone number).
//!
//! Every refusal is a [`Reject`] with its own reason code.
use crate::model::{Channel, Contact, Instant};
use crate::reject::{
    unsafe_in_id, Reject, MAX_CONTACT_ID_BYTES, MAX_CONTENT_BYTES, MAX_FIELD_BYTES, MAX_FUTURE_SECS,
};
use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

/// Whether `v` holds a character refused in ids ([`unsafe_in_id`]); an
/// ASCII string (nearly every id) is read as bytes, where only the
/// control characters are refused.
fn any_unsafe_in_id(v: &str) -> bool {
    if v.is_ascii() {
        v.bytes().any(|b| b < 0x20 || b == 0x7f)
    } else {
        v.chars().any(unsafe_in_id)
    }
}

/// A validated contact's canonical parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    pub channel: Channel,
    pub received_at: Instant,
    /// NFKC, ASCII lower-cased, whitespace runs collapsed to one space, trimmed.
    pub text: String,
    /// One key per caller: `m:<mobile>`, `t:<landline with area code>`,
    /// `wx:<openid>` or `acct:<account>`, in that order of preference.
    pub caller_key: String,
}

/// Validates `contact` as seen at `now`; `area_code` completes local landlines.
pub fn normalize(contact: &Contact, now: Instant, area_code: &str) -> Result<Normalized, Reject> {
    let id = &contact.contact_id;
    if id.trim().is_empty() {
        return Err(Reject::MissingContactId);
    }
    if id.len() > MAX_CONTACT_ID_BYTES || any_unsafe_in_id(id) {
        return Err(Reject::InvalidContactId);
    }
    for (field, v) in [
        ("location.address", &contact.location.address),
        ("category_hint", &contact.category_hint),
        ("caller.phone", &contact.caller.phone),
        ("caller.wechat_openid", &contact.caller.wechat_openid),
        ("caller.account_id", &contact.caller.account_id),
        ("call_id", &contact.call_id),
    ] {
        let id_like = field != "location.address";
        let refused = if id_like {
            any_unsafe_in_id(v)
        } else if v.is_ascii() {
            v.bytes().any(|b| (b < 0x20 || b == 0x7f) && b != b'\n')
        } else {
            v.chars().any(|c| c.is_control() && c != '\n')
        };
        if v.len() > MAX_FIELD_BYTES || refused {
            return Err(Reject::InvalidField(field));
        }
    }
    let channel = contact.channel.ok_or(Reject::UnknownChannel)?;
    let received_at = contact.received_at.ok_or(Reject::MissingReceivedAt)?;
    let ahead = (received_at - now).num_seconds();
    if ahead > MAX_FUTURE_SECS {
        return Err(Reject::ReceivedInFuture(ahead));
    }
    if contact.content.len() > MAX_CONTENT_BYTES {
        return Err(Reject::ContentTooLong(contact.content.len()));
    }
    let text = normalize_text(&contact.content);
    if text.is_empty() {
        return Err(Reject::EmptyContent);
    }
    let caller_key = caller_key(contact, channel, area_code)?;
    Ok(Normalized {
        channel,
        received_at,
        text,
        caller_key,
    })
}

/// NFKC (full-width to half-width, compatibility forms), ASCII lower case,
/// every run of whitespace (including U+3000) to one space, trimmed;
/// traditional characters folded to simplified (車禍 → 车祸), so rules and
/// texts meet whichever script the sender wrote in.
pub fn normalize_text(s: &str) -> String {
    struct SpacedLower;
    impl NfkcSink<(String, bool)> for SpacedLower {
        fn take(self, chars: impl Iterator<Item = char>) -> (String, bool) {
            spaced_lower(chars)
        }
    }
    let (out, traditional) = match plain_spaced_lower(s) {
        Some(done) => done,
        None => with_nfkc(s, SpacedLower),
    };
    if traditional {
        fast2s::convert(&out)
    } else {
        out
    }
}

/// [`spaced_lower`] of the NFKC characters of a text made only of the
/// characters [`with_nfkc`] folds one by one (ASCII, ideographs, common
/// CJK punctuation, full-width forms), in one pass over the bytes: ASCII
/// byte by byte, every other such character decoded from its three bytes
/// and sorted by ranges alone (no Unicode table); `None` at the first other
/// character (the caller then takes the general way). Nearly every contact
/// is such a text.
fn plain_spaced_lower(s: &str) -> Option<(String, bool)> {
    let table = traditional_table();
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut pending_space, mut traditional) = (false, false);
    let mut i = 0;
    while let Some(&x) = b.get(i) {
        if x < 0x80 {
            // ASCII whitespace and control characters: 0..=0x20 and DEL.
            if x <= 0x20 || x == 0x7f {
                pending_space = !out.is_empty();
            } else {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(char::from(x.to_ascii_lowercase()));
            }
            i += 1;
            continue;
        }
        // Every such character but ASCII is three bytes long (U+201C..U+FF5E).
        let (0xe0..=0xef, Some(&y), Some(&z)) = (x, b.get(i + 1), b.get(i + 2)) else {
            return None;
        };
        let c = char::from_u32(
            u32::from(x & 0x0f) << 12 | u32::from(y & 0x3f) << 6 | u32::from(z & 0x3f),
        )?;
        i += 3;
        let folded = if is_full_width(c) {
            fold_full_width(c)
        } else if nfkc_stable(c) {
            c
        } else {
            return None;
        };
        // Of these only U+3000 folds to whitespace; none is a control character.
        if folded == ' ' {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        traditional |= in_table(table, folded);
        out.push(folded.to_ascii_lowercase());
    }
    Some((out, traditional))
}

/// Whether `fast2s` folds this character to another when it stands alone:
/// the cheap test that spares simplified text (nearly all of it) the
/// conversion. A table of one bit per CJK Unified Ideograph, made once.
pub fn is_traditional(c: char) -> bool {
    in_table(traditional_table(), c)
}

fn in_table(table: &[u64], c: char) -> bool {
    let Some(i) = (c as usize).checked_sub(0x4e00).filter(|i| *i < CJK_LEN) else {
        return false;
    };
    table.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn traditional_table() -> &'static [u64] {
    static TABLE: std::sync::OnceLock<Vec<u64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut bits = vec![0u64; CJK_LEN.div_ceil(64)];
        let mut buf = [0u8; 4];
        for (i, c) in ('\u{4e00}'..='\u{9fff}').enumerate() {
            let one: &str = c.encode_utf8(&mut buf);
            if fast2s::convert(one) != one {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    })
}

/// Characters in the CJK Unified Ideographs block (U+4E00..U+9FFF).
const CJK_LEN: usize = 0x9fff - 0x4e00 + 1;

/// What consumes the NFKC characters of a text (see [`with_nfkc`]).
pub trait NfkcSink<T> {
    fn take(self, chars: impl Iterator<Item = char>) -> T;
}

/// Hands the NFKC characters of `s` to `sink`. Chinese text is nearly all
/// ASCII, CJK ideographs and common CJK punctuation — NFKC-stable, none
/// combining — plus full-width forms (，！？（）) whose NFKC mapping is one
/// ASCII character: for such text NFKC is that per-character fold, without
/// the quick check's table lookups or the decompose-recompose path
/// full-width forms would take. Other text takes the quick check, then full
/// NFKC. The sink is compiled for each way: no choice per character.
pub fn with_nfkc<T>(s: &str, sink: impl NfkcSink<T>) -> T {
    if s.chars().all(|c| nfkc_stable(c) || is_full_width(c)) {
        sink.take(s.chars().map(fold_full_width))
    } else if is_nfkc_quick(s.chars()) == IsNormalized::Yes {
        sink.take(s.chars())
    } else {
        sink.take(s.nfkc())
    }
}

/// ASCII lower case, every run of whitespace or control characters to one
/// space, trimmed: what `normalize_text` does after NFKC; and whether a
/// traditional character is among them (found in the same pass).
pub fn spaced_lower(chars: impl Iterator<Item = char>) -> (String, bool) {
    let table = traditional_table();
    let mut traditional = false;
    // A `Chars`' upper bound is its length in bytes: about the output's.
    let (low, high) = chars.size_hint();
    let mut out = String::with_capacity(high.unwrap_or(low));
    let mut pending_space = false;
    for c in chars {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            traditional |= !c.is_ascii() && in_table(table, c);
            out.push(c.to_ascii_lowercase());
        }
    }
    (out, traditional)
}

/// A character of the CJK Unified Ideographs block (U+4E00..U+9FFF).
pub fn is_ideograph(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Characters NFKC leaves as they are and that never combine with a
/// neighbour: ASCII, the CJK Unified Ideographs block, and
/// [`is_cjk_punctuation`].
fn nfkc_stable(c: char) -> bool {
    c.is_ascii() || is_ideograph(c) || is_cjk_punctuation(c)
}

/// The CJK punctuation NFKC leaves as it is: 、。《》「」『』【】“”.
pub fn is_cjk_punctuation(c: char) -> bool {
    matches!(
        c,
        '\u{3001}' | '\u{3002}' | '\u{300a}'..='\u{3011}' | '\u{201c}' | '\u{201d}'
    )
}

fn is_full_width(c: char) -> bool {
    matches!(c, '\u{ff01}'..='\u{ff5e}' | '\u{3000}')
}

/// NFKC's mapping of one full-width ASCII form (U+FF01..U+FF5E) or the
/// ideographic space; any other character unchanged.
pub fn fold_full_width(c: char) -> char {
    match c {
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn caller_key(contact: &Contact, channel: Channel, area_code: &str) -> Result<String, Reject> {
    let c = &contact.caller;
    let phone = c.phone.trim();
    let openid = c.wechat_openid.trim();
    let account = c.account_id.trim();
    let missing = |field| Err(Reject::MissingCaller { channel, field });
    match channel {
        Channel::Phone | Channel::Sms if phone.is_empty() => return missing("caller.phone"),
        Channel::Wechat if phone.is_empty() && openid.is_empty() => {
            return missing("caller.wechat_openid")
        }
        Channel::Web | Channel::App if phone.is_empty() && account.is_empty() => {
            return missing("caller.account_id")
        }
        Channel::Platform if phone.is_empty() && openid.is_empty() && account.is_empty() => {
            return missing("caller")
        }
        _ => {}
    }
    if !phone.is_empty() {
        return normalize_phone(phone, area_code).ok_or(Reject::InvalidPhone);
    }
    if !openid.is_empty() {
        return Ok(["wx:", openid].concat());
    }
    Ok(["acct:", account].concat())
}

/// Canonical key of a mainland phone number, or `None` when it is not one.
///
/// Accepts `+86`, `0086` and `86` prefixes, spaces, dashes, dots, brackets and
/// full-width digits. Mobiles become `m:1XXXXXXXXXX`; landlines become
/// `t:<area code><number>`, a number given without area code taking
/// `area_code` (the city's own).
pub fn normalize_phone(raw: &str, area_code: &str) -> Option<String> {
    struct PhoneKey<'a>(&'a str);
    impl NfkcSink<Option<String>> for PhoneKey<'_> {
        fn take(self, chars: impl Iterator<Item = char>) -> Option<String> {
            phone_key(chars, self.0)
        }
    }
    with_nfkc(raw, PhoneKey(area_code))
}

/// [`normalize_phone`] over the NFKC characters of the number.
fn phone_key(chars: impl Iterator<Item = char>, area_code: &str) -> Option<String> {
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    for c in chars {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '\u{2010}'..='\u{2015}' => {}
            _ => return None,
        }
    }
    let mut international = plus;
    let mut rest: &str = &digits;
    if let Some(r) = rest.strip_prefix("0086") {
        rest = r;
        international = true;
    } else if plus {
        rest = rest.strip_prefix("86")?;
    } else if rest.len() == 13 && rest.starts_with("861") {
        rest = &rest[2..];
        international = true;
    }
    let is_mobile =
        |s: &str| s.len() == 11 && s.starts_with('1') && matches!(s.as_bytes()[1], b'3'..=b'9');
    if is_mobile(rest) {
        return Some(["m:", rest].concat());
    }
    if international {
        // International form drops the trunk 0 of the area code.
        if (9..=11).contains(&rest.len()) && !rest.starts_with('0') && !rest.starts_with('1') {
            return Some(["t:0", rest].concat());
        }
        return None;
    }
    if rest.starts_with('0') && (10..=12).contains(&rest.len()) && !rest.starts_with("00") {
        return Some(["t:", rest].concat());
    }
    if (7..=8).contains(&rest.len()) && !rest.starts_with('0') && !rest.starts_with('1') {
        return Some(["t:", area_code, rest].concat());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_spellings_share_one_key() {
        for raw in [
            "13800138000",
            "+86 138 0013 8000",
            "0086-138-0013-8000",
            "8613800138000",
            "１３８００１３８０００",
            "(+86)138.0013.8000",
        ] {
            assert_eq!(
                normalize_phone(raw, "0839").as_deref(),
                Some("m:13800138000"),
                "{raw}"
            );
        }
        for raw in [
            "0839-3266666",
            "08393266666",
            "3266666",
            "+86 839 3266666",
            "0839 326 6666",
        ] {
            assert_eq!(
                normalize_phone(raw, "0839").as_deref(),
                Some("t:08393266666"),
                "{raw}"
            );
        }
        assert_eq!(
            normalize_phone("010-12345678", "0839").as_deref(),
            Some("t:01012345678")
        );
    }

    #[test]
    fn bad_phones_are_refused() {
        for raw in [
            "",
            "12345",
            "1380013800",
            "138001380001",
            "abc",
            "+1 415 555 0100",
            "0000000",
            "11800138000",
        ] {
            assert_eq!(normalize_phone(raw, "0839"), None, "{raw}");
        }
    }

    #[test]
    fn text_is_nfkc_lowercased_and_collapsed() {
        assert_eq!(
            normalize_text("  ＡＢＣ１２３\u{3000}\t小区  停水！ "),
            "abc123 小区 停水!"
        );
        assert_eq!(normalize_text(" \u{3000}\n "), "");
    }

    /// The byte-wise way gives what the general one gives: NFKC, then
    /// [`spaced_lower`], then the traditional fold.
    fn general(s: &str) -> String {
        let (out, traditional) = spaced_lower(s.nfkc());
        if traditional {
            fast2s::convert(&out)
        } else {
            out
        }
    }

    proptest::proptest! {
        /// The byte-wise test of an ASCII id refuses what the character
        /// test refuses.
        #[test]
        fn ids_are_refused_alike_either_way(v in "[a-z0-9\\-_:\x00-\x1f\x7f\u{85}\u{200b}\u{202e}\u{feff}é]{0,12}") {
            proptest::prop_assert_eq!(any_unsafe_in_id(&v), v.chars().any(unsafe_in_id));
        }

        #[test]
        fn the_plain_way_is_the_general_one(
            s in "[a-zA-Z0-9 \t\n\r\x0b\x0c\x00\x7f\u{85}\u{a0}\u{3000}，。、！？（）ＡＺａｚ０９《》「」【】“”‘’…—·é停水楼下車禍樓救護車测试 ]{0,40}"
        ) {
            proptest::prop_assert_eq!(normalize_text(&s), general(&s));
        }
    }

    /// None of the CJK punctuation kept is a letter or digit (the
    /// classifier's n-grams skip it without asking Unicode's tables).
    #[test]
    fn cjk_punctuation_is_no_letter() {
        let kept: Vec<char> = (char::MIN..=char::MAX)
            .filter(|&c| is_cjk_punctuation(c))
            .collect();
        assert_eq!(kept.len(), 12, "{kept:?}");
        for c in kept {
            assert!(!c.is_alphanumeric(), "{c}");
        }
    }

    #[test]
    fn traditional_characters_are_folded() {
        assert_eq!(normalize_text("車禍了，救護車！"), "车祸了,救护车!");
        assert_eq!(normalize_text("樓下失火了"), normalize_text("楼下失火了"));
        assert!(is_traditional('車') && !is_traditional('车') && !is_traditional('a'));
    }
}
