//! Command-line interface (clap derive). Flags are parsed into plain values here and turned
//! into a validated [`Pipeline`] by `config`; nothing in this module does work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{CsvProfile, Overrides, Pipeline, RawPipeline};
use crate::error::{ConfigError, Result};

#[derive(Debug, Parser)]
#[command(
    name = "restock",
    version,
    about = "What to reorder tonight: forecasts with quantiles and ERP-ready order proposals"
)]
pub struct Cli {
    /// Log format on stderr (json for log collectors).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Worker threads (default: all cores). Outputs do not depend on it.
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Nightly job: ingest → panel → forecast → proposals, written atomically to <out>/<run_id>/.
    Run {
        #[command(flatten)]
        common: Common,
        /// Output folder for runs (a run lands in <out>/<run_id>/, <out>/latest points at it).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Forecast only shard i of N (0-based; a stable hash of sku and location picks the
        /// series) into <out>/shard=i/; `restock merge` finishes the run.
        #[arg(long, value_name = "i/N")]
        shard: Option<String>,
    },
    /// Finish a sharded run: read <shards>/shard=*/latest, check they cover every series once
    /// and match these inputs and settings, then returns → proposals → export as `run` does.
    Merge {
        #[command(flatten)]
        common: Common,
        /// Folder holding the shard=i/ folders (default: the pipeline's out).
        #[arg(long)]
        shards: Option<PathBuf>,
        /// Output folder for the merged run (default: the pipeline's out).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Data check: what exists, what is missing, what looks wrong. Writes no run.
    Check {
        #[command(flatten)]
        common: Common,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Treat warnings as fatal (exit code 5).
        #[arg(long)]
        strict: bool,
    },
    /// Forecasts only, one Parquet file: sku, location, date, model, mean, p05..p95.
    Forecast {
        #[command(flatten)]
        common: Common,
        /// Parquet file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Replay history: score forecasts and models against what happened afterwards.
    Backtest {
        #[command(subcommand)]
        what: BacktestKind,
    },
    /// Health of the nightly job from <out>/runs.parquet: last runs and alerts. Exit code
    /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios plugin convention).
    Status {
        /// The runs folder (`out` of the pipeline).
        #[arg(long)]
        out: PathBuf,
        /// CRITICAL when the last run finished longer ago than this.
        #[arg(long, default_value_t = 26.0)]
        max_age_hours: f64,
    },
    /// Generate the deterministic synthetic sample shop (data-samples/).
    Sample {
        #[arg(long, default_value = "data-samples")]
        out: PathBuf,
        #[arg(long, default_value_t = 20240101)]
        seed: u64,
        #[arg(long, default_value_t = 330)]
        skus: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum BacktestKind {
    /// Rolling-origin backtest of the forecasting engine (selection, quantiles): MAE, RMSE,
    /// bias, MASE, RMSSE, WRMSSE, pinball loss per quantile, 50/80/90 % coverage, per series
    /// and per demand class. `--horizon` sets the days scored after each origin (default 28).
    Forecast {
        #[command(flatten)]
        common: Common,
        /// A plain panel Parquet (unique_id, start, y[, day_kind]) instead of the pipeline's
        /// orders: for generated panels and peer comparisons.
        #[arg(long)]
        panel: Option<PathBuf>,
        /// Number of origins, the last one `horizon` days before the as-of date.
        #[arg(long, default_value_t = 4)]
        origins: usize,
        /// Days between origins.
        #[arg(long, default_value_t = 28)]
        step: usize,
        /// Days after each origin scored as one total against the window quantiles (the
        /// protection window: days to the order + lead time + review period); 1..=horizon,
        /// default the horizon.
        #[arg(long)]
        window_days: Option<usize>,
        /// Folder for the Parquet files and summary (default
        /// notebooks-out/forecast-backtest-<pipeline or panel name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the panel as plain-panel Parquet (peers forecast the same series).
        #[arg(long)]
        export_panel: Option<PathBuf>,
    },
    /// Weekly rolling-origin backtest of the returns forecast vs. naive and no-returns baselines.
    Returns {
        #[command(flatten)]
        common: Common,
        /// Number of weekly origins, ending one week before the as-of date.
        #[arg(long, default_value_t = 20)]
        weeks: usize,
        /// Days after each origin whose returns are scored (7: weekly; lead time + review
        /// period to score the window the inventory position uses). Origins stay weekly.
        #[arg(long, default_value_t = 7)]
        window_days: usize,
        /// Folder for returns_backtest.parquet and summary.json (default notebooks-out/returns-backtest-<pipeline>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Replay history day by day with the production forecast and policies (inventory
    /// simulation) over a grid of policies × service targets: fill rate, cycle service
    /// level, stockout days, lost units and margin, average inventory, turns, orders, forecast
    /// accuracy, per setting and class, a recommendation per class, and actual stock where
    /// snapshots exist.
    Policy {
        #[command(flatten)]
        common: Common,
        /// First simulated day (YYYY-MM-DD; default: 365 days before the as-of date).
        #[arg(long)]
        from: Option<String>,
        /// Last simulated day (default: the as-of date).
        #[arg(long)]
        to: Option<String>,
        /// Days between refits of forecasts and policies.
        #[arg(long, default_value_t = 7)]
        refit_days: usize,
        /// Unmet demand is backordered instead of lost.
        #[arg(long)]
        backorders: bool,
        /// Sample lead times from the supplier's sd with this seed (default: deterministic).
        #[arg(long)]
        lead_time_seed: Option<u64>,
        /// Starting stock per series (default: the last snapshot on or before --from, else
        /// the policy's level at the first refit).
        #[arg(long)]
        start_units: Option<f64>,
        /// Policies to compare (default: order_up_to,rq,min_max).
        #[arg(long, value_delimiter = ',', default_value = "order_up_to,rq,min_max")]
        policies: Vec<String>,
        /// Service targets to compare.
        #[arg(long, value_delimiter = ',', default_value = "0.8,0.9,0.95,0.98")]
        service_levels: Vec<f64>,
        /// Fill rate a class must reach for a setting to be recommended.
        #[arg(long, default_value_t = 0.95)]
        target_fill_rate: f64,
        /// Output folder (default notebooks-out/policy-backtest-<pipeline>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Do covariates (price, channel, country, category, line size) predict returns better
    /// than the shrunk SKU rate? Logistic regression, time split, log loss and Brier score.
    ReturnCovariates {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Pipeline TOML (see pipelines/). Flags override it.
    #[arg(long)]
    pub pipeline: Option<PathBuf>,
    #[arg(long)]
    pub orders: Option<PathBuf>,
    #[arg(long)]
    pub returns: Option<PathBuf>,
    #[arg(long)]
    pub stock: Option<PathBuf>,
    #[arg(long)]
    pub products: Option<PathBuf>,
    #[arg(long)]
    pub suppliers: Option<PathBuf>,
    #[arg(long)]
    pub open_pos: Option<PathBuf>,
    /// Promotion calendar (sku, location, start_date, end_date), past and planned.
    #[arg(long)]
    pub promotions: Option<PathBuf>,
    /// As-of date (YYYY-MM-DD); default: the last day with demand.
    #[arg(long)]
    pub as_of: Option<String>,
    /// Forecast horizon in days.
    #[arg(long)]
    pub horizon: Option<u32>,
    /// CSV profile for proposals.csv.
    #[arg(long, value_enum)]
    pub profile: Option<CsvProfile>,
    /// Any other pipeline setting, as a TOML key path: --set defaults.service_level=0.9
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Applies `key.path=value` to a TOML tree; the value is parsed as TOML, else taken as text.
fn apply_set(root: &mut toml::Table, kv: &str) -> Result<(), ConfigError> {
    let (key, value) = kv.split_once('=').ok_or_else(|| ConfigError::Invalid {
        key: kv.to_string(),
        detail: "--set expects KEY=VALUE".into(),
    })?;
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let mut cur = root;
    for p in &parts[..parts.len() - 1] {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry.as_table_mut().ok_or_else(|| ConfigError::Invalid {
            key: key.to_string(),
            detail: format!("'{p}' is not a table"),
        })?;
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

impl Common {
    pub fn pipeline(&self, out: Option<PathBuf>) -> Result<Pipeline> {
        let (path, mut table) = match &self.pipeline {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Io {
                    path: p.clone(),
                    source,
                })?;
                let t: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: p.clone(),
                    detail: e.to_string(),
                })?;
                (p.clone(), t)
            }
            None => (PathBuf::from("adhoc.toml"), toml::Table::new()),
        };
        for kv in &self.set {
            apply_set(&mut table, kv)?;
        }
        let text = toml::to_string(&table).map_err(|e| ConfigError::Parse {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let raw = RawPipeline::from_toml(&path, &text)?;
        let o = Overrides {
            orders: self.orders.clone(),
            returns: self.returns.clone(),
            stock: self.stock.clone(),
            products: self.products.clone(),
            suppliers: self.suppliers.clone(),
            open_pos: self.open_pos.clone(),
            promotions: self.promotions.clone(),
            as_of: self.as_of.clone(),
            horizon_days: self.horizon,
            out,
            profile: self.profile,
        };
        Ok(raw.validate(o)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_parses_typed_values_and_nested_keys() {
        let mut t = toml::Table::new();
        apply_set(&mut t, "defaults.service_level=0.9").unwrap();
        apply_set(&mut t, "export.profile=machine").unwrap();
        assert_eq!(t["defaults"]["service_level"].as_float(), Some(0.9));
        assert_eq!(t["export"]["profile"].as_str(), Some("machine"));
        assert!(apply_set(&mut t, "novalue").is_err());
    }
}
