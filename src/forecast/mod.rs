//! Forecast stage: candidate models per series, chosen by rolling-origin cross-validation,
//! with quantiles from the empirical CV errors (split-conformal style).
//!
//! Two distributions come out per series: per horizon day (for `forecasts.parquet`) and of
//! the *total* demand over the series' protection window (order lead + lead time + review
//! period), which is what an order-up-to level needs. The total is taken from the errors of
//! whole-window sums, so autocorrelated errors are not assumed away.

pub mod augurs;
pub mod baseline;
pub mod class;
pub mod global;
pub mod kernels;
pub mod models;
pub mod promo;
pub mod quantile;
pub mod select;
pub mod yearly;

use std::panic::{catch_unwind, AssertUnwindSafe};

use rayon::prelude::*;
use serde::Serialize;

use crate::config::{ForecastCfg, SelectionMetric};
use crate::panel::{Panel, SeriesView};
pub use class::{ClassInfo, DemandClass};
pub use quantile::{empirical_quantile, QUANTILES, QUANTILE_NAMES};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("series too short: needs {needed} usable days, has {got}")]
    TooShort { needed: usize, got: usize },
    #[error("{0}")]
    NoUsableHistory(String),
    #[error("model produced a non-finite value")]
    NonFinite,
}

/// The forecaster seam. Object-safe so the model list can come from the pipeline TOML;
/// `&self` is an immutable config shared across threads.
pub trait Forecaster: Send + Sync {
    fn name(&self) -> &'static str;
    /// Point forecast for the `h` days after the end of `s`.
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError>;
    /// Forecasts from several origins (cross-validation). Models with fitted parameters
    /// override this to fit once, at the earliest origin with enough history.
    fn predict_origins(
        &self,
        s: &SeriesView,
        origins: &[usize],
        h: usize,
    ) -> Vec<Result<Vec<f64>, ModelError>> {
        origins
            .iter()
            .map(|&o| self.predict(&s.truncate(o), h))
            .collect()
    }
    /// The shop-wide lift of each kind of `calendar.events` day, where the model measures
    /// them (the pooled model): the per-series models forecast planned events with them.
    fn event_lifts(&self) -> Option<&[Option<f64>]> {
        None
    }
    /// How a promotion's lift moves with the share of rivals on promotion, where the model
    /// measures it (the pooled model): the per-series models' promotion lifts follow it.
    fn rival_slope(&self) -> Option<f64> {
        None
    }
}

/// One model by its pipeline name.
pub fn build(name: &str, cfg: &ForecastCfg) -> Option<Box<dyn Forecaster>> {
    match name {
        "naive" => Some(models::naive()),
        "seasonal_naive" => Some(Box::new(baseline::SeasonalNaive::default())),
        "moving_average" => Some(Box::new(baseline::MovingAverage::new(
            cfg.moving_average_window_days,
        ))),
        "ses" => Some(models::ses()),
        "ets" => Some(Box::new(models::Ets {
            period: 7,
            fit_window: cfg.fit_window_days,
        })),
        "theta" => Some(Box::new(models::Theta {
            optimize: false,
            fit_window: cfg.fit_window_days,
        })),
        "optimized_theta" => Some(Box::new(models::Theta {
            optimize: true,
            fit_window: cfg.fit_window_days,
        })),
        other => models::intermittent(other, cfg.fit_window_days, cfg.stall_prior),
    }
}

pub fn registry(cfg: &ForecastCfg) -> Vec<Box<dyn Forecaster>> {
    cfg.models.iter().filter_map(|m| build(m, cfg)).collect()
}

/// The registry plus, when configured, the pooled `global_ridge` model trained on `panel`
/// with each series cut after `n_obs(i)` days (all of it for a run, the origin for a
/// backtest). Its CV twin is trained on data before the earliest CV origin.
pub fn registry_for(
    panel: &Panel,
    cfg: &ForecastCfg,
    h: usize,
    n_obs: &(dyn Fn(usize) -> usize + Sync),
) -> Vec<Box<dyn Forecaster>> {
    let mut models = registry(cfg);
    if cfg.models.iter().any(|m| m == "global_ridge") {
        let back = h + cfg.cv_windows.saturating_sub(1) * cfg.cv_step_days;
        let span = tracing::info_span!("global_model");
        let _g = span.enter();
        let cv_cut = |i: usize| n_obs(i).saturating_sub(back);
        let event_lifts = promo::pooled_event_lifts(panel, n_obs);
        let cv_event_lifts = promo::pooled_event_lifts(panel, &cv_cut);
        let full = global::train(panel, h, n_obs, cfg.global_penalty, event_lifts.as_deref())
            .map(std::sync::Arc::new);
        let cv = global::train(
            panel,
            h,
            &cv_cut,
            cfg.global_penalty,
            cv_event_lifts.as_deref(),
        )
        .map(std::sync::Arc::new);
        tracing::info!(
            trained = full.is_some(),
            cv_trained = cv.is_some(),
            "global model"
        );
        let rival_slope = promo::pooled_rival_slope(panel, n_obs);
        if let Some(r) = rival_slope {
            tracing::info!(slope = format!("{r:.3}"), "rivals' promotions (shrunk)");
        }
        let g: Box<dyn Forecaster> = Box::new(global::Global {
            cv,
            full,
            event_lifts,
            rival_slope,
        });
        // Registry order decides ties; keep the configured position.
        let pos = cfg
            .models
            .iter()
            .filter(|m| build(m, cfg).is_some() || m.as_str() == "global_ridge")
            .position(|m| m == "global_ridge")
            .unwrap_or(models.len())
            .min(models.len());
        models.insert(pos, g);
    }
    models
}

/// Which models suit a demand class. Level/trend/season models for regular demand, the
/// Croston family and temporal aggregation for intermittent demand; simple averages
/// everywhere as a safe benchmark.
pub fn suits(class: DemandClass, model: &str) -> bool {
    const REGULAR: &[&str] = &[
        "global_ridge",
        "naive",
        "seasonal_naive",
        "moving_average",
        "ses",
        "ets",
        "theta",
        "optimized_theta",
    ];
    const INTERMITTENT: &[&str] = &[
        "global_ridge",
        "moving_average",
        "ses",
        "croston",
        "croston_optimized",
        "sba",
        "tsb",
        "adida",
        "imapa",
    ];
    if !crate::config::KNOWN_MODELS.contains(&model) {
        // A model restock does not know (a plug-in, a test double) competes everywhere.
        return class != DemandClass::Dead;
    }
    match class {
        DemandClass::Smooth | DemandClass::Erratic => REGULAR.contains(&model),
        DemandClass::Intermittent | DemandClass::Lumpy => INTERMITTENT.contains(&model),
        DemandClass::New => true,
        DemandClass::Dead => false,
    }
}

/// Score of one candidate in cross-validation.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateScore {
    pub model: &'static str,
    /// The selection metric (lower is better); None if the candidate failed.
    pub score: Option<f64>,
    /// Mean absolute error per day over all CV origins and horizon days.
    pub mae: Option<f64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SeriesForecast {
    pub model: &'static str,
    /// For the ensemble: the members.
    pub members: Vec<&'static str>,
    pub class: ClassInfo,
    pub mean: Vec<f64>,
    /// Per horizon day, the values at [`QUANTILES`].
    pub quantiles: Vec<[f64; 7]>,
    /// Conformal path: the sorted CV errors each horizon week's quantiles come from (empty
    /// for count-distribution and Poisson forecasts). Lets any level be read off.
    pub daily_errors: Vec<Vec<f64>>,
    /// Horizon days on which the shop is closed (demand is 0 for sure).
    pub closed_days: Vec<usize>,
    /// Share of zero days in the recent open history: the floor of each day's P(0).
    pub zero_share: f64,
    /// "conformal" (CV errors) or "negative_binomial" (count distribution).
    pub quantile_method: &'static str,
    pub window_days: usize,
    pub window_mean: f64,
    /// Sorted errors (actual − forecast) of window totals over the CV origins.
    pub window_errors: Vec<f64>,
    /// Sorted daily errors (for the normal approximation when window errors are few).
    pub daily_error_sd: f64,
    /// Mean squared daily CV error (variance of count demand around the forecast).
    pub daily_mse: f64,
    pub window_method: &'static str,
    /// Σ(actual − forecast)² / Σ forecast of the window totals over the CV windows: the
    /// window variance per unit of window mean under `window_method = "cv_dispersion"`
    /// (NaN without windows).
    pub window_dispersion: f64,
    /// The recalibrated levels window quantiles are read at ([`select::WindowRecal`]);
    /// None: read as nominal.
    pub window_levels: Option<std::sync::Arc<Vec<f64>>>,
    pub scores: Vec<CandidateScore>,
    pub cv_origins: usize,
    pub fallback: Option<String>,
    /// "short_history" (expected for new items) or "model_failure" (error, panic, NaN).
    pub fallback_kind: Option<&'static str>,
    /// Weight of the series' own CV scores in the choice (the class prior's reliability,
    /// [`select`]); None: chosen by the lowest raw score.
    pub selection_weight: Option<f64>,
    /// Where the forecast uses a Croston-family model and its history ends on zero days:
    /// (zero trading days at the end, probability the item still sells), the stopped-item
    /// correction ([`models::alive`]) that lowered it.
    pub stall: Option<(usize, f64)>,
    /// The lift the per-series models put on planned promotion days ([`promo`]); None
    /// without promotion days in the series' last year.
    pub promo_lift: Option<f64>,
    /// The lift the per-series models put on the first planned shop event day of the
    /// horizon that has one (`calendar.events`, [`promo`]); None without one.
    pub event_lift: Option<f64>,
    /// Last year's move applied to the forecast ([`yearly`]); None where no model of the
    /// forecast took it.
    pub yearly_move: Option<f64>,
}

impl SeriesForecast {
    /// Takes the window recalibration of its class from `prior`. The map was learnt on
    /// count windows with the CV dispersion: only those read their levels off it.
    pub(crate) fn read_window_levels(&mut self, prior: Option<&select::Prior>) {
        if self.window_method == "cv_dispersion" {
            self.window_levels = prior.and_then(|p| p.window_levels(self.class.class));
        }
    }

    /// A forecast given from outside (hand-computed cases, replays): flat daily mean over
    /// the window, window quantiles by `window_method` ("normal_approx" with the daily error
    /// sd, "negative_binomial" with variance `daily_sd²` per day, or "poisson").
    pub fn fixed(
        window_mean: f64,
        window_days: usize,
        window_method: &'static str,
        daily_sd: f64,
    ) -> SeriesForecast {
        let days = window_days.max(1);
        let daily = window_mean / days as f64;
        SeriesForecast {
            model: "given",
            members: vec![],
            class: ClassInfo {
                class: DemandClass::Smooth,
                adi: 1.0,
                cv2: 0.0,
                trading_days: 0,
            },
            mean: vec![daily; days],
            quantiles: vec![[daily; 7]; days],
            daily_errors: vec![],
            closed_days: vec![],
            zero_share: 0.0,
            quantile_method: "given",
            window_days: days,
            window_mean,
            window_errors: vec![],
            daily_error_sd: daily_sd,
            daily_mse: daily_sd * daily_sd,
            window_method,
            window_dispersion: f64::NAN,
            window_levels: None,
            scores: vec![],
            cv_origins: 0,
            fallback: None,
            fallback_kind: None,
            selection_weight: None,
            stall: None,
            promo_lift: None,
            event_lift: None,
            yearly_move: None,
        }
    }

    /// Demand over the protection window at cumulative probability `p`, never negative.
    pub fn window_quantile(&self, p: f64) -> f64 {
        quantile::window_quantile(self, p)
    }

    /// P(demand over the protection window ≤ y) under the distribution of
    /// [`Self::window_quantile`] (calibration checks).
    pub fn window_cdf(&self, y: f64) -> f64 {
        quantile::window_cdf(self, y)
    }

    /// Demand of horizon day `j` at any level `p` (the seven stored levels are these).
    pub fn daily_quantile(&self, j: usize, p: f64) -> f64 {
        quantile::daily_quantile(self, j, p)
    }

    /// P(demand of horizon day `j` ≤ y) under the distribution the quantiles come from.
    pub fn daily_cdf(&self, j: usize, y: f64) -> f64 {
        quantile::daily_cdf(self, j, y)
    }
}

const MIN_TRAIN: usize = 14;

/// CV origins: every `step` days back from the last origin with `h` days of actuals,
/// keeping at least `MIN_TRAIN` days before each. Latest first.
pub fn cv_origins(n: usize, cfg: &ForecastCfg, h: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for k in 0..cfg.cv_windows {
        let Some(o) = n.checked_sub(h.min(n) + k * cfg.cv_step_days) else {
            break;
        };
        if o < MIN_TRAIN {
            break;
        }
        out.push(o);
    }
    out
}

/// Cross-validation outcome of one candidate.
struct Cv {
    /// Predictions per origin (None where the model could not forecast from it); emptied
    /// once the ensemble is built.
    preds: Vec<Option<Vec<f64>>>,
    daily: Vec<(usize, f64)>, // (horizon index, error)
    window: Vec<f64>,
    /// The forecast window totals the window errors are measured against.
    window_fc: Vec<f64>,
    mae: Option<f64>,
    score: Option<f64>,
    /// The score on two interleaved halves of the origins (blocks of one horizon's worth of
    /// steps): how far per-series scores can be trusted ([`select`]).
    halves: [Option<f64>; 2],
    origins: usize,
    /// The predictions are times last year's move ([`yearly`]).
    yearly: bool,
}

/// Scales that make errors comparable across series (M5): mean absolute and mean squared
/// one-step change of the trading-day history before the first origin.
pub(crate) fn scales(s: &SeriesView, first_origin: usize) -> (f64, f64) {
    let y = models::trading_values(&s.truncate(first_origin));
    let (mut a, mut q) = (0.0, 0.0);
    for w in y.windows(2) {
        let d = w[1] - w[0];
        a += d.abs();
        q += d * d;
    }
    let k = y.len().saturating_sub(1).max(1) as f64;
    let fix = |v: f64| if v > 1e-12 { v } else { 1.0 };
    (fix(a / k), fix(q / k))
}

pub(crate) fn pinball(y: f64, q: f64, p: f64) -> f64 {
    if y >= q {
        p * (y - q)
    } else {
        (1.0 - p) * (q - y)
    }
}

/// Errors and scores from per-origin predictions.
fn evaluate(
    preds: Vec<Option<Vec<f64>>>,
    s: &SeriesView,
    origins: &[usize],
    h: usize,
    window: usize,
    cfg: &ForecastCfg,
    scale: (f64, f64),
) -> Cv {
    let (metric, step) = (cfg.metric, cfg.cv_step_days);
    let n = s.y.len();
    let mut daily = Vec::new();
    let mut win = Vec::new();
    let mut win_fc = Vec::new();
    let mut pts: Vec<(f64, f64, f64)> = Vec::new(); // (actual, forecast, weight)
    let mut half: Vec<bool> = Vec::new();
    // Origins run from the latest back (`cv_origins`).
    let weight = |oi: usize| match cfg.cv_half_life {
        hl if hl > 0.0 => 0.5f64.powf(oi as f64 / hl),
        _ => 1.0,
    };
    let block = h.div_ceil(step.max(1)).max(1);
    let mut used = 0;
    for (oi, (pred, &o)) in preds.iter().zip(origins).enumerate() {
        let Some(pred) = pred else { continue };
        used += 1;
        let len = pred.len().min(n - o);
        for j in 0..len.min(h) {
            let t = o + j;
            if !s.usable(t) {
                continue;
            }
            daily.push((j, s.y[t] - pred[j]));
            pts.push((s.y[t], pred[j], weight(oi)));
            half.push((oi / block) % 2 == 1);
        }
        if len >= window && window > 0 && !(o..o + window).any(|t| s.censored[t]) {
            let actual: f64 = s.y[o..o + window].iter().sum();
            let fc: f64 = pred[..window].iter().sum();
            win.push(actual - fc);
            win_fc.push(fc);
        }
    }
    let k = pts.len() as f64;
    let mae = (!pts.is_empty()).then(|| pts.iter().map(|(y, f, _)| (y - f).abs()).sum::<f64>() / k);
    let score = metric_score(&pts, metric, scale);
    let halves = [false, true].map(|hf| {
        let sub: Vec<(f64, f64, f64)> = pts
            .iter()
            .zip(&half)
            .filter(|(_, &x)| x == hf)
            .map(|(p, _)| *p)
            .collect();
        metric_score(&sub, metric, scale)
    });
    Cv {
        preds,
        daily,
        window: win,
        window_fc: win_fc,
        mae,
        score,
        halves,
        origins: used,
        yearly: false,
    }
}

/// The selection metric over (actual, forecast, weight) points; None without points.
fn metric_score(
    pts: &[(f64, f64, f64)],
    metric: SelectionMetric,
    scale: (f64, f64),
) -> Option<f64> {
    let k: f64 = pts.iter().map(|p| p.2).sum();
    if pts.is_empty() || k <= 0.0 {
        return None;
    }
    Some(match metric {
        SelectionMetric::Mase => {
            pts.iter().map(|(y, f, w)| w * (y - f).abs()).sum::<f64>() / k / scale.0
        }
        SelectionMetric::Rmsse => {
            (pts.iter().map(|(y, f, w)| w * (y - f).powi(2)).sum::<f64>() / k / scale.1).sqrt()
        }
        SelectionMetric::Pinball => {
            let mut e: Vec<f64> = pts.iter().map(|(y, f, _)| y - f).collect();
            e.sort_by(f64::total_cmp);
            let offs: Vec<f64> = QUANTILES
                .iter()
                .map(|p| empirical_quantile(&e, *p))
                .collect();
            let mut acc = 0.0;
            for (y, f, w) in pts {
                for (qi, p) in QUANTILES.iter().enumerate() {
                    acc += w * pinball(*y, (f + offs[qi]).max(0.0), *p);
                }
            }
            acc / (k * QUANTILES.len() as f64) / scale.0
        }
    })
}

fn guarded<T>(f: impl FnOnce() -> Result<T, ModelError>) -> Result<T, ModelError> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(ModelError::NoUsableHistory("model panicked".into())))
}

/// Forecasts one series without a selection prior (see [`forecast_series_with`]).
pub fn forecast_series(
    models: &[Box<dyn Forecaster>],
    s: &SeriesView,
    cfg: &ForecastCfg,
    h: usize,
    window: usize,
) -> SeriesForecast {
    forecast_series_with(models, None, None, s, cfg, h, window)
}

/// The cross-validated candidates of one series, before the choice.
pub struct Candidates {
    origins: Vec<usize>,
    scale: (f64, f64),
    scores: Vec<CandidateScore>,
    /// Lowest raw score first; ties keep registry order (simpler models first).
    cvs: Vec<(usize, Cv)>,
    /// Mean of the best k (by raw score) and its CV.
    ensemble: Option<(Vec<usize>, Cv)>,
    all_too_short: bool,
    /// The CV windows checked block by block as if out of sample (only where asked for: the
    /// selection prior's sample, [`select`]).
    pub(crate) pseudo: Option<select::Pseudo>,
}

/// Cross-validates the candidates that suit the class, and the ensemble of the best k;
/// `lifted`: the series' promotion lift ([`promo`]), computed once by the caller.
#[allow(clippy::too_many_arguments)]
fn cross_validate(
    models: &[Box<dyn Forecaster>],
    s: &SeriesView,
    lifted: Option<&promo::Lifted>,
    cfg: &ForecastCfg,
    class: DemandClass,
    h: usize,
    window: usize,
    pseudo: bool,
) -> Candidates {
    let eval_len = h.max(window);
    let origins = cv_origins(s.y.len(), cfg, h);
    let scale = scales(s, origins.last().copied().unwrap_or(s.y.len()));
    let mut scores = Vec::new();
    let mut cvs: Vec<(usize, Cv)> = Vec::new();
    let mut all_too_short = true;
    // Last year's move at each origin, where most origins have one.
    let moves: Option<Vec<Option<f64>>> = cfg.yearly_move.then(|| {
        origins
            .iter()
            .map(|&o| yearly::move_at(s, o, eval_len))
            .collect()
    });
    let moves = moves.filter(|m| 2 * m.iter().flatten().count() > m.len());
    for (i, m) in models.iter().enumerate() {
        if !suits(class, m.name()) {
            continue;
        }
        let r = guarded(|| {
            if origins.is_empty() {
                return Err(ModelError::TooShort {
                    needed: MIN_TRAIN + h,
                    got: s.y.len(),
                });
            }
            let raw = promo::predict_origins(m.as_ref(), s, lifted, &origins, eval_len);
            let mut last_err = None;
            let mut preds = Vec::with_capacity(raw.len());
            for p in raw {
                match p {
                    Ok(v) if v.iter().any(|x| !x.is_finite()) => return Err(ModelError::NonFinite),
                    Ok(v) => preds.push(Some(v)),
                    Err(e) => {
                        last_err = Some(e);
                        preds.push(None);
                    }
                }
            }
            let mut cv = evaluate(preds, s, &origins, h, window, cfg, scale);
            if let Some(moves) = moves.as_ref() {
                let moved: Vec<Option<Vec<f64>>> = cv
                    .preds
                    .iter()
                    .zip(moves)
                    .map(|(p, &f)| {
                        p.clone().map(|mut p| {
                            yearly::apply(&mut p, f);
                            p
                        })
                    })
                    .collect();
                let alt = evaluate(moved, s, &origins, h, window, cfg, scale);
                let better = |a: Option<f64>, b: Option<f64>| match (a, b) {
                    (Some(a), Some(b)) => a * (1.0 + yearly::MARGIN) < b,
                    _ => false,
                };
                if better(alt.score, cv.score) {
                    cv = Cv {
                        yearly: true,
                        ..alt
                    };
                }
            }
            match (cv.origins, last_err) {
                (0, Some(e)) => Err(e),
                (0, None) => Err(ModelError::NoUsableHistory("no origin evaluated".into())),
                _ => Ok(cv),
            }
        });
        match r {
            Ok(cv) => {
                scores.push(CandidateScore {
                    model: m.name(),
                    score: cv.score,
                    mae: cv.mae,
                    error: None,
                });
                cvs.push((i, cv));
            }
            Err(e) => {
                all_too_short &= matches!(e, ModelError::TooShort { .. });
                scores.push(CandidateScore {
                    model: m.name(),
                    score: None,
                    mae: None,
                    error: Some(e.to_string()),
                });
            }
        }
    }
    let key = |cv: &Cv| cv.score.unwrap_or(f64::INFINITY);
    cvs.sort_by(|a, b| key(&a.1).total_cmp(&key(&b.1)).then(a.0.cmp(&b.0)));

    // Ensemble: mean of the best k candidates' predictions at every origin they all share.
    let mut ensemble: Option<(Vec<usize>, Cv)> = None;
    let k = cfg.ensemble_k;
    if k >= 2 && cvs.len() >= k {
        let members: Vec<usize> = cvs[..k].iter().map(|c| c.0).collect();
        let preds: Vec<Option<Vec<f64>>> = (0..origins.len())
            .map(|oi| {
                let ps: Option<Vec<&Vec<f64>>> =
                    cvs[..k].iter().map(|c| c.1.preds[oi].as_ref()).collect();
                ps.map(|ps| {
                    (0..ps[0].len())
                        .map(|j| ps.iter().map(|p| p[j]).sum::<f64>() / k as f64)
                        .collect()
                })
            })
            .collect();
        let cv = evaluate(preds, s, &origins, h, window, cfg, scale);
        scores.push(CandidateScore {
            model: "ensemble",
            score: cv.score,
            mae: cv.mae,
            error: None,
        });
        if cv.origins > 0 {
            ensemble = Some((members, cv));
        }
    }
    let pseudo = pseudo
        .then(|| {
            let all = cvs
                .iter()
                .map(|c| (models[c.0].name(), &c.1))
                .chain(ensemble.as_ref().map(|e| ("ensemble", &e.1)));
            pseudo_holdout(all, s, &origins, h, window, cfg, scale)
        })
        .flatten();
    // The choice needs errors and scores only: drop the predictions, which the prior's
    // sample would otherwise hold until its series' turn.
    for c in cvs
        .iter_mut()
        .map(|c| &mut c.1)
        .chain(ensemble.as_mut().map(|e| &mut e.1))
    {
        c.preds = Vec::new();
    }
    Candidates {
        origins,
        scale,
        scores,
        cvs,
        ensemble,
        all_too_short,
        pseudo,
    }
}

/// Protection-window checks from the CV windows, block by block (leave one block out).
/// The origins are cut into blocks of one window's worth of steps; for each block and
/// candidate: the score on the origins whose days do not touch the block's, the window
/// dispersion those origins show, and the (actual, forecast) totals of the block's windows.
/// The prior's sample then picks per block as the forecast picks ([`select`]), so choice
/// and dispersion are as out of sample for the block as they are for the real window, and
/// the blocks spread the check over the whole CV span, not one stretch of weeks
/// (benches/README "Window recalibration").
fn pseudo_holdout<'a>(
    cands: impl Iterator<Item = (&'static str, &'a Cv)> + Clone,
    s: &SeriesView,
    origins: &[usize],
    h: usize,
    window: usize,
    cfg: &ForecastCfg,
    scale: (f64, f64),
) -> Option<select::Pseudo> {
    let block = window.max(1).div_ceil(cfg.cv_step_days.max(1));
    let reach = h.max(window);
    let only = |cv: &Cv, keep: &dyn Fn(usize) -> bool| -> Vec<Option<Vec<f64>>> {
        cv.preds
            .iter()
            .enumerate()
            .map(|(oi, p)| if keep(oi) { p.clone() } else { None })
            .collect()
    };
    let mut blocks = Vec::new();
    for b in 0.. {
        // Origins run latest first: block b holds origins b·block .. (b+1)·block, whose
        // days run from `start` to `end`.
        let (first, last) = (b * block, (b + 1) * block);
        let Some(&start) = origins.get(last - 1) else {
            break;
        };
        let end = origins[first] + reach;
        let rest: Vec<bool> = origins
            .iter()
            .map(|&o| o + reach <= start || o >= end)
            .collect();
        if rest.iter().filter(|&&e| e).count() < select::MIN_EARLY_WINDOWS {
            // Kept empty, so that a block's place still says how recent it is.
            blocks.push(Vec::new());
            continue;
        }
        let mut out = Vec::new();
        for (name, cv) in cands.clone() {
            let e = evaluate(only(cv, &|oi| rest[oi]), s, origins, h, window, cfg, scale);
            let Some(score) = e.score else { continue };
            let disp = quantile::window_dispersion(&e.window, &e.window_fc);
            let usable = quantile::dispersion_usable(e.window.len(), disp);
            let late = if usable {
                let l = evaluate(
                    only(cv, &|oi| (first..last).contains(&oi)),
                    s,
                    origins,
                    h,
                    window,
                    cfg,
                    scale,
                );
                l.window
                    .iter()
                    .zip(&l.window_fc)
                    .filter(|(_, &f)| f > 0.0)
                    .map(|(e, &f)| (f + e, f))
                    .collect()
            } else {
                Vec::new()
            };
            out.push(select::BlockCandidate {
                model: name,
                score,
                disp: usable.then_some(disp),
                late,
            });
        }
        blocks.push(out);
    }
    blocks
        .iter()
        .any(|b| !b.is_empty())
        .then_some(select::Pseudo { blocks })
}

/// Forecasts one series: classify, cross-validate the candidates that suit the class (plus
/// an ensemble of the best k), pick the lowest score — shrunk toward what wins in the
/// series' demand class when a `prior` is given — and refit on all data. Failures fall
/// back to the next-best candidate, then to the historic mean, and are recorded.
///
/// `cached`: this series' candidates as the prior's sample cross-validated them (same
/// series, cut and window, so the same result as cross-validating again).
pub fn forecast_series_with(
    models: &[Box<dyn Forecaster>],
    prior: Option<&select::Prior>,
    cached: Option<Candidates>,
    s: &SeriesView,
    cfg: &ForecastCfg,
    h: usize,
    window: usize,
) -> SeriesForecast {
    let class = class::classify(s, cfg.class_window_days, cfg.new_days, cfg.dead_days);
    let eval_len = h.max(window);
    if class.class == DemandClass::Dead {
        let mut out = quantile::assemble(
            "zero",
            vec![0.0; eval_len],
            None,
            s,
            h,
            window,
            vec![],
            None,
            false,
            cfg.zero_floor_days,
        );
        out.class = class;
        return out;
    }
    let lifted = promo::Lifted::of(s, promo::event_prior(models), promo::rival_prior(models));
    let Candidates {
        origins,
        scale,
        scores,
        mut cvs,
        ensemble,
        all_too_short,
        ..
    } = match cached {
        Some(c) => c,
        None => cross_validate(
            models,
            s,
            lifted.as_ref(),
            cfg,
            class.class,
            h,
            window,
            false,
        ),
    };
    // The choice: lowest score, or lowest shrunk score under the class prior. The ensemble
    // keeps its raw-score members either way (that is what the prior learnt).
    let adjusted = |name: &str, cv: &Cv| match (prior, cv.score) {
        (Some(p), Some(v)) => p.adjusted(class.class, name, v),
        (None, Some(v)) => v,
        (_, None) => f64::INFINITY,
    };
    if prior.is_some() {
        cvs.sort_by(|a, b| {
            adjusted(models[a.0].name(), &a.1)
                .total_cmp(&adjusted(models[b.0].name(), &b.1))
                .then(a.0.cmp(&b.0))
        });
    }
    let use_ensemble = match (&ensemble, cvs.first()) {
        (Some((_, e)), Some((i, best))) => {
            adjusted("ensemble", e) < adjusted(models[*i].name(), best)
        }
        _ => false,
    };

    // Last year's move at the forecast origin, for the candidates whose CV took it.
    let final_move = yearly::move_at(s, s.y.len(), eval_len);
    let moved: Vec<usize> = cvs.iter().filter(|c| c.1.yearly).map(|c| c.0).collect();
    let moved_names: Vec<&'static str> = moved.iter().map(|&i| models[i].name()).collect();
    let with_move = |i: usize, mut p: Vec<f64>| {
        if moved.contains(&i) {
            yearly::apply(&mut p, final_move);
        }
        p
    };
    let mut fallback = None;
    let mut fallback_kind = None;
    let mut failures: Vec<String> = Vec::new();
    let mut chosen: Option<(&'static str, Vec<&'static str>, Vec<f64>, Cv)> = None;
    if use_ensemble {
        if let Some((members, cv)) = ensemble {
            let paths: Result<Vec<Vec<f64>>, String> = members
                .iter()
                .map(|&i| {
                    match guarded(|| {
                        promo::predict(models[i].as_ref(), s, lifted.as_ref(), eval_len)
                    }) {
                        Ok(p) if p.iter().all(|v| v.is_finite()) => Ok(with_move(i, p)),
                        Ok(_) => Err(format!("{}: non-finite forecast", models[i].name())),
                        Err(e) => Err(format!("{}: {e}", models[i].name())),
                    }
                })
                .collect();
            match paths {
                Ok(ps) => {
                    let mean = (0..eval_len)
                        .map(|j| ps.iter().map(|p| p[j]).sum::<f64>() / ps.len() as f64)
                        .collect();
                    let names = members.iter().map(|&i| models[i].name()).collect();
                    chosen = Some(("ensemble", names, mean, cv));
                }
                Err(e) => failures.push(format!("ensemble failed on the full series: {e}")),
            }
        }
    }
    if chosen.is_none() {
        for (i, cv) in cvs {
            match guarded(|| promo::predict(models[i].as_ref(), s, lifted.as_ref(), eval_len)) {
                Ok(p) if p.iter().all(|v| v.is_finite()) => {
                    chosen = Some((models[i].name(), vec![], with_move(i, p), cv));
                    break;
                }
                Ok(_) => failures.push(format!(
                    "{} failed on the full series: non-finite forecast",
                    models[i].name()
                )),
                Err(e) => failures.push(format!(
                    "{} failed on the full series: {e}",
                    models[i].name()
                )),
            }
        }
    }
    if !failures.is_empty() {
        fallback = Some(failures.join("; "));
        fallback_kind = Some("model_failure");
    }
    let (model, members, mean, cv) = match chosen {
        Some((m, mem, p, cv)) => (m, mem, p, Some(cv)),
        None => {
            if failures.is_empty() {
                let why: Vec<String> = scores
                    .iter()
                    .map(|c| format!("{}: {}", c.model, c.error.as_deref().unwrap_or("no score")))
                    .collect();
                fallback = Some(format!(
                    "no candidate could be evaluated ({})",
                    why.join("; ")
                ));
                fallback_kind = Some(if all_too_short {
                    "short_history"
                } else {
                    "model_failure"
                });
            }
            let hm = baseline::HistoricMean;
            let preds = promo::predict_origins(&hm, s, lifted.as_ref(), &origins, eval_len);
            let preds = preds.into_iter().map(Result::ok).collect();
            let cv = evaluate(preds, s, &origins, h, window, cfg, scale);
            (
                hm.name(),
                vec![],
                promo::predict(&hm, s, lifted.as_ref(), eval_len)
                    .unwrap_or_else(|_| vec![0.0; eval_len]),
                Some(cv),
            )
        }
    };
    let mut out = quantile::assemble(
        model,
        mean,
        cv.map(|c| (c.daily, (c.window, c.window_fc), c.origins)),
        s,
        h,
        window,
        scores,
        fallback,
        class.class.is_intermittent(),
        cfg.zero_floor_days,
    );
    out.members = members;
    out.class = class;
    out.fallback_kind = fallback_kind;
    out.selection_weight = prior.and_then(|p| p.reliability(class.class));
    out.read_window_levels(prior);
    out.stall = stall(&out, s, cfg);
    out.promo_lift = lifted.as_ref().and_then(|l| l.promo).map(|l| l.lift);
    out.event_lift = lifted.as_ref().and_then(|l| l.next_event_lift(s, h));
    out.yearly_move = final_move.filter(|_| {
        out.members
            .iter()
            .chain([&out.model])
            .any(|m| moved_names.contains(m))
    });
    out
}

/// The stopped-item correction behind a forecast, for the planner: only where a
/// Croston-family model (alone or in the ensemble) was lowered by it.
fn stall(f: &SeriesForecast, s: &SeriesView, cfg: &ForecastCfg) -> Option<(usize, f64)> {
    let corrected = models::stall_corrected;
    if !(corrected(f.model) || f.members.iter().any(|m| corrected(m))) {
        return None;
    }
    let y = models::trading_values(s);
    let (run, p) = models::alive(
        &y[y.len().saturating_sub(cfg.fit_window_days)..],
        cfg.stall_prior,
    );
    (p < 1.0).then_some((run, p))
}

/// Forecasts every series in parallel; output order = panel order, whatever the threads.
pub fn run(panel: &Panel, cfg: &ForecastCfg, h: usize, windows: &[usize]) -> Vec<SeriesForecast> {
    run_with_progress(panel, cfg, h, windows, &crate::progress::Progress::none()).0
}

/// [`run`] ticking a progress bar once per series; also returns the selection prior used.
pub fn run_with_progress(
    panel: &Panel,
    cfg: &ForecastCfg,
    h: usize,
    windows: &[usize],
    progress: &crate::progress::Progress,
) -> (Vec<SeriesForecast>, Option<select::Prior>) {
    let all: Vec<usize> = (0..panel.series.len()).collect();
    run_subset(panel, cfg, h, windows, &all, progress)
}

/// The selection prior, when configured (learnt on the whole panel, so shards agree).
///
/// Returns it with one slot per entry of `indices`: the candidates of the series the
/// prior's sample already cross-validated, for [`forecast_series_with`] to reuse.
pub fn prior_for(
    models: &[Box<dyn Forecaster>],
    panel: &Panel,
    cfg: &ForecastCfg,
    h: usize,
    n_obs: &(dyn Fn(usize) -> usize + Sync),
    window: &(dyn Fn(usize) -> usize + Sync),
    indices: &[usize],
) -> (Option<select::Prior>, Vec<Option<Candidates>>) {
    let mut slots: Vec<Option<Candidates>> = indices.iter().map(|_| None).collect();
    if !cfg.selection_prior {
        return (None, slots);
    }
    let span = tracing::info_span!("selection_prior");
    let _g = span.enter();
    let (p, cache) = select::learn(models, panel, cfg, h, n_obs, window);
    let slot_of: std::collections::HashMap<usize, usize> =
        indices.iter().enumerate().map(|(k, &i)| (i, k)).collect();
    for (i, c) in cache {
        if let Some(&k) = slot_of.get(&i) {
            slots[k] = Some(c);
        }
    }
    for c in &p.classes {
        tracing::info!(
            class = c.class.as_str(),
            series = c.series,
            reliability = format!("{:.3}", c.reliability),
            "selection prior"
        );
    }
    (Some(p), slots)
}

/// Forecasts the series at `indices` (one shard of a run), in that order, and returns the
/// selection prior they were chosen with. The pooled model and the prior are learnt on the
/// whole panel, so every shard forecasts its series exactly as a single-machine run does.
pub fn run_subset(
    panel: &Panel,
    cfg: &ForecastCfg,
    h: usize,
    windows: &[usize],
    indices: &[usize],
    progress: &crate::progress::Progress,
) -> (Vec<SeriesForecast>, Option<select::Prior>) {
    let span = tracing::info_span!("forecast");
    let _g = span.enter();
    let models = registry_for(panel, cfg, h, &|i| panel.series[i].len);
    let (prior, cached) = prior_for(
        &models,
        panel,
        cfg,
        h,
        &|i| panel.series[i].len,
        &|i| windows[i],
        indices,
    );
    let out: Vec<SeriesForecast> = indices
        .par_iter()
        .zip(cached.into_par_iter())
        .map(|(&i, cached)| {
            let f = forecast_series_with(
                &models,
                prior.as_ref(),
                cached,
                &panel.view(i),
                cfg,
                h,
                windows[i],
            );
            progress.inc();
            f
        })
        .collect();
    progress.finish();
    let fallbacks = out.iter().filter(|f| f.fallback.is_some()).count();
    tracing::info!(series = out.len(), fallbacks, "forecast done");
    (out, prior)
}

#[cfg(test)]
mod tests;
