//! Numbers in `decide`'s answer written without the formatting machinery
//! (the float formatter costs several times the digits it writes;
//! BENCHMARKS.md, "Router: `decide`"). Strings of parts are std's
//! `[&str]::concat` or `push_str`.

/// `v` as `format!("{v:.2}")` writes it, for `v` in 0..=1 (a probability or
/// a threshold) without the float formatter: the value times 100 is exact
/// in f64, and a tie is rounded to even as the formatter does (0.125 →
/// 0.12). Any other value (-0.0 too: "-0.00") takes the formatter.
pub(crate) fn push_fixed2(s: &mut String, v: f32) {
    if !(v.is_sign_positive() && v <= 1.0) {
        use std::fmt::Write as _;
        let _ = write!(s, "{v:.2}");
        return;
    }
    let hundredths = (f64::from(v) * 100.0).round_ties_even() as u32;
    s.push(char::from(b'0' + (hundredths / 100) as u8));
    s.push('.');
    s.push(char::from(b'0' + (hundredths / 10 % 10) as u8));
    s.push(char::from(b'0' + (hundredths % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixed2(v: f32) -> String {
        let mut s = String::new();
        push_fixed2(&mut s, v);
        s
    }

    proptest! {
        #[test]
        fn two_decimals_are_the_formatters(v in 0.0f32..=1.0) {
            prop_assert_eq!(fixed2(v), format!("{v:.2}"));
        }

        #[test]
        fn two_decimals_of_any_value_are_the_formatters(v in any::<f32>()) {
            prop_assert_eq!(fixed2(v), format!("{v:.2}"));
        }
    }

    #[test]
    fn ties_and_ends_are_the_formatters() {
        for v in [
            0.0f32, 1.0, 0.125, 0.375, 0.625, 0.875, 0.005, 0.015, 0.995, 0.5, -0.0,
        ] {
            assert_eq!(fixed2(v), format!("{v:.2}"), "{v}");
        }
    }
}
