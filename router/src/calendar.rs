//! The working-day calendar (工作日): weekends, the State Council's public
//! holidays and make-up workdays (调休上班日), one TOML file per year.
//!
//! A day of a known year is a working day when it is a make-up workday, or a
//! Monday–Friday that is not a holiday. A day of an unknown year falls back to
//! Monday–Friday and is reported `provisional`, so operators know to load the
//! next year's file (README.md, "Conventions").
use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The official years shipped with the crate.
pub const EMBEDDED_YEARS: &[(&str, &str)] = &[
    ("2023.toml", include_str!("../data/calendar/2023.toml")),
    ("2024.toml", include_str!("../data/calendar/2024.toml")),
    ("2025.toml", include_str!("../data/calendar/2025.toml")),
    ("2026.toml", include_str!("../data/calendar/2026.toml")),
];

/// Most holiday dates a year file may declare (the official notices have about 30).
const MAX_HOLIDAYS_PER_YEAR: usize = 120;

/// One year file as written (config shape).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearFile {
    pub year: i32,
    /// The notice the data comes from (国务院办公厅关于…部分节假日安排的通知).
    #[serde(default)]
    pub notice: String,
    #[serde(default, rename = "holiday")]
    pub holidays: Vec<HolidayEntry>,
}

/// One holiday period of a year file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayEntry {
    pub name: String,
    /// First day off, `YYYY-MM-DD`.
    pub from: String,
    /// Last day off, inclusive.
    pub to: String,
    /// Make-up workdays (调休上班) that belong to this holiday.
    #[serde(default)]
    pub workdays: Vec<String>,
}

/// Errors in calendar data; loading reports all of them at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{file}: {msg}")]
    Parse { file: String, msg: String },
    #[error("{file}: {msg}")]
    Invalid { file: String, msg: String },
    #[error("year {year} is defined twice ({first} and {second})")]
    DuplicateYear {
        year: i32,
        first: String,
        second: String,
    },
}

/// One year's working days as a bitset indexed by ordinal day (0-based).
#[derive(Debug, Clone)]
struct YearDays {
    workday: [u64; 6],
}

impl YearDays {
    fn get(&self, ordinal0: u32) -> bool {
        let i = ordinal0 as usize;
        self.workday[i / 64] >> (i % 64) & 1 == 1
    }
    fn set(&mut self, ordinal0: u32, v: bool) {
        let i = ordinal0 as usize;
        if v {
            self.workday[i / 64] |= 1 << (i % 64);
        } else {
            self.workday[i / 64] &= !(1 << (i % 64));
        }
    }
}

/// The compiled calendar (runtime shape).
#[derive(Debug, Clone)]
pub struct Calendar {
    years: BTreeMap<i32, YearDays>,
}

fn weekday_is_workday(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn parse_date(
    file: &str,
    s: &str,
    year: i32,
    errors: &mut Vec<CalendarError>,
) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        Ok(d) if d.year() == year => Some(d),
        Ok(_) => {
            errors.push(CalendarError::Invalid {
                file: file.into(),
                msg: format!("date {s} is not in year {year}"),
            });
            None
        }
        Err(e) => {
            errors.push(CalendarError::Invalid {
                file: file.into(),
                msg: format!("bad date {s:?}: {e}"),
            });
            None
        }
    }
}

impl Calendar {
    /// The official 2023–2026 calendar shipped with the crate.
    pub fn embedded() -> Result<Calendar, Vec<CalendarError>> {
        Calendar::from_sources(
            EMBEDDED_YEARS
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string())),
        )
    }

    /// Builds a calendar from `(file name, TOML text)` pairs; later files may
    /// not redefine a year. Returns every error found.
    pub fn from_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Calendar, Vec<CalendarError>> {
        let mut errors = Vec::new();
        let mut years = BTreeMap::new();
        let mut seen: BTreeMap<i32, String> = BTreeMap::new();
        for (file, text) in sources {
            let parsed: YearFile = match toml::from_str(&text) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(CalendarError::Parse {
                        file,
                        msg: e.message().to_string(),
                    });
                    continue;
                }
            };
            if !(2000..=2200).contains(&parsed.year) {
                errors.push(CalendarError::Invalid {
                    file,
                    msg: format!("year {} out of range 2000..=2200", parsed.year),
                });
                continue;
            }
            if let Some(first) = seen.get(&parsed.year) {
                errors.push(CalendarError::DuplicateYear {
                    year: parsed.year,
                    first: first.clone(),
                    second: file,
                });
                continue;
            }
            seen.insert(parsed.year, file.clone());
            if let Some(days) = compile_year(&file, &parsed, &mut errors) {
                years.insert(parsed.year, days);
            }
        }
        if errors.is_empty() {
            Ok(Calendar { years })
        } else {
            Err(errors)
        }
    }

    /// Adds (or replaces) years from another calendar: config-directory years
    /// override the embedded ones.
    pub fn merge(&mut self, other: Calendar) {
        self.years.extend(other.years);
    }

    /// The known years, ascending.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// Whether `date` is a working day, and whether that answer is provisional
    /// (its year is not in the calendar, so Monday–Friday was assumed).
    pub fn is_workday(&self, date: NaiveDate) -> (bool, bool) {
        match self.years.get(&date.year()) {
            Some(y) => (y.get(date.ordinal0()), false),
            None => (weekday_is_workday(date), true),
        }
    }

    /// Whether `date`'s year is in the calendar.
    pub fn knows(&self, date: NaiveDate) -> bool {
        self.years.contains_key(&date.year())
    }

    /// The last day of the known years that run without a gap from
    /// `date`'s year: past it, deadlines are provisional. `None` when
    /// `date`'s own year is not known.
    pub fn known_through(&self, date: NaiveDate) -> Option<NaiveDate> {
        let mut year = date.year();
        if !self.years.contains_key(&year) {
            return None;
        }
        while self.years.contains_key(&(year + 1)) {
            year += 1;
        }
        NaiveDate::from_ymd_opt(year, 12, 31)
    }
}

fn compile_year(file: &str, y: &YearFile, errors: &mut Vec<CalendarError>) -> Option<YearDays> {
    let before = errors.len();
    let mut days = YearDays { workday: [0; 6] };
    let mut d = NaiveDate::from_yo_opt(y.year, 1)?;
    while d.year() == y.year {
        days.set(d.ordinal0(), weekday_is_workday(d));
        d = d.succ_opt()?;
    }
    let mut holiday_count = 0usize;
    let mut off: Vec<NaiveDate> = Vec::new();
    for h in &y.holidays {
        let (Some(from), Some(to)) = (
            parse_date(file, &h.from, y.year, errors),
            parse_date(file, &h.to, y.year, errors),
        ) else {
            continue;
        };
        if to < from || (to - from).num_days() > 31 {
            errors.push(CalendarError::Invalid {
                file: file.into(),
                msg: format!(
                    "holiday {}: {} to {} is not a period of at most 31 days",
                    h.name, h.from, h.to
                ),
            });
            continue;
        }
        let mut d = from;
        while d <= to {
            days.set(d.ordinal0(), false);
            off.push(d);
            holiday_count += 1;
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
    }
    for h in &y.holidays {
        for w in &h.workdays {
            if let Some(w) = parse_date(file, w, y.year, errors) {
                if off.contains(&w) {
                    errors.push(CalendarError::Invalid {
                        file: file.into(),
                        msg: format!("{w} is both a holiday and a make-up workday"),
                    });
                } else if weekday_is_workday(w) {
                    errors.push(CalendarError::Invalid {
                        file: file.into(),
                        msg: format!("make-up workday {w} is not a weekend day"),
                    });
                }
                days.set(w.ordinal0(), true);
            }
        }
    }
    if holiday_count > MAX_HOLIDAYS_PER_YEAR {
        errors.push(CalendarError::Invalid {
            file: file.into(),
            msg: format!("{holiday_count} holiday dates, more than {MAX_HOLIDAYS_PER_YEAR}"),
        });
    }
    (errors.len() == before).then_some(days)
}
