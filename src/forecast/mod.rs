//! Forecast stage: candidate models per series, chosen by rolling-origin cross-validation,
//! with quantiles from the empirical CV errors (split-conformal style).
//!
//! Two distributions come out per series: per horizon day (for `forecasts.parquet`) and of
//! the *total* demand over the series' protection window (order lead + lead time + review
//! period), which is what an order-up-to level needs. The total is taken from the errors of
//! whole-window sums, so autocorrelated errors are not assumed away.

pub mod baseline;
pub mod quantile;

use std::panic::{catch_unwind, AssertUnwindSafe};

use rayon::prelude::*;
use serde::Serialize;

use crate::config::ForecastCfg;
use crate::panel::{Panel, SeriesView};
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
}

pub fn registry(cfg: &ForecastCfg) -> Vec<Box<dyn Forecaster>> {
    cfg.models
        .iter()
        .filter_map(|m| -> Option<Box<dyn Forecaster>> {
            match m.as_str() {
                "seasonal_naive" => Some(Box::new(baseline::SeasonalNaive::default())),
                "moving_average" => Some(Box::new(baseline::MovingAverage::new(
                    cfg.moving_average_window_days,
                ))),
                _ => None,
            }
        })
        .collect()
}

/// Score of one candidate in cross-validation.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateScore {
    pub model: &'static str,
    /// Mean absolute error per day over all CV origins and horizon days; None if it failed.
    pub mae: Option<f64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SeriesForecast {
    pub model: &'static str,
    pub mean: Vec<f64>,
    /// Per horizon day, the values at [`QUANTILES`].
    pub quantiles: Vec<[f64; 7]>,
    pub window_days: usize,
    pub window_mean: f64,
    /// Sorted errors (actual − forecast) of window totals over the CV origins.
    pub window_errors: Vec<f64>,
    /// Sorted daily errors (for the normal approximation when window errors are few).
    pub daily_error_sd: f64,
    pub window_method: &'static str,
    pub scores: Vec<CandidateScore>,
    pub cv_origins: usize,
    pub fallback: Option<String>,
    /// "short_history" (expected for new items) or "model_failure" (error, panic, NaN).
    pub fallback_kind: Option<&'static str>,
}

impl SeriesForecast {
    /// Demand over the protection window at cumulative probability `p`, never negative.
    pub fn window_quantile(&self, p: f64) -> f64 {
        quantile::window_quantile(self, p)
    }
}

struct Cv {
    daily: Vec<(usize, f64)>, // (horizon index, error)
    window: Vec<f64>,
    mae: Option<f64>,
    origins: usize,
}

/// Rolling-origin evaluation of one model: origins every `step` days going back
/// `windows` times from the last origin that still has `eval_len` days of actuals.
fn cross_validate(
    m: &dyn Forecaster,
    s: &SeriesView,
    cfg: &ForecastCfg,
    h: usize,
    window: usize,
) -> Result<Cv, ModelError> {
    let n = s.y.len();
    let eval_len = h.max(window);
    let min_train = 14usize;
    let mut daily = Vec::new();
    let mut win = Vec::new();
    let (mut abs_sum, mut abs_n) = (0.0, 0usize);
    let mut origins = 0;
    let mut last_err = None;
    for k in 0..cfg.cv_windows {
        let Some(o) = n.checked_sub(h.min(n) + k * cfg.cv_step_days) else {
            break;
        };
        if o < min_train {
            break;
        }
        let len = eval_len.min(n - o);
        let pred = match m.predict(&s.truncate(o), len) {
            Ok(p) => p,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        if pred.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite);
        }
        origins += 1;
        for j in 0..len.min(h) {
            let t = o + j;
            if s.censored[t] || s.closed(t) {
                continue;
            }
            let e = s.y[t] - pred[j];
            daily.push((j, e));
            abs_sum += e.abs();
            abs_n += 1;
        }
        if len >= window && window > 0 && !(o..o + window).any(|t| s.censored[t]) {
            let actual: f64 = s.y[o..o + window].iter().sum();
            let fc: f64 = pred[..window].iter().sum();
            win.push(actual - fc);
        }
    }
    if origins == 0 {
        return Err(last_err.unwrap_or(ModelError::TooShort {
            needed: min_train + h,
            got: n,
        }));
    }
    Ok(Cv {
        daily,
        window: win,
        mae: (abs_n > 0).then(|| abs_sum / abs_n as f64),
        origins,
    })
}

/// Forecasts one series: CV every candidate, pick the lowest MAE, refit on all data.
pub fn forecast_series(
    models: &[Box<dyn Forecaster>],
    s: &SeriesView,
    cfg: &ForecastCfg,
    h: usize,
    window: usize,
) -> SeriesForecast {
    let mut scores = Vec::with_capacity(models.len());
    let mut best: Option<(usize, f64, Cv)> = None;
    let mut all_too_short = true;
    for (i, m) in models.iter().enumerate() {
        let r = catch_unwind(AssertUnwindSafe(|| {
            cross_validate(m.as_ref(), s, cfg, h, window)
        }))
        .unwrap_or_else(|_| Err(ModelError::NoUsableHistory("model panicked".into())));
        match r {
            Ok(cv) => {
                scores.push(CandidateScore {
                    model: m.name(),
                    mae: cv.mae,
                    error: None,
                });
                let score = cv.mae.unwrap_or(f64::INFINITY);
                if best.as_ref().is_none_or(|b| score < b.1) {
                    best = Some((i, score, cv));
                }
            }
            Err(e) => {
                all_too_short &= matches!(e, ModelError::TooShort { .. });
                scores.push(CandidateScore {
                    model: m.name(),
                    mae: None,
                    error: Some(e.to_string()),
                });
            }
        }
    }
    let eval_len = h.max(window);
    let mut fallback = None;
    let mut fallback_kind = None;
    let (model, mean, cv): (&'static str, Vec<f64>, Option<Cv>) = match best {
        Some((i, _, cv)) => match catch_unwind(AssertUnwindSafe(|| models[i].predict(s, eval_len)))
            .unwrap_or_else(|_| Err(ModelError::NoUsableHistory("model panicked".into())))
        {
            Ok(p) if p.iter().all(|v| v.is_finite()) => (models[i].name(), p, Some(cv)),
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "non-finite forecast".into(),
                };
                fallback = Some(format!(
                    "{} failed on the full series: {why}",
                    models[i].name()
                ));
                fallback_kind = Some("model_failure");
                let hm = baseline::HistoricMean;
                (
                    hm.name(),
                    hm.predict(s, eval_len)
                        .unwrap_or_else(|_| vec![0.0; eval_len]),
                    Some(cv),
                )
            }
        },
        None => {
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
            let hm = baseline::HistoricMean;
            let cv = cross_validate(&hm, s, cfg, h, window).ok();
            (
                hm.name(),
                hm.predict(s, eval_len)
                    .unwrap_or_else(|_| vec![0.0; eval_len]),
                cv,
            )
        }
    };
    let mut out = quantile::assemble(
        model,
        mean,
        cv.map(|c| (c.daily, c.window, c.origins)),
        s,
        h,
        window,
        scores,
        fallback,
    );
    out.fallback_kind = fallback_kind;
    out
}

/// Forecasts every series in parallel; output order = panel order, whatever the threads.
pub fn run(panel: &Panel, cfg: &ForecastCfg, h: usize, windows: &[usize]) -> Vec<SeriesForecast> {
    let span = tracing::info_span!("forecast");
    let _g = span.enter();
    let models = registry(cfg);
    let out: Vec<SeriesForecast> = (0..panel.series.len())
        .into_par_iter()
        .map(|i| forecast_series(&models, &panel.view(i), cfg, h, windows[i]))
        .collect();
    let fallbacks = out.iter().filter(|f| f.fallback.is_some()).count();
    tracing::info!(series = out.len(), fallbacks, "forecast done");
    out
}

#[cfg(test)]
mod tests;
