//! Baseline models: weekly seasonal naive and a moving average.
//!
//! Both skip censored days (an empty shelf is not zero demand) and closed days (no trading),
//! and forecast zero on future closed days.

use super::{Forecaster, ModelError};
use crate::panel::SeriesView;

/// y[t+h] = the last observed same weekday; censored or closed reference days are skipped
/// by going back whole weeks (up to `max_weeks_back`).
#[derive(Debug, Clone)]
pub struct SeasonalNaive {
    pub period: usize,
    pub max_weeks_back: usize,
}

impl Default for SeasonalNaive {
    fn default() -> Self {
        SeasonalNaive {
            period: 7,
            max_weeks_back: 4,
        }
    }
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> &'static str {
        "seasonal_naive"
    }

    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let n = s.y.len();
        let p = self.period;
        if n < p {
            return Err(ModelError::TooShort { needed: p, got: n });
        }
        let mut out = Vec::with_capacity(h);
        for j in 0..h {
            let t = n + j; // index of the target day
            if s.closed(t) {
                out.push(0.0);
                continue;
            }
            // Latest index < n with the same phase as t.
            let back = (t - (n - 1)).div_ceil(p) * p;
            let mut r = t as isize - back as isize;
            let mut found = None;
            for _ in 0..self.max_weeks_back {
                if r < 0 {
                    break;
                }
                let ri = r as usize;
                if s.usable(ri) {
                    found = Some(s.y[ri]);
                    break;
                }
                r -= p as isize;
            }
            match found {
                Some(v) => out.push(v),
                None => {
                    return Err(ModelError::NoUsableHistory(format!(
                        "no uncensored open same-weekday day in the last {} weeks",
                        self.max_weeks_back
                    )))
                }
            }
        }
        Ok(out)
    }
}

/// Mean of the last `window` usable (open, uncensored) days, looking back at most 3 windows.
#[derive(Debug, Clone)]
pub struct MovingAverage {
    pub window: usize,
    pub min_days: usize,
}

impl MovingAverage {
    pub fn new(window: usize) -> Self {
        MovingAverage {
            window,
            min_days: window.min(7),
        }
    }

    pub fn level(&self, s: &SeriesView) -> Result<f64, ModelError> {
        let n = s.y.len();
        let mut sum = 0.0;
        let mut k = 0usize;
        let lookback = (3 * self.window).min(n);
        for i in (n - lookback..n).rev() {
            if !s.usable(i) {
                continue;
            }
            sum += s.y[i];
            k += 1;
            if k == self.window {
                break;
            }
        }
        if k < self.min_days {
            return Err(ModelError::TooShort {
                needed: self.min_days,
                got: k,
            });
        }
        Ok(sum / k as f64)
    }
}

impl Forecaster for MovingAverage {
    fn name(&self) -> &'static str {
        "moving_average"
    }

    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let level = self.level(s)?;
        let n = s.y.len();
        Ok((0..h)
            .map(|j| if s.closed(n + j) { 0.0 } else { level })
            .collect())
    }
}

/// Last resort: mean over all usable days (zero if there are none). Never fails.
#[derive(Debug, Clone, Default)]
pub struct HistoricMean;

impl Forecaster for HistoricMean {
    fn name(&self) -> &'static str {
        "historic_mean"
    }

    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let n = s.y.len();
        let (sum, k) = (0..n)
            .filter(|&i| s.usable(i))
            .fold((0.0, 0usize), |(a, k), i| (a + s.y[i], k + 1));
        let level = if k == 0 { 0.0 } else { sum / k as f64 };
        Ok((0..h)
            .map(|j| if s.closed(n + j) { 0.0 } else { level })
            .collect())
    }
}
