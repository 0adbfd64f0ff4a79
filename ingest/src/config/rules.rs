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
        max_age_secs: Some((
            cfg.pipeline.max_age_days * 86_400,
            cfg.pipeline.max_age_platform_days * 86_400,
        )),
        ..RouterOptions::default()
    };
    let var = &cfg.privacy.caller_secret_env;
    if !var.is_empty() {
        if let Ok(secret) = std::env::var(var) {
            if !secret.is_empty() {
                if secret.len() < 16 {
                    return Err(ConfigError {
                        path: "privacy.caller_secret_env".into(),
                        msg: format!("${var} must be at least 16 bytes"),
                    });
                }
                opts.caller_secret = *key_from_secret(secret.as_bytes());
            }
        }
    }
    Ok(opts)
}

/// Whether the caller key comes from the environment (`[privacy]`), not
/// the built-in one.
pub fn caller_secret_given(cfg: &Config) -> bool {
    let var = &cfg.privacy.caller_secret_env;
    !var.is_empty() && std::env::var(var).is_ok_and(|s| !s.is_empty())
}

/// Art. 22: without its own caller key the daemon's pseudonyms can be
/// reversed by hashing every phone number with the built-in key. Serving
/// beyond loopback is refused then; on loopback (a developer's machine,
/// the tests) it is allowed with a warning.
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
    tracing::warn!(
        "no caller key in ${var}: caller pseudonyms use the built-in key and can be reversed to phone numbers; \
         allowed on loopback only (Art. 22)"
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
    let mut errors = Vec::new();
    let texts = read_rules(cfg.rules.dir.as_deref(), &mut errors);
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
            let base = cfg
                .rules
                .dir
                .as_ref()
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
