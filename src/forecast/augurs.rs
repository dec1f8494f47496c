//! restock's models behind augurs' `Fit`/`Predict` traits (`augurs_core`), so they compose
//! with code written against augurs — its `Forecaster` with transforms, its evaluation
//! helpers, or a user's own generic pipeline — and augurs users get restock's zoo.
//!
//! augurs hands a model a plain `&[f64]`: consecutive days, all open, none censored. Two
//! adapters:
//! - [`Model`]: one model of the zoo by its pipeline name. Point forecasts only (a single
//!   model has no calibrated distribution of its own in restock), so `intervals` is `None`.
//! - [`Auto`]: the whole engine for one series — demand class, rolling-origin selection over
//!   the class's candidates, ensemble, fallbacks — with prediction intervals at any level
//!   read off the same distribution as restock's own quantiles.
//!
//! The pooled `global_ridge` needs a panel of series and is not offered here.

use augurs_core::{Fit, Forecast, ForecastIntervals, Predict};

use super::{baseline, build, forecast_series, registry, Forecaster, ModelError, SeriesForecast};
use crate::config::ForecastCfg;
use crate::panel::{SeriesView, TradingCalendar};

#[derive(Debug, thiserror::Error)]
pub enum AugursError {
    #[error("unknown model '{0}' (or one that needs a panel, like global_ridge)")]
    UnknownModel(String),
    #[error("empty series")]
    Empty,
    #[error("value at position {0} is not a finite, non-negative number")]
    BadValue(usize),
    #[error("horizon {asked} is beyond the {fitted} days the model was fitted for")]
    Horizon { asked: usize, fitted: usize },
    #[error("level {0} is not in (0, 1)")]
    Level(f64),
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl augurs_core::ModelError for AugursError {}

/// A series as augurs gives it, with the open, uncensored calendar restock's models expect.
#[derive(Debug, Clone)]
struct Owned {
    y: Vec<f64>,
    censored: Vec<bool>,
    calendar: TradingCalendar,
}

impl Owned {
    fn new(y: &[f64]) -> Result<Owned, AugursError> {
        if y.is_empty() {
            return Err(AugursError::Empty);
        }
        if let Some(i) = y.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(AugursError::BadValue(i));
        }
        let n = y.len() as i32;
        Ok(Owned {
            y: y.to_vec(),
            censored: vec![false; y.len()],
            calendar: TradingCalendar::with_weekdays(0, n - 1, vec![]),
        })
    }

    fn view(&self) -> SeriesView<'_> {
        SeriesView {
            start: 0,
            y: &self.y,
            censored: &self.censored,
            calendar: &self.calendar,
            prices: None,
            promos: &[],
            rivals: None,
        }
    }
}

/// One-step-ahead in-sample predictions: day t forecast from days before t (NaN where the
/// model cannot forecast yet, e.g. day 0).
fn one_step(models: &[&dyn Forecaster], data: &Owned) -> Vec<f64> {
    let n = data.y.len();
    let origins: Vec<usize> = (1..n).collect();
    let runs: Vec<Vec<Result<Vec<f64>, ModelError>>> = models
        .iter()
        .map(|m| m.predict_origins(&data.view(), &origins, 1))
        .collect();
    let mut out = Vec::with_capacity(n);
    out.push(f64::NAN);
    for k in 0..origins.len() {
        let vals: Option<Vec<f64>> = runs
            .iter()
            .map(|r| r[k].as_ref().ok().and_then(|v| v.first().copied()))
            .collect();
        out.push(match vals {
            Some(v) if !v.is_empty() => v.iter().sum::<f64>() / v.len() as f64,
            _ => f64::NAN,
        });
    }
    out
}

/// One restock model as an augurs model.
#[derive(Debug, Clone)]
pub struct Model {
    name: String,
    cfg: ForecastCfg,
}

impl Model {
    /// A model by its pipeline name (`"ets"`, `"tsb"`, `"imapa"`, …).
    pub fn new(name: &str, cfg: ForecastCfg) -> Result<Model, AugursError> {
        build(name, &cfg).ok_or_else(|| AugursError::UnknownModel(name.to_string()))?;
        Ok(Model {
            name: name.to_string(),
            cfg,
        })
    }
}

pub struct FittedModel {
    model: Box<dyn Forecaster>,
    data: Owned,
}

impl std::fmt::Debug for FittedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FittedModel")
            .field("model", &self.model.name())
            .field("days", &self.data.y.len())
            .finish()
    }
}

impl Fit for Model {
    type Fitted = FittedModel;
    type Error = AugursError;

    fn fit(&self, y: &[f64]) -> Result<FittedModel, AugursError> {
        let data = Owned::new(y)?;
        let model = build(&self.name, &self.cfg)
            .ok_or_else(|| AugursError::UnknownModel(self.name.clone()))?;
        Ok(FittedModel { model, data })
    }
}

impl Predict for FittedModel {
    type Error = AugursError;

    fn predict_in_sample_inplace(
        &self,
        _level: Option<f64>,
        forecast: &mut Forecast,
    ) -> Result<(), AugursError> {
        forecast
            .point
            .extend(one_step(&[self.model.as_ref()], &self.data));
        forecast.intervals = None;
        Ok(())
    }

    fn predict_inplace(
        &self,
        horizon: usize,
        _level: Option<f64>,
        forecast: &mut Forecast,
    ) -> Result<(), AugursError> {
        let p = self.model.predict(&self.data.view(), horizon)?;
        forecast.point.extend(p);
        forecast.intervals = None;
        Ok(())
    }

    fn training_data_size(&self) -> usize {
        self.data.y.len()
    }
}

/// The whole forecasting engine for one series, as an augurs model.
#[derive(Debug, Clone)]
pub struct Auto {
    cfg: ForecastCfg,
    horizon: usize,
}

impl Auto {
    /// Selection and quantiles for up to `horizon` days ahead.
    pub fn new(cfg: ForecastCfg, horizon: usize) -> Auto {
        Auto {
            cfg,
            horizon: horizon.max(1),
        }
    }
}

pub struct FittedAuto {
    forecast: SeriesForecast,
    data: Owned,
    cfg: ForecastCfg,
}

impl std::fmt::Debug for FittedAuto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FittedAuto")
            .field("model", &self.forecast.model)
            .field("class", &self.forecast.class.class)
            .field("days", &self.data.y.len())
            .finish()
    }
}

impl FittedAuto {
    /// What restock chose and why: model, members, class, CV scores, fallback.
    pub fn forecast(&self) -> &SeriesForecast {
        &self.forecast
    }
}

impl Fit for Auto {
    type Fitted = FittedAuto;
    type Error = AugursError;

    fn fit(&self, y: &[f64]) -> Result<FittedAuto, AugursError> {
        let data = Owned::new(y)?;
        let models = registry(&self.cfg);
        let forecast =
            forecast_series(&models, &data.view(), &self.cfg, self.horizon, self.horizon);
        Ok(FittedAuto {
            forecast,
            data,
            cfg: self.cfg.clone(),
        })
    }
}

impl Predict for FittedAuto {
    type Error = AugursError;

    fn predict_in_sample_inplace(
        &self,
        _level: Option<f64>,
        forecast: &mut Forecast,
    ) -> Result<(), AugursError> {
        // The chosen model (or the ensemble's members, averaged), one step ahead.
        let names: Vec<&str> = if self.forecast.members.is_empty() {
            vec![self.forecast.model]
        } else {
            self.forecast.members.clone()
        };
        let built: Vec<Box<dyn Forecaster>> = names
            .iter()
            .map(|n| match *n {
                "historic_mean" | "zero" => {
                    Some(Box::new(baseline::HistoricMean) as Box<dyn Forecaster>)
                }
                other => build(other, &self.cfg),
            })
            .collect::<Option<_>>()
            .ok_or_else(|| AugursError::UnknownModel(names.join("+")))?;
        let refs: Vec<&dyn Forecaster> = built.iter().map(|b| b.as_ref()).collect();
        let mut p = one_step(&refs, &self.data);
        if self.forecast.model == "zero" {
            p.iter_mut().skip(1).for_each(|v| *v = 0.0);
        }
        forecast.point.extend(p);
        forecast.intervals = None;
        Ok(())
    }

    fn predict_inplace(
        &self,
        horizon: usize,
        level: Option<f64>,
        forecast: &mut Forecast,
    ) -> Result<(), AugursError> {
        let fitted = self.forecast.mean.len().min(self.forecast.quantiles.len());
        if horizon > fitted {
            return Err(AugursError::Horizon {
                asked: horizon,
                fitted,
            });
        }
        forecast.point.extend(&self.forecast.mean[..horizon]);
        forecast.intervals = match level {
            None => None,
            Some(l) if l.is_nan() || l <= 0.0 || l >= 1.0 => return Err(AugursError::Level(l)),
            Some(l) => {
                let (lo, hi) = ((1.0 - l) / 2.0, (1.0 + l) / 2.0);
                Some(ForecastIntervals {
                    level: l,
                    lower: (0..horizon)
                        .map(|j| self.forecast.daily_quantile(j, lo))
                        .collect(),
                    upper: (0..horizon)
                        .map(|j| self.forecast.daily_quantile(j, hi))
                        .collect(),
                })
            }
        };
        Ok(())
    }

    fn training_data_size(&self) -> usize {
        self.data.y.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| [3.0, 4.0, 5.0, 4.0, 6.0, 9.0, 2.0][i % 7] + (i % 3) as f64)
            .collect()
    }

    /// Code written against augurs' traits only, as an augurs user would write it.
    fn fit_and_predict<M: Fit>(m: &M, y: &[f64], h: usize, level: f64) -> Forecast {
        m.fit(y)
            .map_err(|e| e.to_string())
            .and_then(|f| f.predict(h, level).map_err(|e| e.to_string()))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn single_models_match_the_engine_seam() {
        let y = weekly(200);
        let cfg = ForecastCfg::default();
        let data = Owned::new(&y).unwrap();
        for name in [
            "naive",
            "seasonal_naive",
            "ses",
            "ets",
            "theta",
            "croston",
            "tsb",
            "imapa",
        ] {
            let f = fit_and_predict(&Model::new(name, cfg.clone()).unwrap(), &y, 14, 0.8);
            let direct = build(name, &cfg)
                .unwrap()
                .predict(&data.view(), 14)
                .unwrap();
            assert_eq!(f.point, direct, "{name}");
            assert!(f.intervals.is_none());
        }
        assert!(matches!(
            Model::new("global_ridge", cfg),
            Err(AugursError::UnknownModel(_))
        ));
    }

    #[test]
    fn auto_gives_the_engine_forecast_and_its_intervals() {
        let y = weekly(200);
        let cfg = ForecastCfg::default();
        let auto = Auto::new(cfg.clone(), 28);
        let fitted = auto.fit(&y).unwrap();
        let f = fitted.predict(28, 0.9).unwrap();
        let data = Owned::new(&y).unwrap();
        let direct = forecast_series(&registry(&cfg), &data.view(), &cfg, 28, 28);
        assert_eq!(f.point, direct.mean[..28].to_vec());
        let iv = f.intervals.unwrap();
        assert_eq!(iv.level, 0.9);
        for j in 0..28 {
            // The 90 % interval is restock's own p05 … p95.
            assert!((iv.lower[j] - direct.quantiles[j][0]).abs() < 1e-9);
            assert!((iv.upper[j] - direct.quantiles[j][6]).abs() < 1e-9);
            assert!(iv.lower[j] <= f.point[j] && f.point[j] <= iv.upper[j]);
        }
        assert!(matches!(
            fitted.predict(29, None),
            Err(AugursError::Horizon {
                asked: 29,
                fitted: 28
            })
        ));
        let ins = fitted.predict_in_sample(None).unwrap();
        assert_eq!(ins.point.len(), 200);
        assert!(ins.point[0].is_nan());
        assert!(ins.point[150..].iter().all(|v| v.is_finite() && *v >= 0.0));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let auto = Auto::new(ForecastCfg::default(), 7);
        assert!(matches!(auto.fit(&[]), Err(AugursError::Empty)));
        assert!(matches!(
            auto.fit(&[1.0, f64::NAN]),
            Err(AugursError::BadValue(1))
        ));
        assert!(matches!(
            auto.fit(&[1.0, -2.0]),
            Err(AugursError::BadValue(1))
        ));
        let f = auto.fit(&[0.0, 1.0, 0.0]).unwrap();
        assert!(matches!(f.predict(7, 1.5), Err(AugursError::Level(_))));
        // Three days: the engine's fallback, recorded, still a forecast.
        assert_eq!(f.forecast().model, "historic_mean");
        assert_eq!(f.predict(7, 0.8).unwrap().point.len(), 7);
    }
}
