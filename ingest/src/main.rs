//! `hotlined` entry point: parse the command line, run one command.
use anyhow::Context;
use clap::Parser;
use hotline_ingest::cmd::calendar::DueArgs;
use hotline_ingest::cmd::cli::{CalendarCommand, Cli, Command};
use hotline_ingest::cmd::{calendar, replay, train};
use hotline_ingest::config::rules as rules_dir;
use hotline_ingest::config::{Config, ConfigError};
use std::io::{self, Write};
use std::process::ExitCode;

/// mimalloc: per-thread free lists suit the per-contact allocations of the
/// pipeline better than glibc malloc (measured in BENCHMARKS, issue 3 note).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn print_errors(what: &str, errors: &[ConfigError]) {
    eprintln!("{what}: {} error(s)", errors.len());
    for e in errors {
        eprintln!("  {e}");
    }
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer(&mut out, v)?;
    out.write_all(b"\n")?;
    Ok(())
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(io::stderr)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let mut cfg = match &args.config {
                Some(f) => match Config::load(f) {
                    Ok(c) => c,
                    Err(es) => {
                        print_errors(&f.display().to_string(), &es);
                        return Ok(ExitCode::from(2));
                    }
                },
                None => Config::default(),
            };
            if let Some(a) = args.grpc_addr {
                cfg.server.grpc_addr = a;
            }
            if let Some(a) = args.admin_addr {
                cfg.server.admin_addr = a;
            }
            if let Some(d) = args.data_dir {
                cfg.store.data_dir = d;
            }
            if let Some(b) = args.kafka_brokers {
                cfg.kafka.get_or_insert_with(Default::default).brokers = b;
            }
            let errors = cfg.validate();
            if !errors.is_empty() {
                print_errors("config", &errors);
                return Ok(ExitCode::from(2));
            }
            init_logs();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("hotlined")
                .build()
                .context("tokio runtime")?;
            rt.block_on(hotline_ingest::app::serve(cfg))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Decisions {
            data_dir,
            since,
            route,
        } => {
            let out = io::BufWriter::new(io::stdout().lock());
            match hotline_ingest::cmd::decisions::run(
                &data_dir,
                since.as_deref(),
                route.as_deref(),
                out,
            ) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::ExportLabels {
            data_dir,
            since,
            rules,
        } => {
            let Some(router) = offline_router(rules, None) else {
                return Ok(ExitCode::from(2));
            };
            let out = io::BufWriter::new(io::stdout().lock());
            match train::export_labels(&router, &data_dir, since.as_deref(), out) {
                Ok(n) => {
                    eprintln!(
                        "export-labels: {} labeled contacts ({} from agents' hints, {} re-dispatched; {} re-dispatches to a unit of several categories skipped)",
                        n.agent + n.redispatched,
                        n.agent,
                        n.redispatched,
                        n.unnamed
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Report {
            data_dir,
            from,
            to,
            format,
            rules,
        } => {
            let Some(router) = offline_router(rules, None) else {
                return Ok(ExitCode::from(2));
            };
            use hotline_ingest::cmd::report;
            let out = io::BufWriter::new(io::stdout().lock());
            match report::table(&data_dir, router.calendar(), &from, &to, chrono::Utc::now())
                .and_then(|rows| report::write(&rows, &format, out))
            {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Replay(args) => {
            let mut cfg = Config::default();
            cfg.rules.dir = args.rules;
            cfg.rules.calendar_dir = args.calendar_dir;
            let router = match rules_dir::build_router(&cfg) {
                Ok(r) => r,
                Err(es) => {
                    print_errors("rules", &es);
                    return Ok(ExitCode::from(2));
                }
            };
            let stats = replay::replay(
                &router,
                io::stdin().lock(),
                io::BufWriter::new(io::stdout().lock()),
            )
            .context("replay")?;
            eprintln!(
                "replay: {} lines, {} decided, {} failed",
                stats.lines, stats.decided, stats.failed
            );
            Ok(if stats.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Train {
            corpus,
            out,
            rules,
            epochs,
            learning_rate,
            dims_log2,
        } => {
            let Some(router) = offline_router(rules, None) else {
                return Ok(ExitCode::from(2));
            };
            let labeled = train::read_corpus(&corpus, &router).context("corpus")?;
            let tc = hotline_router::classifier::TrainConfig {
                epochs,
                learning_rate,
                dims_log2,
                ..Default::default()
            };
            let model = train::train(&router, &labeled, &tc);
            std::fs::write(&out, model.to_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "train: {} labeled contacts, {} categories, model written to {}",
                labeled.len(),
                model.categories.len(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            corpus,
            model,
            rules,
            json,
        } => {
            let Some(router) = offline_router(rules, model) else {
                return Ok(ExitCode::from(2));
            };
            let labeled = train::read_corpus(&corpus, &router).context("corpus")?;
            let report = train::eval(&router, &labeled);
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", train::render(&report));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Calendar(cmd) => {
            let dir = match &cmd {
                CalendarCommand::IsWorkday { calendar_dir, .. }
                | CalendarCommand::Due { calendar_dir, .. } => calendar_dir.clone(),
            };
            let cal = match rules_dir::load_calendar(dir.as_deref()) {
                Ok(c) => c,
                Err(es) => {
                    print_errors("calendar", &es);
                    return Ok(ExitCode::from(2));
                }
            };
            let v = match &cmd {
                CalendarCommand::IsWorkday { date, .. } => calendar::is_workday(&cal, date),
                CalendarCommand::Due {
                    received,
                    kind,
                    origin,
                    special,
                    special_emergency,
                    ..
                } => calendar::due(
                    &cal,
                    &DueArgs {
                        received,
                        kind,
                        origin: origin.as_deref(),
                        special: *special,
                        special_emergency: *special_emergency,
                    },
                ),
            };
            match v {
                Ok(v) => {
                    print_json(&v)?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::CheckConfig { file } => {
            let name = file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_else(|| "(embedded default)".into());
            let cfg = match &file {
                Some(f) => Config::load(f),
                None => Ok(Config::default()),
            };
            let result = cfg.and_then(|c| {
                // Tokens read from the environment are checked as serve reads them.
                let addr = c
                    .server
                    .grpc_addr
                    .parse()
                    .unwrap_or(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
                hotline_ingest::auth::Auth::from_config(&c.auth, addr)?;
                rules_dir::build_tenant_routers(&c).map(|rs| (c, rs))
            });
            match result {
                Ok((c, rs)) => {
                    let Some(r) = rs.first() else {
                        return Ok(ExitCode::from(1));
                    };
                    let years: Vec<String> = r.calendar().years().map(|y| y.to_string()).collect();
                    let tenants: Vec<String> = rs
                        .iter()
                        .map(|r| format!("{} ({})", r.city_code(), r.case_prefix()))
                        .collect();
                    println!(
                        "{name}: OK (grpc {}, admin {}, data {}, {} keyword patterns, calendar years {}, tenants {})",
                        c.server.grpc_addr,
                        c.server.admin_addr,
                        c.store.data_dir.display(),
                        r.pattern_count(),
                        years.join(","),
                        tenants.join(", ")
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(es) => {
                    print_errors(&name, &es);
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Ready {
            admin_addr,
            wait_secs,
        } => {
            std::thread::sleep(std::time::Duration::from_secs(wait_secs));
            match hotline_ingest::admin::probe_ready(&admin_addr) {
                Ok(200) => Ok(ExitCode::SUCCESS),
                Ok(code) => {
                    eprintln!("hotlined at {admin_addr}: /ready answered {code}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => {
                    eprintln!("hotlined at {admin_addr}: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hotlined: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The router of an offline command (`train`, `eval`): the embedded rules
/// or a rules directory, the shipped model or a model file; its errors
/// printed, `None` then.
fn offline_router(
    rules: Option<std::path::PathBuf>,
    model: Option<std::path::PathBuf>,
) -> Option<hotline_router::Router> {
    let mut cfg = Config::default();
    cfg.rules.dir = rules;
    cfg.rules.model = model;
    rules_dir::build_router(&cfg)
        .map_err(|es| print_errors("rules", &es))
        .ok()
}
