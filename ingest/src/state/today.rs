//! A figure of the current day in Beijing time (the wallboard's "today"):
//! it starts afresh with the first value of a newer day and ignores values
//! of an older one.
use chrono::NaiveDate;
use hotline_router::deadlines::SHANGHAI;
use hotline_router::Instant;

fn day(t: Instant) -> NaiveDate {
    t.with_timezone(&SHANGHAI).date_naive()
}

/// `T` as counted over one day.
#[derive(Debug, Default)]
pub struct Today<T> {
    day: Option<NaiveDate>,
    value: T,
}

impl<T: Default> Today<T> {
    /// What a value at `at` adds to: afresh on a newer day, none for an older one.
    pub fn at(&mut self, at: Instant) -> Option<&mut T> {
        let d = day(at);
        if self.day.is_none_or(|x| x < d) {
            self.day = Some(d);
            self.value = T::default();
        }
        (self.day == Some(d)).then_some(&mut self.value)
    }

    /// The day's value as of `now`; none when nothing was counted that day.
    pub fn of(&self, now: Instant) -> Option<&T> {
        (self.day == Some(day(now))).then_some(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::Today;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_day_starts_at_midnight_beijing_time_and_older_days_are_ignored() {
        let t = |h: u32, m: u32| {
            Utc.with_ymd_and_hms(2026, 11, 27, h, m, 0)
                .single()
                .unwrap_or_default()
        };
        let mut n: Today<u32> = Today::default();
        let mut add = |h, m| {
            if let Some(v) = n.at(t(h, m)) {
                *v += 1;
            }
        };
        add(15, 59); // 23:59 on the 27th
        add(16, 0); // 00:00 on the 28th: afresh
        add(16, 1);
        assert!(n.at(t(15, 58)).is_none(), "the day before is over");
        assert_eq!(n.of(t(17, 0)), Some(&2));
        assert_eq!(n.of(t(15, 0)), None);
    }
}
