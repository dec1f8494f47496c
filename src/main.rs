//! Thin binary: parse flags, set up logging, call the library, turn the result into an
//! exit code (README, "Exit codes"). Errors are printed once, here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use restock::cli::{BacktestKind, Cli, Command, LogFormat};
use restock::error::exit;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RESTOCK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Json => b.json().init(),
        LogFormat::Text => b.init(),
    }
}

/// The one line a finished run (or merge) prints on stdout.
fn report_run(what: &str, o: &restock::pipeline::RunOutcome) {
    println!(
        "{what} {} complete: {} series, {} order lines, {} rejected rows -> {}",
        o.run_id,
        o.series,
        o.order_lines,
        o.rejects,
        o.dir.display()
    );
}

/// Uploads a finished run when `out` is remote; the outcome then names the run's URL.
fn published(
    staged: &Option<restock::remote::Staging>,
    mut o: restock::pipeline::RunOutcome,
) -> Result<restock::pipeline::RunOutcome, restock::Error> {
    if let Some(url) = staged
        .as_ref()
        .map(|s| s.publish(&o.run_id))
        .transpose()?
        .flatten()
    {
        o.dir = url.into();
    }
    Ok(o)
}

/// Stages remote inputs (and a remote `out` with `stage_out`) and records (staged copy,
/// URL) of each in `sources`, so an error names the URL.
fn stage(
    p: &mut restock::config::Pipeline,
    stage_out: bool,
    sources: &mut Vec<(PathBuf, String)>,
) -> Result<Option<restock::remote::Staging>, restock::Error> {
    let staged = restock::remote::stage(p, stage_out)?;
    sources.extend(p.remote_inputs.iter().cloned());
    Ok(staged)
}

/// `sources` collects (staged copy, URL) of remote inputs, so an error names the URL.
fn run(cli: Cli, sources: &mut Vec<(PathBuf, String)>) -> Result<i32, restock::Error> {
    match cli.command {
        Command::Run {
            common,
            out,
            shard: Some(spec),
        } => {
            let mut p = common.pipeline(out)?;
            let spec: restock::shard::ShardSpec = spec.parse()?;
            let staged = stage(&mut p, true, sources)?;
            let mut o = restock::pipeline::run_shard(&p, spec)?;
            // Remote inputs with a local `out` publish nothing: the folder stays as written.
            if let Some(url) = staged
                .as_ref()
                .map(|s| s.publish_shard(&o.dir))
                .transpose()?
                .flatten()
            {
                o.dir = url.into();
            }
            println!(
                "shard {}/{} complete: {} series forecast -> {}",
                spec.index,
                spec.count,
                o.series,
                o.dir.display()
            );
            Ok(exit::OK)
        }
        Command::Merge {
            common,
            shards,
            out,
        } => {
            let mut p = common.pipeline(out)?;
            let source = shards.unwrap_or_else(|| p.out.clone());
            let remote_src = restock::remote::Url::parse(&source);
            let staged = match (stage(&mut p, true, sources)?, &remote_src) {
                // Shards remote, everything else local: a staging folder for the copies.
                (None, Some(_)) => Some(restock::remote::Staging::empty()?),
                (s, _) => s,
            };
            let dir = match (&remote_src, &staged) {
                (Some(url), Some(s)) => restock::remote::fetch_shards(url, s)?,
                _ => source,
            };
            let o = restock::pipeline::merge(&p, &dir)?;
            report_run("merged run", &published(&staged, o)?);
            Ok(exit::OK)
        }
        Command::Run {
            common,
            out,
            shard: None,
        } => {
            let mut p = common.pipeline(out)?;
            let staged = stage(&mut p, true, sources)?;
            let o = restock::pipeline::run(&p)?;
            report_run("run", &published(&staged, o)?);
            Ok(exit::OK)
        }
        Command::Check {
            common,
            json,
            strict,
        } => {
            let mut p = common.pipeline(None)?;
            let _staged = stage(&mut p, false, sources)?;
            let r = restock::check::check(&p)?;
            print!("{}", r.render());
            if let Some(path) = json {
                let v = serde_json::to_value(&r)
                    .map_err(|e| restock::Error::Internal(e.to_string()))?;
                restock::export::write_json(&path, &v)?;
            }
            use restock::check::Severity;
            let code = match r.worst() {
                Some(Severity::Error) => exit::CHECK_FAILED,
                Some(Severity::Warning) if strict => exit::CHECK_FAILED,
                _ => exit::OK,
            };
            Ok(code)
        }
        Command::Forecast { common, out } => {
            let mut p = common.pipeline(None)?;
            let _staged = stage(&mut p, false, sources)?;
            let rows = restock::pipeline::forecast_only(&p, &out)?;
            println!("wrote {rows} forecast rows to {}", out.display());
            Ok(exit::OK)
        }
        Command::Backtest {
            what:
                BacktestKind::Returns {
                    common,
                    weeks,
                    window_days,
                    out,
                },
        } => {
            let mut p = common.pipeline(None)?;
            let _staged = stage(&mut p, false, sources)?;
            let b = restock::backtest::returns::run(&p, weeks, window_days)?;
            let dir =
                out.unwrap_or_else(|| format!("notebooks-out/returns-backtest-{}", p.name).into());
            std::fs::create_dir_all(&dir).map_err(|source| restock::error::OutputError::Io {
                path: dir.clone(),
                source,
            })?;
            b.rows
                .write_parquet(&dir.join("returns_backtest.parquet"))?;
            let v = serde_json::to_value(&b.summary)
                .map_err(|e| restock::Error::Internal(e.to_string()))?;
            restock::export::write_json(&dir.join("summary.json"), &v)?;
            print!("{}", b.summary.render());
            println!("\nwritten to {}", dir.display());
            Ok(exit::OK)
        }
        Command::Backtest {
            what:
                BacktestKind::Forecast {
                    common,
                    panel,
                    origins,
                    step,
                    window_days,
                    out,
                    export_panel,
                },
        } => restock::backtest::forecast::command(
            &common,
            panel.as_deref(),
            origins,
            step,
            window_days,
            out,
            export_panel.as_deref(),
        ),
        Command::Backtest {
            what:
                BacktestKind::Policy {
                    common,
                    from,
                    to,
                    refit_days,
                    backorders,
                    lead_time_seed,
                    start_units,
                    policies,
                    service_levels,
                    target_fill_rate,
                    out,
                },
        } => {
            let mut p = common.pipeline(None)?;
            let _staged = stage(&mut p, false, sources)?;
            let opts = restock::backtest::policy::options(
                &p,
                from.as_deref(),
                to.as_deref(),
                refit_days,
                backorders,
                lead_time_seed,
                start_units,
                &policies,
                &service_levels,
                target_fill_rate,
            )?;
            let dir =
                out.unwrap_or_else(|| format!("notebooks-out/policy-backtest-{}", p.name).into());
            let b = restock::backtest::policy::run(&p, &opts)?;
            print!("{}", restock::backtest::policy::write(&b, &dir)?);
            println!("\nwritten to {}", dir.display());
            Ok(exit::OK)
        }
        Command::Backtest {
            what: BacktestKind::ReturnCovariates { common },
        } => {
            let mut p = common.pipeline(None)?;
            let _staged = stage(&mut p, false, sources)?;
            let ds = restock::ingest::load(&p)?;
            let as_of = restock::pipeline::resolve_as_of(&p, &ds)?;
            match restock::returns::covariates::evaluate(&p, &ds, as_of) {
                Some(r) => {
                    let v = serde_json::to_string_pretty(&r)
                        .map_err(|e| restock::Error::Internal(e.to_string()))?;
                    println!("{v}");
                }
                None => println!(
                    "not enough sale lines or returns in the rate window to evaluate covariates"
                ),
            }
            Ok(exit::OK)
        }
        Command::Status { out, max_age_hours } => {
            let now = chrono::Utc::now();
            let (level, text) = match restock::remote::Url::parse(&out) {
                // A remote `out`: its history is copied first; a store that cannot be read
                // is UNKNOWN to monitoring, like a missing history.
                Some(url) => match restock::remote::fetch_history(&url) {
                    Ok((_staged, dir)) => restock::monitor::status_of(
                        &dir,
                        &url.join("runs.parquet").to_string(),
                        now,
                        max_age_hours,
                    ),
                    Err(e) => (
                        restock::monitor::Level::Unknown,
                        format!("UNKNOWN: cannot read {url}: {e}\n"),
                    ),
                },
                None => restock::monitor::status(&out, now, max_age_hours),
            };
            print!("{text}");
            Ok(level as i32)
        }
        Command::Sample { out, seed, skus } => {
            let (lines, n) = restock::sample::generate(&out, seed, skus)?;
            println!(
                "sample written to {}: {n} SKUs, {lines} order lines",
                out.display()
            );
            Ok(exit::OK)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    if let Some(n) = cli.threads {
        let r = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot set up the thread pool");
        if let Err(e) = r {
            eprintln!("error: {e:#}");
            return ExitCode::from(exit::INTERNAL as u8);
        }
    }
    let mut sources = Vec::new();
    match run(cli, &mut sources) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            let e = e.with_sources(&sources);
            tracing::error!(exit_code = e.exit_code(), "{e}");
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
