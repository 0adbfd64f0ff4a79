//! Access control (Art. 22): bearer tokens per role, stored as SHA-256
//! hashes. The interceptor authenticates (UNAUTHENTICATED on a missing or
//! unknown token); each method authorizes its role (PERMISSION_DENIED).
//! With no tokens configured the daemon runs open, and only on loopback.
use crate::config::{AuthConfig, ConfigError};
use crate::telemetry::log_limit::LogLimit;
use crate::telemetry::metrics as m;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use tonic::{Request, Status};

/// Shortest token accepted from `token_env`, in bytes (after trimming).
pub const MIN_TOKEN_BYTES: usize = 32;

/// A presented or configured token as compared: surrounding whitespace
/// (a trailing newline from a file or `echo`) removed.
fn normalized(token: &str) -> &str {
    token.trim()
}

/// The token of an `authorization` value: the `Bearer` scheme in any case,
/// then the token; `None` for another scheme or an empty token.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let t = normalized(rest);
    (!t.is_empty()).then_some(t)
}

/// Logs an authentication failure with the peer and reason (never the
/// token), at most once a second; the failures not logged are counted in
/// the next line.
fn log_failure(peer: Option<SocketAddr>, reason: &'static str) {
    static LIMIT: LogLimit = LogLimit::new();
    let Some(suppressed) = LIMIT.admit(chrono::Utc::now().timestamp()) else {
        return;
    };
    let peer = peer
        .map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    tracing::warn!(peer, reason, suppressed, "gRPC authentication failed");
}

/// Who a token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Telephony gateway: submit contacts, report call events.
    Gateway,
    /// Ticket system: report order events, read decisions.
    TicketSystem,
    /// Dashboards: stats only.
    Dashboard,
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        match s {
            "gateway" => Some(Role::Gateway),
            "ticket-system" => Some(Role::TicketSystem),
            "dashboard" => Some(Role::Dashboard),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::TicketSystem => "ticket-system",
            Role::Dashboard => "dashboard",
        }
    }
}

/// What the interceptor found, stored in the request's extensions.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Open,
    Authenticated(Role),
}

/// Failed attempts from one address before it is made to wait.
const FAILURES_BEFORE_BACKOFF: u32 = 10;
/// The window those failures are counted in, and how long the address then
/// waits, seconds.
const BACKOFF_SECS: i64 = 30;
/// Addresses remembered at most (a flood from many addresses clears it).
const MAX_PEERS: usize = 10_000;

/// Failed authentications per peer address: (failures, window start,
/// blocked until), unix seconds; and the latest "blocked until" of any
/// peer, so that a request while nobody is blocked takes no lock.
#[derive(Debug, Default)]
struct Failures {
    peers: std::sync::Mutex<HashMap<std::net::IpAddr, (u32, i64, i64)>>,
    any_until: AtomicI64,
}

impl Failures {
    /// Seconds the peer must still wait, if it is blocked.
    fn blocked(&self, ip: std::net::IpAddr, now: i64) -> Option<i64> {
        if self.any_until.load(Ordering::Relaxed) <= now {
            return None;
        }
        let m = self.peers.lock().ok()?;
        let &(_, _, until) = m.get(&ip)?;
        (until > now).then_some(until - now)
    }

    /// Counts a failure; blocks the peer after too many in the window.
    fn fail(&self, ip: std::net::IpAddr, now: i64) {
        let Ok(mut m) = self.peers.lock() else { return };
        if m.len() >= MAX_PEERS && !m.contains_key(&ip) {
            m.clear();
        }
        let e = m.entry(ip).or_insert((0, now, 0));
        if now - e.1 > BACKOFF_SECS {
            *e = (0, now, e.2);
        }
        e.0 += 1;
        if e.0 >= FAILURES_BEFORE_BACKOFF {
            *e = (0, now, now + BACKOFF_SECS);
            self.any_until
                .fetch_max(now + BACKOFF_SECS, Ordering::Relaxed);
        }
    }
}

/// The token table.
#[derive(Debug, Clone)]
pub struct Auth {
    tokens: Arc<HashMap<[u8; 32], Role>>,
    failures: Arc<Failures>,
}

impl Auth {
    /// Builds the table; tokens given by `token_env` are read and hashed now.
    /// No tokens on a non-loopback address is an error.
    pub fn from_config(cfg: &AuthConfig, addr: SocketAddr) -> Result<Auth, Vec<ConfigError>> {
        let mut tokens = HashMap::new();
        let mut errors = Vec::new();
        for (i, t) in cfg.tokens.iter().enumerate() {
            let Some(role) = Role::parse(&t.role) else {
                errors.push(ConfigError {
                    path: format!("auth.tokens[{i}].role"),
                    msg: format!("unknown role {:?}", t.role),
                });
                continue;
            };
            let hash = if !t.token_env.is_empty() {
                let v = std::env::var(&t.token_env).unwrap_or_default();
                let v = normalized(&v);
                if v.len() < MIN_TOKEN_BYTES {
                    errors.push(ConfigError {
                        path: format!("auth.tokens[{i}].token_env"),
                        msg: if v.is_empty() {
                            format!("${} is not set or empty", t.token_env)
                        } else {
                            format!(
                                "${} is {} bytes; a token needs at least {MIN_TOKEN_BYTES}",
                                t.token_env,
                                v.len()
                            )
                        },
                    });
                    None
                } else {
                    Some(Sha256::digest(v.as_bytes()).into())
                }
            } else {
                let mut h = [0u8; 32];
                match hex::decode_to_slice(t.sha256.trim(), &mut h) {
                    Ok(()) => Some(h),
                    Err(e) => {
                        errors.push(ConfigError {
                            path: format!("auth.tokens[{i}].sha256"),
                            msg: e.to_string(),
                        });
                        None
                    }
                }
            };
            if let Some(h) = hash {
                tokens.insert(h, role);
            }
        }
        if tokens.is_empty() && errors.is_empty() && !addr.ip().is_loopback() {
            errors.push(ConfigError { path: "auth.tokens".into(), msg: format!("no tokens configured, but gRPC listens on non-loopback {addr}; configure tokens or listen on 127.0.0.1") });
        }
        if errors.is_empty() {
            Ok(Auth {
                tokens: Arc::new(tokens),
                failures: Arc::default(),
            })
        } else {
            Err(errors)
        }
    }

    /// Whether a token presented to the admin listener (the wallboard) may
    /// read the dashboard's figures: any token when none is configured,
    /// else a dashboard token.
    pub fn allows_dashboard(&self, token: Option<&str>) -> bool {
        if self.tokens.is_empty() {
            return true;
        }
        token.map(normalized).is_some_and(|t| {
            let h: [u8; 32] = Sha256::digest(t.as_bytes()).into();
            self.tokens.get(&h) == Some(&Role::Dashboard)
        })
    }

    /// The token of an `authorization` header value (`Bearer <token>`).
    pub fn bearer_token(value: &str) -> Option<&str> {
        bearer(value)
    }

    /// True when no tokens are configured (loopback only).
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tonic interceptor.
    pub fn intercept(&self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if self.tokens.is_empty() {
            req.extensions_mut().insert(Caller::Open);
            return Ok(req);
        }
        let peer = req.remote_addr();
        let now = chrono::Utc::now().timestamp();
        if let Some(wait) = peer.and_then(|p| self.failures.blocked(p.ip(), now)) {
            m::auth_failure("backoff");
            return Err(Status::unauthenticated(format!(
                "too many failed attempts from this address; retry in {wait} s"
            )));
        }
        let Some(value) = req.metadata().get("authorization") else {
            m::auth_failure("missing");
            log_failure(req.remote_addr(), "missing");
            if let Some(p) = peer {
                self.failures.fail(p.ip(), now);
            }
            return Err(Status::unauthenticated(
                "missing bearer token (authorization: Bearer <token>)",
            ));
        };
        let token = value.to_str().ok().and_then(bearer);
        let role = token.and_then(|t| {
            let h: [u8; 32] = Sha256::digest(t.as_bytes()).into();
            self.tokens.get(&h).copied()
        });
        match role {
            Some(r) => {
                req.extensions_mut().insert(Caller::Authenticated(r));
                Ok(req)
            }
            None => {
                m::auth_failure("invalid");
                log_failure(req.remote_addr(), "invalid");
                if let Some(p) = peer {
                    self.failures.fail(p.ip(), now);
                }
                Err(Status::unauthenticated("invalid bearer token"))
            }
        }
    }
}

/// Checks that the request's caller has `role`.
pub fn require<T>(req: &Request<T>, role: Role) -> Result<(), Status> {
    match req.extensions().get::<Caller>() {
        Some(Caller::Open) => Ok(()),
        Some(Caller::Authenticated(r)) if *r == role => Ok(()),
        Some(Caller::Authenticated(r)) => {
            m::auth_failure("forbidden");
            Err(Status::permission_denied(format!(
                "role {} may not call this method; it needs {}",
                r.as_str(),
                role.as_str()
            )))
        }
        None => Err(Status::unauthenticated("no credentials")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_in_any_case_and_no_empty_token() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER abc\n"), Some("abc"));
        assert_eq!(bearer("bearer   abc  "), Some("abc"));
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer    "), None);
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn the_empty_hash_is_the_empty_string() {
        let h: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(hex::encode(h), crate::config::EMPTY_SHA256);
    }
}
