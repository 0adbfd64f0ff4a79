//! A log line that repeats under a flood (failed authentications, records
//! meeting an unavailable store) is written at most once a second; the
//! next one written says how many were left out.
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// One such line's state: a `static` at the place that logs it.
pub struct LogLimit {
    last: AtomicI64,
    quiet: AtomicU64,
}

impl LogLimit {
    pub const fn new() -> LogLimit {
        LogLimit {
            last: AtomicI64::new(0),
            quiet: AtomicU64::new(0),
        }
    }

    /// `Some(left out since the last one)` when the line is to be written
    /// now (`now_secs`: the current Unix second), `None` when it is left out.
    pub fn admit(&self, now_secs: i64) -> Option<u64> {
        if self.last.swap(now_secs, Ordering::Relaxed) == now_secs {
            self.quiet.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.quiet.swap(0, Ordering::Relaxed))
    }
}

impl Default for LogLimit {
    fn default() -> Self {
        LogLimit::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_a_second_with_the_count_left_out() {
        let l = LogLimit::new();
        assert_eq!(l.admit(100), Some(0));
        assert_eq!(l.admit(100), None);
        assert_eq!(l.admit(100), None);
        assert_eq!(l.admit(101), Some(2));
        assert_eq!(l.admit(101), None);
        assert_eq!(l.admit(102), Some(1));
    }
}
