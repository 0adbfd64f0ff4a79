//! Rules data: the shipped files load; broken files report every error at once.
use hotline_router::calendar::{Calendar, EMBEDDED_YEARS};
use hotline_router::rules::EMBEDDED;
use hotline_router::{Router, RouterOptions};

#[test]
fn shipped_rules_load_and_cover_many_patterns() {
    let r = Router::embedded().expect("embedded rules");
    assert!(r.pattern_count() > 500, "{} patterns", r.pattern_count());
    assert!(r.category_codes().any(|c| c == "general"));
}

#[test]
fn every_error_is_reported_at_once() {
    let kinds = EMBEDDED
        .kinds
        .replace("default_kind = \"help\"", "default_kind = \"gossip\"")
        .replace("kind = \"opinion\"", "kind = \"rumour\"");
    let categories = EMBEDDED
        .categories
        .replace("unit = \"sthj\"", "unit = \"nosuch\"");
    let scope = EMBEDDED
        .scope
        .replace(
            "priority = \"special\"\nunits = [\"sthj\"]",
            "priority = \"urgent\"\nunits = [\"sthj\"]",
        )
        .replace("units = [\"wjw\"]", "units = [\"nobody\"]");
    let units = EMBEDDED
        .units
        .replace("code = \"510811\"", "code = \"5108\"");
    let kb = format!(
        "{}\n[[entry]]\nid = \"kb.hukou.move\"\ntitle = \"dup\"\nanswer = \"x\"\nkeywords = []\n",
        EMBEDDED.kb
    );
    let src = hotline_router::RuleSources {
        kinds: &kinds,
        categories: &categories,
        scope: &scope,
        safety: EMBEDDED.safety,
        units: &units,
        kb: &kb,
        model: EMBEDDED.model,
    };
    let errors = Router::build(
        src,
        Calendar::embedded().expect("calendar"),
        RouterOptions::default(),
    )
    .expect_err("broken data");
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    for needle in [
        "gossip",
        "rumour",
        "nosuch",
        "urgent",
        "scope.special.public_health: unknown unit key \"nobody\"",
        "5108",
        "kb.hukou.move used twice",
        "no keywords",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn unknown_keys_are_rejected() {
    let kb = format!("{}\n[[entry]]\nid = \"kb.x\"\ntitle = \"t\"\nanswer = \"a\"\nkeywords = [\"k\"]\nkeyword = [\"typo\"]\n", EMBEDDED.kb);
    let src = hotline_router::RuleSources {
        kb: &kb,
        ..EMBEDDED
    };
    let errors = Router::build(
        src,
        Calendar::embedded().expect("calendar"),
        RouterOptions::default(),
    )
    .expect_err("typo");
    assert!(
        errors
            .iter()
            .any(|e| e.file == "kb.toml" && e.msg.contains("unknown field `keyword`")),
        "{errors:?}"
    );
}

#[test]
fn calendar_files_are_validated() {
    let bad = [
        ("2027.toml".to_string(), "year = 2027\n[[holiday]]\nname = \"x\"\nfrom = \"2027-02-30\"\nto = \"2027-03-01\"\n".to_string()),
        ("2028.toml".to_string(), "year = 2028\n[[holiday]]\nname = \"y\"\nfrom = \"2028-01-03\"\nto = \"2028-01-03\"\nworkdays = [\"2028-01-04\", \"2029-01-01\"]\n".to_string()),
        ("dup.toml".to_string(), EMBEDDED_YEARS[0].1.to_string()),
        ("more.toml".to_string(), EMBEDDED_YEARS[0].1.to_string()),
        ("syntax.toml".to_string(), "year = ".to_string()),
    ];
    let errors = Calendar::from_sources(bad).expect_err("bad calendars");
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    for needle in [
        "2027-02-30",
        "not a weekend day",
        "not in year 2028",
        "defined twice",
        "syntax.toml",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn a_new_year_file_extends_the_calendar() {
    let mut cal = Calendar::embedded().expect("calendar");
    let d = chrono::NaiveDate::from_ymd_opt(2027, 2, 8).expect("date");
    assert_eq!(cal.is_workday(d), (true, true));
    let extra = Calendar::from_sources([(
        "2027.toml".to_string(),
        "year = 2027\n[[holiday]]\nname = \"春节\"\nfrom = \"2027-02-06\"\nto = \"2027-02-12\"\n"
            .to_string(),
    )])
    .expect("2027");
    cal.merge(extra);
    assert_eq!(cal.is_workday(d), (false, false));
}

/// A year file's holiday periods: from before to, at most 31 days (a
/// 31-day period is accepted, 32 refused, a reversed one refused), and at
/// most 120 holiday dates a year (120 accepted, 121 refused).
#[test]
fn holiday_periods_and_counts_are_bounded() {
    let year = |body: &str| {
        Calendar::from_sources([("2030.toml".to_string(), format!("year = 2030\n{body}"))])
    };
    let period = |from: &str, to: &str| {
        format!("[[holiday]]\nname = \"p\"\nfrom = \"{from}\"\nto = \"{to}\"\n")
    };
    assert!(year(&period("2030-03-01", "2030-04-01")).is_ok(), "31 days");
    let long = year(&period("2030-03-01", "2030-04-02")).expect_err("32 days");
    assert!(long[0].to_string().contains("at most 31 days"), "{long:?}");
    let reversed = year(&period("2030-03-10", "2030-03-09")).expect_err("reversed");
    assert!(
        reversed[0].to_string().contains("at most 31 days"),
        "{reversed:?}"
    );
    // Four periods of 30 days: 120 dates; a fifth date makes 121.
    let four: String = ["01", "03", "05", "07"]
        .iter()
        .map(|m| period(&format!("2030-{m}-01"), &format!("2030-{m}-30")))
        .collect();
    assert!(year(&four).is_ok(), "120 holiday dates");
    let more = year(&format!("{four}{}", period("2030-09-01", "2030-09-01"))).expect_err("121");
    assert!(
        more.iter()
            .any(|e| e.to_string().contains("121 holiday dates")),
        "{more:?}"
    );
}

/// The years a calendar knows: the embedded ones, ascending, and a date's
/// year known or not.
#[test]
fn the_calendar_knows_its_years() {
    let cal = Calendar::embedded().expect("calendar");
    let years: Vec<i32> = cal.years().collect();
    assert_eq!(years, vec![2023, 2024, 2025, 2026]);
    let d = |y| chrono::NaiveDate::from_ymd_opt(y, 6, 1).expect("date");
    assert!(cal.knows(d(2026)) && cal.knows(d(2023)));
    assert!(!cal.knows(d(2027)) && !cal.knows(d(2022)));
    // Known through the end of the last year that follows without a gap.
    let day = |y, m, dd| chrono::NaiveDate::from_ymd_opt(y, m, dd).expect("date");
    assert_eq!(cal.known_through(day(2024, 3, 1)), Some(day(2026, 12, 31)));
    assert_eq!(
        cal.known_through(day(2026, 12, 31)),
        Some(day(2026, 12, 31))
    );
    assert_eq!(cal.known_through(day(2027, 1, 1)), None);
    assert_eq!(cal.known_through(day(2022, 12, 31)), None);
    let mut gap = Calendar::embedded().expect("calendar");
    gap.merge(
        Calendar::from_sources([("2028.toml".to_string(), "year = 2028\n".to_string())])
            .expect("2028"),
    );
    assert_eq!(gap.known_through(day(2025, 6, 1)), Some(day(2026, 12, 31)));
    assert_eq!(gap.known_through(day(2028, 6, 1)), Some(day(2028, 12, 31)));
}

/// The safety file holds at most 255 lines (a line is a byte in a
/// decision's hot path): 255 load, 256 are refused with the reason.
#[test]
fn at_most_255_safety_lines() {
    let with_lines = |extra: usize| {
        let mut safety = EMBEDDED.safety.to_string();
        for i in 0..extra {
            safety.push_str(&format!(
                "\n[[line]]\nid = \"safety.test{i}\"\nline = \"9{i:03}\"\nname = \"测试{i}\"\nemergency = [\"测试险情{i}号\"]\n"
            ));
        }
        let src = hotline_router::RuleSources {
            safety: &safety,
            ..EMBEDDED
        };
        Router::build(
            src,
            Calendar::embedded().expect("calendar"),
            RouterOptions::default(),
        )
        .map(|_| ())
        .map_err(|e| {
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    let shipped = EMBEDDED
        .safety
        .lines()
        .filter(|l| l.trim() == "[[line]]")
        .count();
    assert_eq!(with_lines(255 - shipped), Ok(()));
    let err = with_lines(256 - shipped).expect_err("256 lines");
    assert!(err.contains("256 lines; at most 255"), "{err}");
}
