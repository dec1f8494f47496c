//! The model zoo behind the [`Forecaster`] seam: kernels from [`super::kernels`] wrapped
//! with restock's calendar rules.
//!
//! Two time axes are used. Level and intermittent models (SES, Theta, Croston family,
//! ADIDA, IMAPA, naive) run on the *trading-day* axis: closed days and censored days (empty
//! shelf) are left out, so neither pulls the level down nor counts as a zero-demand period.
//! Their forecast is assigned to future open days in order; future closed days get zero.
//! Seasonal models (seasonal naive, ETS) keep the *calendar* axis so weekday phase is
//! kept; closed and censored days enter as missing values.
//!
//! Optimised models fit their parameters once per cross-validation run, on the data before
//! the earliest origin, and then only run their recursion up to each later origin (what
//! statsforecast calls `refit=False`): no look-ahead, and far cheaper than a refit per origin.

use super::kernels::{self, EtsFit, ThetaFit};
use super::{Forecaster, ModelError};
use crate::panel::SeriesView;

/// Open, uncensored values in order (the trading-day axis).
pub fn trading_values(s: &SeriesView) -> Vec<f64> {
    (0..s.y.len())
        .filter(|&i| s.usable(i))
        .map(|i| s.y[i])
        .collect()
}

/// Calendar axis with closed and censored days as NaN.
fn calendar_values(s: &SeriesView) -> Vec<f64> {
    (0..s.y.len())
        .map(|i| if !s.usable(i) { f64::NAN } else { s.y[i] })
        .collect()
}

/// Maps a trading-day forecast path onto the next `h` calendar days.
fn to_calendar(s: &SeriesView, h: usize, path: impl Fn(usize) -> f64) -> Vec<f64> {
    let n = s.y.len();
    let mut k = 0;
    (0..h)
        .map(|j| {
            if s.closed(n + j) {
                0.0
            } else {
                let v = path(k);
                k += 1;
                v
            }
        })
        .collect()
}

fn need(y: &[f64], n: usize) -> Result<(), ModelError> {
    if y.len() < n {
        Err(ModelError::TooShort {
            needed: n,
            got: y.len(),
        })
    } else {
        Ok(())
    }
}

fn finite(v: Vec<f64>) -> Result<Vec<f64>, ModelError> {
    if v.iter().all(|x| x.is_finite()) {
        // Demand is never negative: a trending model may cross zero, the forecast may not.
        Ok(v.into_iter().map(|x| x.max(0.0)).collect())
    } else {
        Err(ModelError::NonFinite)
    }
}

/// The earliest origin whose history passes `enough`: optimised models fit there once.
/// Earlier origins are reported as too short for this model.
fn fit_origin(origins: &[usize], enough: impl Fn(usize) -> bool) -> Option<usize> {
    let mut sorted = origins.to_vec();
    sorted.sort_unstable();
    sorted.into_iter().find(|&o| enough(o))
}

fn too_short_before(o: usize, fit_at: usize, needed: usize) -> Result<Vec<f64>, ModelError> {
    debug_assert!(o < fit_at);
    Err(ModelError::TooShort { needed, got: o })
}

/// A flat forecast from a function of the latest `window` trading-day values (older
/// history costs time in every CV origin and adds little to a level estimate).
struct Flat {
    name: &'static str,
    min_len: usize,
    window: usize,
    f: fn(&[f64]) -> f64,
}

impl Forecaster for Flat {
    fn name(&self) -> &'static str {
        self.name
    }
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let y = trading_values(s);
        need(&y, self.min_len)?;
        let v = (self.f)(&y[y.len().saturating_sub(self.window)..]);
        finite(to_calendar(s, h, |_| v))
    }
}

fn last(y: &[f64]) -> f64 {
    y.last().copied().unwrap_or(0.0)
}
fn ses_opt(y: &[f64]) -> f64 {
    kernels::ses_optimized(y, 0.01, 0.99).0
}
fn tsb_default(y: &[f64]) -> f64 {
    kernels::tsb(y, 0.1, 0.1)
}

pub fn naive() -> Box<dyn Forecaster> {
    Box::new(Flat {
        name: "naive",
        min_len: 1,
        window: usize::MAX,
        f: last,
    })
}

pub fn ses() -> Box<dyn Forecaster> {
    Box::new(SesOpt)
}

pub fn intermittent(name: &str, window: usize) -> Option<Box<dyn Forecaster>> {
    let f: fn(&[f64]) -> f64 = match name {
        "croston" => kernels::croston_classic,
        "croston_optimized" => kernels::croston_optimized,
        "sba" => kernels::croston_sba,
        "tsb" => tsb_default,
        "adida" => kernels::adida,
        "imapa" => kernels::imapa,
        _ => return None,
    };
    let name: &'static str = match name {
        "croston" => "croston",
        "croston_optimized" => "croston_optimized",
        "sba" => "sba",
        "tsb" => "tsb",
        "adida" => "adida",
        _ => "imapa",
    };
    Some(Box::new(Flat {
        name,
        min_len: 7,
        window,
        f,
    }))
}

/// SES with alpha fitted in [0.01, 0.99]; CV keeps the alpha fitted before the first origin.
struct SesOpt;

impl Forecaster for SesOpt {
    fn name(&self) -> &'static str {
        "ses"
    }
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let y = trading_values(s);
        need(&y, 7)?;
        let v = ses_opt(&y);
        finite(to_calendar(s, h, |_| v))
    }
    fn predict_origins(
        &self,
        s: &SeriesView,
        origins: &[usize],
        h: usize,
    ) -> Vec<Result<Vec<f64>, ModelError>> {
        let Some(first) = fit_origin(origins, |o| trading_values(&s.truncate(o)).len() >= 7) else {
            return origins
                .iter()
                .map(|&o| too_short_before(o, usize::MAX, 7))
                .collect();
        };
        let y0 = trading_values(&s.truncate(first));
        let alpha = kernels::ses_optimized(&y0, 0.01, 0.99).1;
        origins
            .iter()
            .map(|&o| {
                if o < first {
                    return too_short_before(o, first, 7);
                }
                let v = s.truncate(o);
                let y = trading_values(&v);
                let f = kernels::ses_forecast(&y, alpha);
                finite(to_calendar(&v, h, |_| f))
            })
            .collect()
    }
}

/// Fewest usable days to fit Theta (three parameters) and ETS (up to 12 with the weekly
/// seasonal states: eight weeks give each weekday eight observations).
const THETA_MIN: usize = 14;
const ETS_MIN: usize = 56;

/// Standard (θ = 2) or optimised Theta on the trading-day axis, fitted on the latest
/// `fit_window` trading days.
pub struct Theta {
    pub optimize: bool,
    pub fit_window: usize,
}

impl Theta {
    fn path(fit: &ThetaFit, s: &SeriesView, y: &[f64], h: usize) -> Result<Vec<f64>, ModelError> {
        let fc = fit.forecast(y, h);
        finite(to_calendar(s, h, |k| fc.get(k).copied().unwrap_or(0.0)))
    }
    fn fit(&self, y: &[f64]) -> Result<ThetaFit, ModelError> {
        need(y, THETA_MIN)?;
        ThetaFit::fit(y, self.optimize).ok_or(ModelError::NonFinite)
    }
}

impl Forecaster for Theta {
    fn name(&self) -> &'static str {
        if self.optimize {
            "optimized_theta"
        } else {
            "theta"
        }
    }
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let y = trading_values(s);
        let y = &y[y.len().saturating_sub(self.fit_window)..];
        let fit = self.fit(y)?;
        Self::path(&fit, s, y, h)
    }
    fn predict_origins(
        &self,
        s: &SeriesView,
        origins: &[usize],
        h: usize,
    ) -> Vec<Result<Vec<f64>, ModelError>> {
        let Some(first) = fit_origin(origins, |o| {
            trading_values(&s.truncate(o)).len() >= THETA_MIN
        }) else {
            return origins
                .iter()
                .map(|&o| too_short_before(o, usize::MAX, THETA_MIN))
                .collect();
        };
        let y0 = trading_values(&s.truncate(first));
        let a = y0.len().saturating_sub(self.fit_window);
        let fit = match self.fit(&y0[a..]) {
            Ok(f) => f,
            Err(e) => return origins.iter().map(|_| Err(e.clone())).collect(),
        };
        origins
            .iter()
            .map(|&o| {
                if o < first {
                    return too_short_before(o, first, THETA_MIN);
                }
                let v = s.truncate(o);
                Self::path(&fit, &v, &trading_values(&v)[a..], h)
            })
            .collect()
    }
}

/// Automatic additive-error ETS on the calendar axis with weekly seasonality, chosen by
/// AICc among ANN, AAdN, ANA and AAdA, fitted on the latest `fit_window` days.
pub struct Ets {
    pub period: usize,
    pub fit_window: usize,
}

impl Ets {
    fn fit(&self, y: &[f64]) -> Result<EtsFit, ModelError> {
        let nobs = y.iter().filter(|v| !v.is_nan()).count();
        if nobs < ETS_MIN {
            return Err(ModelError::TooShort {
                needed: ETS_MIN,
                got: nobs,
            });
        }
        EtsFit::auto(y, self.period).ok_or(ModelError::NonFinite)
    }
    fn path(fit: &EtsFit, s: &SeriesView, y: &[f64], h: usize) -> Result<Vec<f64>, ModelError> {
        let n = s.y.len();
        let fc = fit.forecast(y, h);
        finite(
            (0..h)
                .map(|j| if s.closed(n + j) { 0.0 } else { fc[j] })
                .collect(),
        )
    }
    /// Start index of the fitting window. The seasonal states are indexed from there, the
    /// same start is used for every origin, so the weekday phase stays consistent.
    fn window_start(&self, n: usize) -> usize {
        n.saturating_sub(self.fit_window)
    }
}

impl Forecaster for Ets {
    fn name(&self) -> &'static str {
        "ets"
    }
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let y = calendar_values(s);
        let y = &y[self.window_start(y.len())..];
        let fit = self.fit(y)?;
        Self::path(&fit, s, y, h)
    }
    fn predict_origins(
        &self,
        s: &SeriesView,
        origins: &[usize],
        h: usize,
    ) -> Vec<Result<Vec<f64>, ModelError>> {
        let obs = |o: usize| (0..o).filter(|&i| s.usable(i)).count();
        let Some(first) = fit_origin(origins, |o| obs(o) >= ETS_MIN) else {
            return origins
                .iter()
                .map(|&o| too_short_before(o, usize::MAX, ETS_MIN))
                .collect();
        };
        let y0 = calendar_values(&s.truncate(first));
        let a = self.window_start(y0.len());
        let fit = match self.fit(&y0[a..]) {
            Ok(f) => f,
            Err(e) => return origins.iter().map(|_| Err(e.clone())).collect(),
        };
        origins
            .iter()
            .map(|&o| {
                if o < first {
                    return too_short_before(o, first, ETS_MIN);
                }
                let v = s.truncate(o);
                Self::path(&fit, &v, &calendar_values(&v)[a..], h)
            })
            .collect()
    }
}

/// Zero demand: the forecast for dead items (no sale for a long time).
pub struct Zero;

impl Forecaster for Zero {
    fn name(&self) -> &'static str {
        "zero"
    }
    fn predict(&self, _s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        Ok(vec![0.0; h])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::{from_date, TradingCalendar};
    use chrono::{NaiveDate, Weekday};

    #[test]
    fn trading_axis_skips_closed_and_censored_days_and_zeros_closed_future_days() {
        // 2024-01-01 is a Monday; Sundays closed.
        let start = from_date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        let cal = TradingCalendar::with_weekdays(start, start + 13, vec![Weekday::Sun]);
        let y: Vec<f64> = (0..14).map(|i| i as f64).collect();
        let mut c = vec![false; 14];
        c[2] = true;
        let s = SeriesView {
            start,
            y: &y,
            censored: &c,
            calendar: &cal,
            prices: None,
            promos: &[],
        };
        let t = trading_values(&s);
        assert_eq!(
            t,
            vec![0.0, 1.0, 3.0, 4.0, 5.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0]
        );
        // Naive repeats the last trading value (12, a Saturday) on open days; day 20 is a Sunday.
        let p = naive().predict(&s, 7).unwrap();
        assert_eq!(p, vec![12.0, 12.0, 12.0, 12.0, 12.0, 12.0, 0.0]);
    }
}
