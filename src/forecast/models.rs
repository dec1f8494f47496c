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
    /// Prior probability that demand has stopped, for [`alive`] (0: no correction).
    stall_prior: f64,
}

impl Forecaster for Flat {
    fn name(&self) -> &'static str {
        self.name
    }
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let y = trading_values(s);
        need(&y, self.min_len)?;
        let w = &y[y.len().saturating_sub(self.window)..];
        let v = (self.f)(w) * alive(w, self.stall_prior).1;
        finite(to_calendar(s, h, |_| v))
    }
}

/// Probability that an intermittent item still sells, after the run of zero days that ends
/// its history (Bayes: prior `stall_prior` that demand has stopped, against the chance
/// (1 − p)^r of r zero days in a row at the sale rate p seen before the run).
///
/// Croston-type methods update only when a sale happens, so an item that sold every other
/// day and then nothing for a month is still forecast at its old rate: the obsolescence
/// weakness TSB was designed for (Teunter, Syntetos & Babai 2011). Their forecast is
/// multiplied by this probability. p is smoothed ((k + 1) / (n + 2)) so a run that the
/// history has too few days to judge changes little; histories with fewer than 28 days
/// before the run, or fewer than two sales, are not judged at all.
///
/// Returns the run (zero days at the end) with the probability, which the forecast table
/// reports.
pub(crate) fn alive(y: &[f64], stall_prior: f64) -> (usize, f64) {
    let r = y.iter().rev().take_while(|v| **v <= 0.0).count();
    let past = &y[..y.len() - r];
    let sales = past.iter().filter(|v| **v > 0.0).count();
    if stall_prior <= 0.0 || r == 0 || past.len() < 28 || sales < 2 {
        return (r, 1.0);
    }
    let p = (sales as f64 + 1.0) / (past.len() as f64 + 2.0);
    let run = (r as f64 * (1.0 - p).ln()).exp();
    let stay = (1.0 - stall_prior) * run;
    (r, stay / (stall_prior + stay))
}

/// The models the stopped-item correction applies to: they update only on a sale.
pub(crate) fn stall_corrected(model: &str) -> bool {
    matches!(model, "croston" | "croston_optimized" | "sba")
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
        stall_prior: 0.0,
    })
}

pub fn ses() -> Box<dyn Forecaster> {
    Box::new(SesOpt)
}

/// An intermittent-demand model; the Croston family gets the stall correction ([`alive`]),
/// TSB, ADIDA and IMAPA already lower their level over a run of zero days.
pub fn intermittent(name: &str, window: usize, stall_prior: f64) -> Option<Box<dyn Forecaster>> {
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
        stall_prior: if stall_corrected(name) {
            stall_prior
        } else {
            0.0
        },
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
            rivals: None,
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

    /// An item that sold every other day, then `run` zero days; censored days in between
    /// (an empty shelf) when `censored_tail`.
    fn stalled(run: usize, censored_tail: bool) -> (Vec<f64>, Vec<bool>) {
        let mut y: Vec<f64> = (0..120)
            .map(|i| if i % 2 == 1 { 4.0 } else { 0.0 })
            .collect();
        y.extend(std::iter::repeat_n(0.0, run));
        let mut c = vec![false; y.len()];
        if censored_tail {
            c[120..].iter_mut().for_each(|v| *v = true);
        }
        (y, c)
    }

    /// Day-one forecast of model `name` on a series open every day from 2024-01-01.
    fn first_day(name: &str, y: &[f64], c: &[bool], prior: f64) -> f64 {
        let start = from_date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        let cal = TradingCalendar::with_weekdays(start, start + y.len() as i32 - 1, vec![]);
        let s = SeriesView {
            start,
            y,
            censored: c,
            calendar: &cal,
            prices: None,
            promos: &[],
            rivals: None,
        };
        intermittent(name, 364, prior)
            .unwrap()
            .predict(&s, 1)
            .unwrap()[0]
    }

    #[test]
    fn stall_correction_lowers_croston_only_after_an_improbable_run_of_zeros() {
        let (y, c) = stalled(0, false);
        let base = first_day("croston", &y, &c, 0.0);
        assert!(base > 1.0, "{base}");
        // Ending on a sale, or on one zero day (half the days are zero): no evidence.
        assert_eq!(first_day("croston", &y, &c, 0.003), base);
        let (y1, c1) = stalled(1, false);
        let one = first_day("croston", &y1, &c1, 0.003);
        assert!(
            (one / first_day("croston", &y1, &c1, 0.0) - 1.0).abs() < 0.01,
            "{one}"
        );
        // Ten zero days at p ≈ 0.5 (chance 1 in 1,000) against a prior of 0.3 %: about
        // three chances in four the item still sells.
        let (y10, c10) = stalled(10, false);
        let ten = first_day("croston", &y10, &c10, 0.003) / first_day("croston", &y10, &c10, 0.0);
        let run = (10.0 * (1.0 - 61.0 / 122.0f64).ln()).exp();
        let want = 0.997 * run / (0.003 + 0.997 * run);
        assert!((ten - want).abs() < 1e-9, "{ten} vs {want}");
        assert!((0.2..0.35).contains(&want), "{want}");
        // Thirty zero days: the item has stopped, the forecast is near zero.
        let (y30, c30) = stalled(30, false);
        assert!(first_day("croston", &y30, &c30, 0.003) < 0.01 * base);
        // The same thirty days on an empty shelf are not evidence: censored days are not
        // on the trading-day axis.
        let (yc, cc) = stalled(30, true);
        assert_eq!(first_day("croston", &yc, &cc, 0.003), base);
        // Off when the prior is 0.
        assert_eq!(first_day("croston", &y30, &c30, 0.0), base);
    }

    #[test]
    fn stall_correction_needs_history_to_judge_and_leaves_tsb_alone() {
        // Fewer than 28 days before the run, or fewer than two sales: not judged.
        assert_eq!(alive(&[3.0, 0.0, 2.0, 0.0, 0.0, 0.0], 0.003).1, 1.0);
        let mut one_sale = vec![0.0; 60];
        one_sale[5] = 9.0;
        one_sale.extend([0.0; 40]);
        assert_eq!(alive(&one_sale, 0.003).1, 1.0);
        // TSB lowers its own level over a run of zeros: no second correction.
        let (y, c) = stalled(30, false);
        assert_eq!(
            first_day("tsb", &y, &c, 0.003),
            first_day("tsb", &y, &c, 0.0)
        );
    }
}
