//! Wires the stages: ingest → panel → params → forecast → replenish → export.
//! Measures wall and CPU seconds per stage for the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use crate::config::Pipeline;
use crate::error::{Error, OutputError, Result};
use crate::export::{self, RunDir};
use crate::ingest::{self, day_of, Dataset, Day};
use crate::panel::{self, from_date, to_date, Panel};
use crate::{forecast, replenish, returns, shard};

/// Process CPU seconds (user + system) so far.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

#[derive(Debug, Clone, Serialize)]
pub struct StageTime {
    pub stage: &'static str,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
}

#[derive(Default)]
pub struct Timer {
    pub stages: Vec<StageTime>,
}

impl Timer {
    pub fn time<T>(&mut self, stage: &'static str, f: impl FnOnce() -> T) -> T {
        let (w, c) = (Instant::now(), cpu_seconds());
        let r = f();
        self.stages.push(StageTime {
            stage,
            wall_seconds: w.elapsed().as_secs_f64(),
            cpu_seconds: cpu_seconds() - c,
        });
        r
    }
}

/// The as-of date: configured, or the last day with demand.
pub fn resolve_as_of(p: &Pipeline, ds: &Dataset) -> Result<Day> {
    let last = ds.demand.iter().map(|d| day_of(d.at)).max();
    let first = ds.demand.iter().map(|d| day_of(d.at)).min();
    let (Some(first), Some(last)) = (first, last) else {
        return Err(Error::Input(crate::error::InputError::Other {
            input: "orders",
            path: p.inputs.orders.path.clone().unwrap_or_default(),
            detail: "no order line counts as demand (all were rejected; see `restock check`)"
                .into(),
        }));
    };
    let as_of = p.as_of.map(from_date).unwrap_or(last);
    if as_of < first {
        return Err(Error::Config(crate::error::ConfigError::Invalid {
            key: "as_of".into(),
            detail: format!(
                "{} is before the first sale ({})",
                to_date(as_of),
                to_date(first)
            ),
        }));
    }
    Ok(as_of)
}

/// Everything a run computed, before it is written.
pub struct Computed {
    pub ds: Dataset,
    pub panel: Panel,
    pub params: Vec<replenish::SeriesParams>,
    pub forecasts: Vec<forecast::SeriesForecast>,
    /// What the model choice learnt per demand class (None: `selection_prior = false`).
    pub selection_prior: Option<forecast::select::Prior>,
    pub return_model: returns::ReturnModel,
    pub returns: Vec<returns::SeriesReturns>,
    pub proposals: Vec<replenish::Proposal>,
    pub overrides: Vec<replenish::OverrideStatus>,
    pub timer: Timer,
    /// Number of shards the forecasts were merged from (None: computed here).
    pub merged_shards: Option<usize>,
}

/// Where a run's forecasts come from.
#[derive(Debug, Clone, Copy)]
pub enum Forecasts<'a> {
    /// Computed in this process (a single-machine run).
    Compute,
    /// Read from the `shard=i/latest/` folders under this path (`restock merge`).
    FromShards(&'a Path),
}

pub fn compute(p: &Pipeline) -> Result<Computed> {
    compute_with(p, Forecasts::Compute)
}

/// What every run and every shard builds before forecasting: the data, the panel as of
/// the run's date, the replenishment parameters and each series' protection window.
type Prepared = (Dataset, Panel, Vec<replenish::SeriesParams>, Vec<usize>);

fn prepare(p: &Pipeline, timer: &mut Timer) -> Result<Prepared> {
    let ds = timer.time("ingest", || ingest::load(p))?;
    let as_of = resolve_as_of(p, &ds)?;
    let panel = timer.time("panel", || panel::build(p, &ds, as_of));
    let params = replenish::resolve(p, &ds, &panel);
    let windows: Vec<usize> = params.iter().map(|x| x.window_days).collect();
    Ok((ds, panel, params, windows))
}

pub fn compute_with(p: &Pipeline, source: Forecasts<'_>) -> Result<Computed> {
    let mut timer = Timer::default();
    let (ds, panel, params, windows) = prepare(p, &mut timer)?;
    let ((forecasts, selection_prior), merged_shards) = match source {
        Forecasts::Compute => (
            timer.time("forecast", || {
                let bar = crate::progress::Progress::new(panel.series.len() as u64, "forecast");
                forecast::run_with_progress(
                    &panel,
                    &p.forecast,
                    p.horizon_days as usize,
                    &windows,
                    &bar,
                )
            }),
            None,
        ),
        Forecasts::FromShards(dir) => {
            let fp = shard::fingerprint(p, &ds, &panel, &windows);
            let (n, fc, prior) =
                timer.time("forecast", || shard::load_forecasts(dir, &ds, &panel, &fp))?;
            ((fc, prior), Some(n))
        }
    };
    let (return_model, rets) = timer.time("returns", || {
        forecast_returns(p, &ds, &panel, &params, &forecasts)
    });
    let rep = timer.time("replenish", || {
        replenish::propose(p, &ds, &panel, &params, &forecasts, &rets)
    });
    Ok(Computed {
        ds,
        panel,
        params,
        forecasts,
        selection_prior,
        return_model,
        returns: rets,
        proposals: rep.lines,
        overrides: rep.overrides,
        timer,
        merged_shards,
    })
}

/// Fits the return model on data known at as-of and forecasts restockable returns per series.
pub fn forecast_returns(
    p: &Pipeline,
    ds: &Dataset,
    panel: &Panel,
    params: &[replenish::SeriesParams],
    fc: &[forecast::SeriesForecast],
) -> (returns::ReturnModel, Vec<returns::SeriesReturns>) {
    use rayon::prelude::*;
    let m = returns::fit(p, ds, panel.as_of);
    let lines = returns::series_lines(ds, panel, m.window);
    let r = (0..panel.series.len())
        .into_par_iter()
        .map(|i| {
            returns::forecast_series(
                &m,
                panel.series[i].sku,
                &lines[i],
                &fc[i],
                params[i].window_days,
            )
        })
        .collect();
    (m, r)
}

fn defaults_summary(c: &Computed) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for l in &c.proposals {
        for d in l.defaulted.split(',').filter(|s| !s.is_empty()) {
            let key: &'static str = match d {
                "product_master" => "product_master",
                "supplier" => "supplier",
                "lead_time_days" => "lead_time_days",
                "moq" => "moq",
                "pack_size" => "pack_size",
                "service_level" => "service_level",
                "unit_cost" => "unit_cost",
                "on_hand" => "on_hand",
                _ => "other",
            };
            *m.entry(key).or_insert(0) += 1;
        }
    }
    m
}

pub struct RunOutcome {
    pub dir: PathBuf,
    pub run_id: String,
    pub series: usize,
    pub order_lines: usize,
    pub rejects: usize,
}

/// Fails the run when too much of the input was rejected or too many forecasts fell back.
fn guard(p: &Pipeline, c: &Computed) -> Result<()> {
    let order_rejects = c.ds.rejects.iter().filter(|r| r.input == "orders").count();
    let share = order_rejects as f64 / c.ds.orders_rows.max(1) as f64;
    if share > p.guards.max_reject_share {
        return Err(Error::Guard(format!(
            "{:.1} % of order lines rejected (limit guards.max_reject_share = {:.1} %); run `restock check`",
            share * 100.0,
            p.guards.max_reject_share * 100.0
        )));
    }
    // Short histories fall back by design (new items); failures of models do not.
    let fb = c
        .forecasts
        .iter()
        .filter(|f| f.fallback_kind == Some("model_failure"))
        .count();
    let share = fb as f64 / c.forecasts.len().max(1) as f64;
    if share > p.guards.max_fallback_share {
        return Err(Error::Guard(format!(
            "{:.1} % of series fell back after a model failure (limit guards.max_fallback_share = {:.1} %)",
            share * 100.0,
            p.guards.max_fallback_share * 100.0
        )));
    }
    Ok(())
}

fn lock(dir: &Path) -> Result<crate::export::lock::RunLock> {
    crate::export::lock::RunLock::acquire(dir).map_err(|e| match e {
        crate::export::lock::LockError::Held { .. } => Error::Locked(e.to_string()),
        crate::export::lock::LockError::Io(o) => Error::Output(o),
    })
}

/// `restock run`: compute, then write every output atomically.
pub fn run(p: &Pipeline) -> Result<RunOutcome> {
    run_with(p, Forecasts::Compute)
}

/// `restock merge`: a run whose forecasts come from the shards under `shards`.
pub fn merge(p: &Pipeline, shards: &Path) -> Result<RunOutcome> {
    run_with(p, Forecasts::FromShards(shards))
}

/// `restock run --shard i/N`: the forecasts of one shard's series, written atomically to
/// `<out>/shard=i/<run_id>/` (`latest` points at it): the state `restock merge` reads, plus
/// `forecasts.parquet` and `forecast_models.parquet` of those series.
pub fn run_shard(p: &Pipeline, spec: shard::ShardSpec) -> Result<RunOutcome> {
    let started = chrono::Utc::now();
    let wall = Instant::now();
    let out = shard::shard_dir(&p.out, spec.index);
    let _lock = lock(&out)?;
    let mut timer = Timer::default();
    let (ds, panel, _, windows) = prepare(p, &mut timer)?;
    let as_of = panel.as_of;
    let idx = shard::series_of(&ds, &panel, spec);
    let h = p.horizon_days as usize;
    let (fc, prior) = timer.time("forecast", || {
        let bar = crate::progress::Progress::new(idx.len() as u64, "forecast");
        forecast::run_subset(&panel, &p.forecast, h, &windows, &idx, &bar)
    });
    let fp = shard::fingerprint(p, &ds, &panel, &windows);
    let items: Vec<(&str, &str, &forecast::SeriesForecast)> = idx
        .iter()
        .zip(&fc)
        .map(|(&i, f)| {
            let m = &panel.series[i];
            (ds.skus.name(m.sku), ds.locs.name(m.loc), f)
        })
        .collect();
    let state = shard::encode_state(spec, &fp, prior.as_ref(), &items);
    let run_id = format!(
        "{}_{}_shard{}of{}",
        to_date(as_of),
        started.format("%Y%m%dT%H%M%SZ"),
        spec.index,
        spec.count
    );
    let dir = RunDir::create(&out, &run_id)?;
    shard::write_state(&dir.file(shard::STATE_FILE), &state)?;
    // The shard's own series only, for analysts reading shard=*/latest as one dataset.
    let metas: Vec<panel::SeriesMeta> = idx.iter().map(|&i| panel.series[i].clone()).collect();
    let panel_series = panel.series.len();
    let mut sub = panel;
    sub.series = metas;
    timer.time("export", || -> Result<(), OutputError> {
        export::forecasts_table(&ds, &sub, &fc, h).write_parquet(&dir.file("forecasts.parquet"))?;
        export::forecast_models_table(
            &ds,
            &sub,
            &fc,
            &p.forecast.models,
            p.forecast.metric.as_str(),
        )
        .write_parquet(&dir.file("forecast_models.parquet"))
    })?;
    let manifest = json!({
        "run_id": run_id,
        "pipeline": p.name,
        "as_of": to_date(as_of).to_string(),
        "restock_version": env!("CARGO_PKG_VERSION"),
        "shard": {"index": spec.index, "count": spec.count},
        "fingerprint": fp,
        "started_at": started.to_rfc3339(),
        "finished_at": chrono::Utc::now().to_rfc3339(),
        "wall_seconds": wall.elapsed().as_secs_f64(),
        "threads": rayon::current_num_threads(),
        "inputs": ds.files,
        "counts": {"series": idx.len(), "panel_series": panel_series},
        "selection_prior": prior,
        "stages": timer.stages,
    });
    export::write_json(&dir.file(shard::SHARD_MANIFEST), &manifest)?;
    let dest = dir.commit()?;
    tracing::info!(shard = %format!("{}/{}", spec.index, spec.count), series = idx.len(), dir = %dest.display(), "shard complete");
    Ok(RunOutcome {
        dir: dest,
        run_id,
        series: idx.len(),
        order_lines: 0,
        rejects: ds.rejects.len(),
    })
}

fn run_with(p: &Pipeline, source: Forecasts<'_>) -> Result<RunOutcome> {
    let started = chrono::Utc::now();
    let wall = Instant::now();
    // Taken before any work, so a second run exits at once.
    let _lock = lock(&p.out)?;
    let mut c = compute_with(p, source)?;
    guard(p, &c)?;
    let drift = crate::monitor::score_previous(&p.out, &c.ds, &c.panel);
    let as_of = c.panel.as_of;
    let run_id = format!("{}_{}", to_date(as_of), started.format("%Y%m%dT%H%M%SZ"));
    let dir = RunDir::create(&p.out, &run_id)?;
    let profile = export::profile(p.export.profile);
    let orders: Vec<&replenish::Proposal> =
        c.proposals.iter().filter(|l| l.order_qty > 0.0).collect();
    let all: Vec<&replenish::Proposal> = c.proposals.iter().collect();
    let held: Vec<&replenish::Proposal> = c.proposals.iter().filter(|l| l.held_qty > 0.0).collect();
    for l in &held {
        tracing::warn!(sku = %l.sku, location = %l.location, qty = l.held_qty, "order held for review (plausibility guard)");
    }
    let all_profiles = export::profiles::all(&p.export.profiles);
    let h = p.horizon_days as usize;
    c.timer.time("export", || -> Result<(), OutputError> {
        let pt = export::proposals_table(&orders);
        pt.write_parquet(&dir.file("proposals.parquet"))?;
        pt.write_csv(&dir.file("proposals.csv"), profile.as_ref())?;
        for name in &p.export.proposals {
            if let Some(def) = all_profiles.get(name) {
                export::profiles::write(def, &pt, &dir.file(&def.file_name(name)), as_of)?;
            }
        }
        export::proposals_table(&all).write_parquet(&dir.file("decisions.parquet"))?;
        let rt = export::proposals_table(&held);
        rt.write_parquet(&dir.file("review.parquet"))?;
        rt.write_csv(&dir.file("review.csv"), profile.as_ref())?;
        export::forecasts_table(&c.ds, &c.panel, &c.forecasts, h)
            .write_parquet(&dir.file("forecasts.parquet"))?;
        export::forecast_models_table(
            &c.ds,
            &c.panel,
            &c.forecasts,
            &p.forecast.models,
            p.forecast.metric.as_str(),
        )
        .write_parquet(&dir.file("forecast_models.parquet"))?;
        export::rejects_table(&c.ds.rejects).write_parquet(&dir.file("rejects.parquet"))?;
        let ot = export::overrides_table(&c.overrides);
        ot.write_parquet(&dir.file("overrides_report.parquet"))?;
        ot.write_csv(&dir.file("overrides_report.csv"), profile.as_ref())?;
        export::returns_forecast_table(&c.ds, &c.panel, &c.returns, h)
            .write_parquet(&dir.file("returns_forecast.parquet"))?;
        export::return_params_table(&c.ds, &c.return_model)
            .write_parquet(&dir.file("return_params.parquet"))?;
        Ok(())
    })?;
    let defaults = defaults_summary(&c);
    for (k, v) in &defaults {
        tracing::warn!(
            field = k,
            series = v,
            "master data missing: pipeline default used"
        );
    }
    for o in c.overrides.iter().filter(|o| o.status != "applied") {
        tracing::warn!(row = o.row, sku = %o.sku, status = o.status, "planner override not applied");
    }
    let mut override_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &c.overrides {
        *override_counts.entry(o.status).or_insert(0) += 1;
    }
    let mut policy_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &c.proposals {
        *policy_counts.entry(l.policy).or_insert(0) += 1;
    }
    let budget_spent: f64 = orders.iter().filter_map(|l| l.line_value).sum();
    let fallbacks = c.forecasts.iter().filter(|f| f.fallback.is_some()).count();
    let outputs: Vec<String> = export::CORE_OUTPUTS
        .iter()
        .map(|s| s.to_string())
        .chain(
            p.export
                .proposals
                .iter()
                .filter_map(|n| all_profiles.get(n).map(|d| d.file_name(n))),
        )
        .collect();
    let manifest = json!({
        "run_id": dir.run_id(),
        "pipeline": p.name,
        "as_of": to_date(as_of).to_string(),
        "restock_version": env!("CARGO_PKG_VERSION"),
        "started_at": started.to_rfc3339(),
        "finished_at": chrono::Utc::now().to_rfc3339(),
        "wall_seconds": wall.elapsed().as_secs_f64(),
        "threads": rayon::current_num_threads(),
        "config": p,
        "inputs": c.ds.files,
        "counts": {
            "skus": c.ds.skus.len(),
            "locations": c.ds.locs.len(),
            "series": c.panel.series.len(),
            "decisions": c.proposals.len(),
            "proposals": orders.len(),
            "held_for_review": held.len(),
            "proposal_units": orders.iter().map(|l| l.order_qty).sum::<f64>(),
            "rejects": c.ds.rejects.len(),
            "demand_lines": c.ds.demand.len(),
            "return_lines": c.ds.returns.len(),
            "demand_lines_after_as_of": c.panel.demand_lines_after_as_of,
            "forecast_fallbacks": fallbacks,
        },
        "order_lines": c.ds.order_classes,
        "defaults_used": defaults,
        "replenishment": {
            "policies": policy_counts,
            "overrides": override_counts,
            "order_value": (budget_spent * 100.0).round() / 100.0,
            "budget": p.replenish.budget,
            "held_for_mov": c.proposals.iter().filter(|l| l.reason_code == "MOV_NOT_REACHED").count(),
            "budget_cut_lines": c.proposals.iter().filter(|l| l.budget_adjustment < 0.0).count(),
        },
        "calendar": c.panel.calendar,
        "shop_events": shop_events(p, &c.panel),
        "promotion_rival_slope": rival_slope(p, &c.panel),
        "selection_prior": c.selection_prior,
        "previous_run_accuracy": drift,
        "returns": {
            "pooled_rate": c.return_model.global_rate,
            "prior_strength_kappa": c.return_model.kappa,
            "lag_source": c.return_model.lag_source,
            "restockable_share": c.return_model.global_restockable,
            "restockable_source": c.return_model.restockable_source,
            "use_in_position": p.returns.use_in_position,
            "quality": c.return_model.quality,
        },
        "stages": c.timer.stages,
        "outputs": outputs,
        "merged_shards": c.merged_shards,
    });
    export::write_json(&dir.file("manifest.json"), &manifest)?;
    let run_id = dir.run_id().to_string();
    let dest = dir.commit()?;
    let cpu = cpu_seconds();
    let order_rejects = c.ds.rejects.iter().filter(|r| r.input == "orders").count();
    let rec = crate::monitor::RunRecord {
        run_id: dest
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| run_id.clone()),
        as_of,
        finished_at: chrono::Utc::now().to_rfc3339(),
        wall_seconds: wall.elapsed().as_secs_f64(),
        cpu_seconds: cpu,
        series: c.panel.series.len() as i64,
        proposals: orders.len() as i64,
        held_for_review: held.len() as i64,
        rejects: c.ds.rejects.len() as i64,
        reject_share: order_rejects as f64 / c.ds.orders_rows.max(1) as f64,
        fallbacks: fallbacks as i64,
        model_failures: c
            .forecasts
            .iter()
            .filter(|f| f.fallback_kind == Some("model_failure"))
            .count() as i64,
        defaults_used: defaults.values().sum::<usize>() as i64,
        cost: cpu / 3600.0 * p.monitor.price_per_cpu_hour,
        drift,
    };
    // The run itself is complete; a failure to record it is logged, not fatal.
    if let Err(e) = crate::monitor::append(&p.out, rec) {
        tracing::error!("could not append to runs.parquet: {e}");
    }
    tracing::info!(run = %run_id, dir = %dest.display(), proposals = orders.len(), "run complete");
    Ok(RunOutcome {
        dir: dest,
        run_id,
        series: c.panel.series.len(),
        order_lines: orders.len(),
        rejects: c.ds.rejects.len(),
    })
}

/// `restock forecast`: forecasts only, one Parquet file written atomically.
pub fn forecast_only(p: &Pipeline, out_file: &Path) -> Result<usize> {
    let ds = ingest::load(p)?;
    let as_of = resolve_as_of(p, &ds)?;
    let panel = panel::build(p, &ds, as_of);
    let params = replenish::resolve(p, &ds, &panel);
    let windows: Vec<usize> = params.iter().map(|x| x.window_days).collect();
    let fc = forecast::run(&panel, &p.forecast, p.horizon_days as usize, &windows);
    let t = export::forecasts_table(&ds, &panel, &fc, p.horizon_days as usize);
    let dir = out_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| OutputError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        out_file
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let res = t.write_parquet(&tmp).and_then(|_| {
        std::fs::rename(&tmp, out_file).map_err(|source| OutputError::Io {
            path: out_file.to_path_buf(),
            source,
        })
    });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res?;
    Ok(t.rows())
}

/// The shop's rival slope the per-series promotion lifts followed (null: no promotion
/// calendar, no rivals, or no pooled model to measure it). Recomputed, as the shop events
/// are, so that a merged sharded run's manifest equals the single run's.
fn rival_slope(p: &Pipeline, panel: &crate::panel::Panel) -> Option<f64> {
    p.forecast
        .models
        .iter()
        .any(|m| m == "global_ridge")
        .then(|| crate::forecast::promo::pooled_rival_slope(panel, &|i| panel.series[i].len))
        .flatten()
        .map(|r| (r * 1e4).round() / 1e4)
}

/// Each `calendar.events` kind with the shop-wide lift the forecast put on its planned days
/// (null: never seen in the last two years, or no pooled model to measure it); empty
/// without events.
fn shop_events(p: &Pipeline, panel: &crate::panel::Panel) -> serde_json::Value {
    let lifts = if p.forecast.models.iter().any(|m| m == "global_ridge") {
        crate::forecast::promo::pooled_event_lifts(panel, &|i| panel.series[i].len)
    } else {
        None
    };
    serde_json::Value::Array(
        panel
            .calendar
            .events
            .iter()
            .enumerate()
            .map(|(k, (kind, _))| {
                let lift = lifts.as_ref().and_then(|l| l.get(k).copied().flatten());
                serde_json::json!({ "kind": kind, "lift": lift.map(|l| (l * 1e4).round() / 1e4) })
            })
            .collect(),
    )
}
