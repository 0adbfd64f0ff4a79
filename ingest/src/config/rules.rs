//! Builds the [`Router`] from the embedded rules, a rules directory and a
//! calendar directory, reporting every error at once.
use crate::config::{Config, ConfigError};
use hotline_router::calendar::Calendar;
use hotline_router::rules::{RuleSources, EMBEDDED, FILE_NAMES};
use hotline_router::{Router, RouterOptions};
use std::path::Path;

/// Reads the files present in `dir`; absent ones keep the embedded text.
fn read_rules(dir: Option<&Path>, errors: &mut Vec<ConfigError>) -> [String; 6] {
    let embedded = [
        EMBEDDED.kinds,
        EMBEDDED.categories,
        EMBEDDED.scope,
        EMBEDDED.safety,
        EMBEDDED.units,
        EMBEDDED.kb,
    ];
    let mut out = embedded.map(str::to_string);
    if let Some(dir) = dir {
        for (i, name) in FILE_NAMES.iter().enumerate() {
            let p = dir.join(name);
            if p.exists() {
                match std::fs::read_to_string(&p) {
                    Ok(t) => out[i] = t,
                    Err(e) => errors.push(ConfigError {
                        path: p.display().to_string(),
                        msg: e.to_string(),
                    }),
                }
            }
        }
    }
    out
}

/// Reads every `*.toml` of a calendar directory, sorted by name.
fn read_calendar(dir: &Path, errors: &mut Vec<ConfigError>) -> Vec<(String, String)> {
    let mut files = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for entry in rd.flatten() {
                let p = entry.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    match std::fs::read_to_string(&p) {
                        Ok(t) => files.push((p.display().to_string(), t)),
                        Err(e) => errors.push(ConfigError {
                            path: p.display().to_string(),
                            msg: e.to_string(),
                        }),
                    }
                }
            }
        }
        Err(e) => errors.push(ConfigError {
            path: dir.display().to_string(),
            msg: e.to_string(),
        }),
    }
    files.sort();
    files
}

/// The calendar: embedded years, plus (overriding) the directory's years.
pub fn load_calendar(dir: Option<&Path>) -> Result<Calendar, Vec<ConfigError>> {
    let to_cfg = |es: Vec<hotline_router::CalendarError>| {
        es.into_iter()
            .map(|e| ConfigError {
                path: "calendar".into(),
                msg: e.to_string(),
            })
            .collect::<Vec<_>>()
    };
    let mut cal = Calendar::embedded().map_err(to_cfg)?;
    if let Some(dir) = dir {
        let mut errors = Vec::new();
        let files = read_calendar(dir, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        cal.merge(Calendar::from_sources(files).map_err(to_cfg)?);
    }
    Ok(cal)
}

/// Router options from the config and the environment.
pub fn router_options(cfg: &Config) -> Result<RouterOptions, ConfigError> {
    let mut opts = RouterOptions {
        review_threshold: cfg.rules.review_threshold,
        max_age: Some((
            chrono::TimeDelta::days(cfg.pipeline.max_age_days),
            chrono::TimeDelta::days(cfg.pipeline.max_age_platform_days),
        )),
        ..RouterOptions::default()
    };
    let var = &cfg.privacy.caller_secret_env;
    if caller_secret_given(cfg) {
        let secret = std::env::var(var).unwrap_or_default();
        if secret.len() < 16 {
            return Err(ConfigError {
                path: "privacy.caller_secret_env".into(),
                msg: format!("${var} must be at least 16 bytes"),
            });
        }
        opts.caller_secret = *key_from_secret(secret.as_bytes());
    } else if let Some(f) = &cfg.privacy.caller_key_file {
        let key = std::fs::read(f).map_err(|e| ConfigError {
            path: "privacy.caller_key_file".into(),
            msg: format!("{}: {e}", f.display()),
        })?;
        if key.len() < 16 {
            return Err(ConfigError {
                path: "privacy.caller_key_file".into(),
                msg: format!("{} holds fewer than 16 bytes", f.display()),
            });
        }
        opts.caller_secret = *key_from_secret(&key);
    } else {
        // No key: nothing printed may carry a pseudonym made with the
        // built-in one (it could be reversed to the phone number).
        opts.publish_caller_ref = false;
    }
    Ok(opts)
}

/// Whether the caller key comes from the environment (`[privacy]`), not
/// the built-in one.
pub fn caller_secret_given(cfg: &Config) -> bool {
    let var = &cfg.privacy.caller_secret_env;
    !var.is_empty() && std::env::var(var).is_ok_and(|s| !s.is_empty())
}

/// The caller key file `serve` uses without `$HOTLINE_CALLER_SECRET`: the
/// configured one, else `<data_dir>/caller.key`, created with 32 random
/// bytes (mode 0600) the first time. Never the built-in key.
pub fn ensure_caller_key_file(cfg: &Config) -> Result<std::path::PathBuf, ConfigError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = cfg
        .privacy
        .caller_key_file
        .clone()
        .unwrap_or_else(|| cfg.store.data_dir.join("caller.key"));
    if path.exists() {
        return Ok(path);
    }
    let err = |msg: String| ConfigError {
        path: "privacy.caller_key_file".into(),
        msg,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::sinks::store::private_dir(dir)
            .map_err(|e| err(format!("{}: {e}", dir.display())))?;
    }
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).map_err(|e| err(format!("no randomness: {e}")))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| err(format!("{}: {e}", path.display())))?;
    f.write_all(&key)
        .and_then(|()| f.sync_all())
        .map_err(|e| err(format!("{}: {e}", path.display())))?;
    tracing::warn!(
        file = %path.display(),
        "no caller key in the environment: generated one; keep this file with the data, and give every node of a deployment the same key"
    );
    Ok(path)
}

/// Art. 22: without a caller key shared by its nodes the daemon's
/// pseudonyms differ per node. Serving beyond loopback is refused without
/// one; on loopback (a developer's machine, the tests) the generated key
/// file is used.
pub fn require_caller_secret(
    cfg: &Config,
    grpc_addr: std::net::SocketAddr,
) -> Result<(), ConfigError> {
    if caller_secret_given(cfg) {
        return Ok(());
    }
    let var = if cfg.privacy.caller_secret_env.is_empty() {
        "HOTLINE_CALLER_SECRET"
    } else {
        cfg.privacy.caller_secret_env.as_str()
    };
    if !grpc_addr.ip().is_loopback() {
        return Err(ConfigError {
            path: "privacy.caller_secret_env".into(),
            msg: format!(
                "no caller key: set ${var} (at least 16 random bytes, kept stable) before serving on {grpc_addr}; \
                 with the built-in key caller pseudonyms can be reversed to phone numbers (Art. 22)"
            ),
        });
    }
    tracing::info!(
        "no caller key in ${var}: pseudonyms use this data directory's caller.key (loopback only; Art. 22)"
    );
    Ok(())
}

fn key_from_secret(secret: &[u8]) -> Box<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(secret);
    let mut k = [0u8; 32];
    k.copy_from_slice(&h);
    Box::new(k)
}

/// Builds the router described by `cfg`; every error at once.
pub fn build_router(cfg: &Config) -> Result<Router, Vec<ConfigError>> {
    build_router_in(cfg, cfg.rules.dir.as_deref())
}

/// Every tenant's router (README.md, "Tenants"): the default tenant's
/// (`[rules]`) first, then each `[[tenant]]`'s, in the config's order;
/// they must name different cities and case-id prefixes. Every error at
/// once.
pub fn build_tenant_routers(cfg: &Config) -> Result<Vec<Router>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut routers = Vec::new();
    let dirs = std::iter::once(("rules.dir".to_string(), cfg.rules.dir.as_deref())).chain(
        cfg.tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("tenant[{i}].dir"), Some(t.dir.as_path()))),
    );
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for (key, dir) in dirs {
        if let Some(d) = dir.filter(|d| !d.is_dir()) {
            errors.push(ConfigError {
                path: key,
                msg: format!("{}: not a directory", d.display()),
            });
            continue;
        }
        let r = match build_router_in(cfg, dir) {
            Ok(r) => r,
            Err(es) => {
                errors.extend(es);
                continue;
            }
        };
        let (code, prefix) = (r.city_code(), r.case_prefix());
        let err = |msg: String| ConfigError {
            path: format!("{key}: units.toml [city]"),
            msg,
        };
        if !(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) && code.ends_with("00")) {
            errors.push(err(format!(
                "code {code:?} is not a city's division code (six digits ending in 00)"
            )));
        }
        if !(1..=8).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(err(format!(
                "case_prefix {prefix:?} must be 1 to 8 capital letters A–Z"
            )));
        }
        for (other, c, p) in &seen {
            if c == code {
                errors.push(err(format!("code {code} is also {other}'s")));
            }
            if p == prefix {
                errors.push(err(format!("case_prefix {prefix} is also {other}'s")));
            }
        }
        seen.push((key, code.to_string(), prefix.to_string()));
        routers.push(r);
    }
    // A cluster's table names every tenant served (its state's partition).
    if let Some(c) = cfg.kafka.as_ref().and_then(|k| k.cluster.as_ref()) {
        for r in &routers {
            if !c.tenant_partitions.contains_key(r.city_code()) {
                errors.push(ConfigError {
                    path: "kafka.cluster.tenant_partitions".into(),
                    msg: format!("no partition for tenant {}", r.city_code()),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(routers)
    } else {
        Err(errors)
    }
}

/// The router of the rules in `dir` (the embedded ones where a file is
/// absent), with `cfg`'s calendar, model and options.
fn build_router_in(cfg: &Config, dir: Option<&Path>) -> Result<Router, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let texts = read_rules(dir, &mut errors);
    let model = match &cfg.rules.model {
        Some(p) => std::fs::read(p).unwrap_or_else(|e| {
            errors.push(ConfigError {
                path: p.display().to_string(),
                msg: format!("rules.model: {e}"),
            });
            Vec::new()
        }),
        None => EMBEDDED.model.to_vec(),
    };
    let calendar = match load_calendar(cfg.rules.calendar_dir.as_deref()) {
        Ok(c) => Some(c),
        Err(es) => {
            errors.extend(es);
            None
        }
    };
    let opts = match router_options(cfg) {
        Ok(o) => o,
        Err(e) => {
            errors.push(e);
            RouterOptions::default()
        }
    };
    let src = RuleSources {
        kinds: &texts[0],
        categories: &texts[1],
        scope: &texts[2],
        safety: &texts[3],
        units: &texts[4],
        kb: &texts[5],
        model: &model,
    };
    // With a broken calendar directory, still check the rules against the
    // embedded calendar so every error is reported at once.
    let Some(calendar) = calendar.or_else(|| Calendar::embedded().ok()) else {
        return Err(errors);
    };
    match Router::build(src, calendar, opts) {
        Ok(r) if errors.is_empty() => Ok(r),
        Ok(_) => Err(errors),
        Err(es) => {
            let base = dir
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "embedded rules".into());
            errors.extend(es.into_iter().map(|e| ConfigError {
                path: format!("{base}/{}", e.file),
                msg: e.msg,
            }));
            Err(errors)
        }
    }
}

/// When `calendar`'s last known day ends (the next day's 00:00 in Beijing),
/// seen at `now`, and the start-up warning due: within 30 days of it (the
/// deadlines reach a few working days ahead; past it they are provisional,
/// Monday–Friday assumed), or `now`'s own year unknown (`None` end).
pub fn calendar_end(
    calendar: &Calendar,
    now: chrono::DateTime<chrono::Utc>,
) -> (
    Option<chrono::DateTime<chrono::FixedOffset>>,
    Option<String>,
) {
    use hotline_router::deadlines::SHANGHAI;
    let today = now.with_timezone(&SHANGHAI).date_naive();
    let end = calendar.known_through(today).and_then(|last| {
        last.succ_opt()?
            .and_hms_opt(0, 0, 0)?
            .and_local_timezone(SHANGHAI)
            .single()
    });
    let warning = match end {
        Some(e) if e.with_timezone(&chrono::Utc) - now >= chrono::Duration::days(30) => None,
        Some(e) => Some(format!(
            "the holiday calendar ends after {}: add the next year's <year>.toml to rules.calendar_dir",
            e.date_naive().pred_opt().unwrap_or_default()
        )),
        None => Some(format!(
            "the holiday calendar does not know {}: deadlines are provisional; add its <year>.toml to rules.calendar_dir",
            chrono::Datelike::year(&today)
        )),
    };
    (end, warning)
}

#[cfg(test)]
mod calendar_end_tests {
    use super::*;

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn the_calendar_end_and_its_warning_follow_the_date() {
        let cal = Calendar::embedded().unwrap_or_else(|e| panic!("{e:?}"));
        let end = "2027-01-01T00:00:00+08:00";
        // 30 days and 8 hours before the end: no warning; 29 days before: a
        // warning naming the last day.
        let (e, w) = calendar_end(&cal, at("2026-12-01T16:00:00+08:00"));
        assert_eq!(e.map(|e| e.to_rfc3339()), Some(end.to_string()));
        assert_eq!(w, None);
        let (e, w) = calendar_end(&cal, at("2026-12-03T00:00:00+08:00"));
        assert_eq!(e.map(|e| e.to_rfc3339()), Some(end.to_string()));
        assert!(w.is_some_and(|w| w.contains("ends after 2026-12-31")));
        // New Year's Day in Beijing is already the unknown year at 16:00 UTC.
        let (e, w) = calendar_end(&cal, at("2026-12-31T16:00:00Z"));
        assert_eq!(e, None);
        assert!(w.is_some_and(|w| w.contains("does not know 2027")));
        // From 2023 on, the years run without a gap to 2026.
        let (e, _) = calendar_end(&cal, at("2023-03-01T00:00:00Z"));
        assert_eq!(e.map(|e| e.to_rfc3339()), Some(end.to_string()));
    }
}
