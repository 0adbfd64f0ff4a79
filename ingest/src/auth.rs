//! Access control (Art. 22): bearer tokens per role, stored as SHA-256
//! hashes. The interceptor authenticates (UNAUTHENTICATED on a missing or
//! unknown token); each method authorizes its role (PERMISSION_DENIED).
//! With no tokens configured the daemon runs open, and only on loopback.
use crate::config::{AuthConfig, ConfigError};
use crate::telemetry::metrics as m;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tonic::{Request, Status};

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

/// The token table.
#[derive(Debug, Clone)]
pub struct Auth {
    tokens: Arc<HashMap<[u8; 32], Role>>,
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
                match std::env::var(&t.token_env) {
                    Ok(v) if !v.is_empty() => Some(Sha256::digest(v.as_bytes()).into()),
                    _ => {
                        errors.push(ConfigError {
                            path: format!("auth.tokens[{i}].token_env"),
                            msg: format!("${} is not set", t.token_env),
                        });
                        None
                    }
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
            })
        } else {
            Err(errors)
        }
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
        let Some(value) = req.metadata().get("authorization") else {
            m::auth_failure("missing");
            return Err(Status::unauthenticated(
                "missing bearer token (authorization: Bearer <token>)",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
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
