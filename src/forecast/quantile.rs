//! Quantiles from cross-validation errors, and the fallbacks when there are too few.
//!
//! Daily quantile = max(0, point forecast + empirical quantile of the CV errors at the same
//! horizon week). Window quantile = max(0, window mean + empirical quantile of the CV errors
//! of window totals). With fewer than [`MIN_WINDOW_ERRORS`] window errors the window is
//! approximated as normal with sd = daily error sd · √window; with no errors at all, Poisson.

use super::{CandidateScore, ClassInfo, DemandClass, SeriesForecast};
use crate::panel::SeriesView;

pub const QUANTILES: [f64; 7] = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95];
pub const QUANTILE_NAMES: [&str; 7] = ["p05", "p10", "p25", "p50", "p75", "p90", "p95"];
pub const MIN_WINDOW_ERRORS: usize = 8;
/// CV origins below which a series' errors are too few for conformal quantiles.
const MIN_CONFORMAL_ORIGINS: usize = 4;
/// Days of own history whose spread a series with few CV origins falls back on.
const RECENT_DAYS: usize = 56;

/// Share of zero-demand days among the last `days` open, uncensored days (0 with fewer
/// than 14 such days): the floor of every day's P(demand = 0).
fn recent_zero_share(s: &SeriesView, days: usize) -> f64 {
    if days == 0 {
        return 0.0;
    }
    let n = s.y.len();
    let (mut open, mut zeros) = (0usize, 0usize);
    for i in (0..n).rev() {
        if open >= days {
            break;
        }
        if !s.usable(i) {
            continue;
        }
        open += 1;
        zeros += usize::from(s.y[i] <= 0.0);
    }
    if open < 14 {
        0.0
    } else {
        zeros as f64 / open as f64
    }
}

/// Sample variance of the last `days` open, uncensored days (0 with fewer than two).
fn recent_variance(s: &SeriesView, days: usize) -> f64 {
    let n = s.y.len();
    let v: Vec<f64> = (n.saturating_sub(days)..n)
        .filter(|&i| s.usable(i))
        .map(|i| s.y[i])
        .collect();
    if v.len() < 2 {
        return 0.0;
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}
const MIN_BUCKET_ERRORS: usize = 20;

/// Quantile of sorted data with linear interpolation (Hyndman–Fan type 7, numpy's default).
pub fn empirical_quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let p = p.clamp(0.0, 1.0);
    let pos = p * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let w = pos - lo as f64;
    sorted[lo] * (1.0 - w) + sorted[hi] * w
}

/// Inverse standard normal CDF (Acklam's rational approximation, |rel. error| < 1.2e-9).
#[allow(clippy::excessive_precision)]
pub fn norm_ppf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let pl = 0.02425;
    if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// Smallest k with P(Poisson(mean) ≤ k) ≥ p.
pub fn poisson_ppf(mean: f64, p: f64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    if mean > 1e4 {
        return (mean + norm_ppf(p) * mean.sqrt()).max(0.0).ceil();
    }
    let mut pmf = (-mean).exp();
    let mut cdf = pmf;
    let mut k = 0.0;
    while cdf < p && k < 1e6 {
        k += 1.0;
        pmf *= mean / k;
        cdf += pmf;
    }
    k
}

/// Quantile of a non-negative count with the given mean and variance: Poisson when the
/// variance is about the mean, negative binomial when it is larger (overdispersed), normal
/// when the count is large and near-symmetric. Counts are whole units, so small means get
/// honest zeros and steps.
///
/// A large mean alone does not make a count normal: a few big wholesale lines that each come
/// back with probability 2 % have mean 20 and median 0. The normal shortcut is taken only
/// when the negative binomial's shape r = μ²/(σ²−μ) is large too (skewness ≈ 2/√r small).
pub fn count_quantile(mean: f64, var: f64, p: f64) -> f64 {
    CountDist::new(mean, var).quantile(p)
}

/// P(X ≤ y) for the count distribution [`count_quantile`] inverts, so that calibration is
/// judged on the distribution the quantiles come from.
pub fn count_cdf(mean: f64, var: f64, y: f64) -> f64 {
    CountDist::new(mean, var).cdf(y)
}

/// The count distribution for a mean and variance; one choice of branch serves the
/// quantile and the CDF alike.
#[derive(Debug, Clone, Copy)]
enum CountDist {
    /// No demand (mean 0, NaN or infinite): all mass at 0.
    Zero,
    Poisson(f64),
    /// Negative binomial: shape r, success probability q (mean r(1−q)/q).
    NegBin {
        r: f64,
        q: f64,
        mean: f64,
        var: f64,
    },
    Normal {
        mean: f64,
        var: f64,
    },
}

impl CountDist {
    fn new(mean: f64, var: f64) -> CountDist {
        if mean.is_nan() || mean <= 0.0 || !mean.is_finite() {
            return CountDist::Zero;
        }
        let var = if var.is_finite() { var.max(0.0) } else { mean };
        if var <= mean * 1.05 {
            return if mean > 50.0 {
                CountDist::Normal { mean, var }
            } else {
                CountDist::Poisson(mean)
            };
        }
        // NB with mean μ and variance σ²: r = μ²/(σ²−μ), success probability q = μ/σ².
        let r = mean * mean / (var - mean);
        if mean > 50.0 && r >= NORMAL_SHAPE {
            return CountDist::Normal { mean, var };
        }
        CountDist::NegBin {
            r,
            q: mean / var,
            mean,
            var,
        }
    }

    fn quantile(self, p: f64) -> f64 {
        let normal = |mean: f64, var: f64| (mean + norm_ppf(p) * var.sqrt()).max(0.0);
        match self {
            CountDist::Zero => 0.0,
            CountDist::Poisson(m) => poisson_ppf(m, p),
            CountDist::Normal { mean, var } => normal(mean, var),
            CountDist::NegBin { r, q, mean, var } => {
                let mut pmf = (r * q.ln()).exp();
                let mut cdf = pmf;
                let mut k = 0.0;
                while cdf < p {
                    k += 1.0;
                    if k > COUNT_LOOP_CAP {
                        // Far in the tail of a huge count: the normal approximation, never
                        // the cap.
                        return normal(mean, var).ceil();
                    }
                    pmf *= (k - 1.0 + r) / k * (1.0 - q);
                    cdf += pmf;
                    if pmf < 1e-300 && cdf < p {
                        // Numerical underflow far in the tail: the normal approximation.
                        return normal(mean, var).ceil();
                    }
                }
                k
            }
        }
    }

    fn cdf(self, y: f64) -> f64 {
        if y < 0.0 {
            return 0.0;
        }
        let normal = |mean: f64, var: f64| {
            if var <= 0.0 {
                return if y >= mean { 1.0 } else { 0.0 };
            }
            0.5 * libm::erfc(-(y - mean) / (var.sqrt() * std::f64::consts::SQRT_2))
        };
        // Sums the pmf from 0 to ⌊y⌋, with the pmf's ratio from k−1 to k.
        let walk = |p0: f64, ratio: &dyn Fn(f64) -> f64, tail: f64| {
            let (mut pmf, mut cdf, mut k) = (p0, p0, 0.0);
            while k < y.floor() && cdf < 1.0 - 1e-15 {
                k += 1.0;
                if k > COUNT_LOOP_CAP {
                    return tail;
                }
                pmf *= ratio(k);
                cdf += pmf;
            }
            cdf.min(1.0)
        };
        match self {
            CountDist::Zero => 1.0,
            CountDist::Normal { mean, var } => normal(mean, var),
            CountDist::Poisson(m) => walk((-m).exp(), &|k| m / k, normal(m, m)),
            CountDist::NegBin { r, q, mean, var } => walk(
                (r * q.ln()).exp(),
                &|k| (k - 1.0 + r) / k * (1.0 - q),
                normal(mean, var),
            ),
        }
    }
}

/// Negative-binomial shape above which a large count is treated as normal.
const NORMAL_SHAPE: f64 = 50.0;
/// Most units the count quantile walks one by one before it switches to the normal.
const COUNT_LOOP_CAP: f64 = 1e6;

/// Demand of horizon day `j` at any level `p`, by the path its seven quantiles took.
pub(super) fn daily_quantile(f: &SeriesForecast, j: usize, p: f64) -> f64 {
    let Some(&m) = f.mean.get(j) else {
        return 0.0;
    };
    if f.closed_days.contains(&j) || p <= f.zero_share {
        return 0.0;
    }
    let v = match f.quantile_method {
        "negative_binomial" => count_quantile(m, f.daily_mse.max(m), p),
        "conformal" if !f.daily_errors.is_empty() => {
            let b = &f.daily_errors[(j / 7).min(f.daily_errors.len() - 1)];
            (m + empirical_quantile(b, p)).max(0.0)
        }
        "conformal" => poisson_ppf(m, p),
        // Given forecasts: a point at the mean.
        _ => m,
    };
    if v.is_finite() {
        v.max(0.0)
    } else {
        0.0
    }
}

/// P(demand of horizon day `j` ≤ y) under the same distribution as [`daily_quantile`]:
/// the empirical CDF of max(0, mean + error) for conformal days (ties included), the count
/// CDF for negative-binomial and Poisson days, a point mass at 0 on closed days.
pub(super) fn daily_cdf(f: &SeriesForecast, j: usize, y: f64) -> f64 {
    if y < 0.0 {
        return 0.0;
    }
    let Some(&m) = f.mean.get(j) else {
        return 1.0;
    };
    if f.closed_days.contains(&j) {
        return 1.0;
    }
    let c = match f.quantile_method {
        "negative_binomial" => count_cdf(m, f.daily_mse.max(m), y),
        "conformal" if !f.daily_errors.is_empty() => {
            let b = &f.daily_errors[(j / 7).min(f.daily_errors.len() - 1)];
            // Sorted errors: count those with max(0, m + e) ≤ y, i.e. e ≤ y − m.
            b.partition_point(|e| (m + e).max(0.0) <= y + 1e-9) as f64 / b.len() as f64
        }
        "conformal" => count_cdf(m, m, y),
        _ => {
            if y + 1e-9 >= m {
                1.0
            } else {
                0.0
            }
        }
    };
    c.max(f.zero_share)
}

/// Share of a count's PIT, uniform on [F(y−1), F(y)], inside the central `level` interval
/// [(1−level)/2, (1+level)/2]; a point (continuous part) counts 0 or 1.
pub fn pit_cover(f_lo: f64, f_hi: f64, level: f64) -> f64 {
    let (a, b) = ((1.0 - level) / 2.0, (1.0 + level) / 2.0);
    let (lo, hi) = (f_lo.min(f_hi), f_hi.max(f_lo));
    if hi - lo < 1e-12 {
        return if hi >= a && hi <= b { 1.0 } else { 0.0 };
    }
    ((hi.min(b) - lo.max(a)).max(0.0)) / (hi - lo)
}

/// Share of a count's PIT, uniform on [F(y−1), F(y)], below `level` (a point counts 0 or 1):
/// which tail the misses of a central interval fall in, (1 − level) / 2 each when calibrated.
/// A point on the level counts as inside, as in [`pit_cover`].
pub fn pit_below(f_lo: f64, f_hi: f64, level: f64) -> f64 {
    let (lo, hi) = (f_lo.min(f_hi), f_hi.max(f_lo));
    if hi - lo < 1e-12 {
        return if hi < level { 1.0 } else { 0.0 };
    }
    ((level - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// The same above `level`.
pub fn pit_above(f_lo: f64, f_hi: f64, level: f64) -> f64 {
    let (lo, hi) = (f_lo.min(f_hi), f_hi.max(f_lo));
    if hi - lo < 1e-12 {
        return if lo > level { 1.0 } else { 0.0 };
    }
    ((hi - level) / (hi - lo)).clamp(0.0, 1.0)
}

/// Squared window errors per unit of forecast window demand over the CV windows (NaN when
/// the CV forecast no demand): a variance that scales with the level the window is
/// forecast at, not the level the CV windows happened to have.
pub(super) fn window_dispersion(errors: &[f64], forecasts: &[f64]) -> f64 {
    let fc_total: f64 = forecasts.iter().map(|v| v.max(0.0)).sum();
    if fc_total > 0.0 {
        errors.iter().map(|e| e * e).sum::<f64>() / fc_total
    } else {
        f64::NAN
    }
}

/// Whether `window_dispersion` from `n` CV windows can carry a count window
/// (`cv_dispersion`); a dispersion of 0 (errorless CV) cannot.
pub(super) fn dispersion_usable(n: usize, dispersion: f64) -> bool {
    n >= MIN_WINDOW_ERRORS && dispersion.is_finite() && dispersion > 0.0
}

/// Variance of a window total with `mean` under `cv_dispersion`: the mean times the
/// dispersion the CV windows showed, never below Poisson.
pub(super) fn cv_dispersion_var(mean: f64, dispersion: f64) -> f64 {
    (mean * dispersion).max(mean)
}

fn dispersion_var(f: &SeriesForecast) -> f64 {
    cv_dispersion_var(f.window_mean, f.window_dispersion)
}

/// Variance of window demand under the negative binomial of few-CV series (new items):
/// w days of the daily variance, plus the uncertainty of the level itself, estimated from
/// the n trading days there are (w² · variance / n: a 22-day window on 11 days of history
/// triples the variance). Never below Poisson.
fn nb_window_var(f: &SeriesForecast) -> f64 {
    let w = f.window_days as f64;
    let level = match f.class.trading_days {
        0 => 0.0,
        n => w / n as f64,
    };
    (w * f.daily_mse * (1.0 + level)).max(f.window_mean)
}

pub(super) fn window_quantile(f: &SeriesForecast, p: f64) -> f64 {
    let p = match &f.window_levels {
        Some(l) => super::select::recal_level(l, p),
        None => p,
    };
    let v = match f.window_method {
        "cv_dispersion" => return count_quantile(f.window_mean, dispersion_var(f), p),
        "empirical" => f.window_mean + empirical_quantile(&f.window_errors, p),
        "negative_binomial" => return count_quantile(f.window_mean, nb_window_var(f), p),
        "normal_approx" => {
            f.window_mean + norm_ppf(p) * f.daily_error_sd * (f.window_days as f64).sqrt()
        }
        _ => poisson_ppf(f.window_mean, p),
    };
    if v.is_finite() {
        v.max(0.0)
    } else {
        0.0
    }
}

/// P(window total ≤ y) under the distribution [`window_quantile`] reads its levels off: the
/// count CDF for `cv_dispersion`, negative-binomial and Poisson windows, the empirical CDF
/// of max(0, window mean + error) over the CV window errors (ties included), the normal
/// (floored at 0) for the normal approximation.
pub(super) fn window_cdf(f: &SeriesForecast, y: f64) -> f64 {
    let c = base_window_cdf(f, y);
    match &f.window_levels {
        Some(l) => super::select::recal_inverse(l, c),
        None => c,
    }
}

fn base_window_cdf(f: &SeriesForecast, y: f64) -> f64 {
    if y < 0.0 {
        return 0.0;
    }
    let m = f.window_mean;
    let w = f.window_days as f64;
    match f.window_method {
        "cv_dispersion" => count_cdf(m, dispersion_var(f), y),
        "empirical" if !f.window_errors.is_empty() => {
            let e = &f.window_errors;
            e.partition_point(|e| (m + e).max(0.0) <= y + 1e-9) as f64 / e.len() as f64
        }
        "negative_binomial" => count_cdf(m, nb_window_var(f), y),
        "normal_approx" => {
            let sd = f.daily_error_sd * w.sqrt();
            if sd <= 0.0 || !sd.is_finite() {
                return if y + 1e-9 >= m { 1.0 } else { 0.0 };
            }
            0.5 * libm::erfc(-(y - m) / (sd * std::f64::consts::SQRT_2))
        }
        _ => count_cdf(m, m, y),
    }
}

/// (daily errors by horizon index, (window-total errors, window-total forecasts), number of
/// origins).
pub(super) type CvErrors = (Vec<(usize, f64)>, (Vec<f64>, Vec<f64>), usize);

#[allow(clippy::too_many_arguments)]
pub(super) fn assemble(
    model: &'static str,
    mean: Vec<f64>,
    cv: Option<CvErrors>,
    s: &SeriesView,
    h: usize,
    window: usize,
    scores: Vec<CandidateScore>,
    fallback: Option<String>,
    intermittent: bool,
    zero_floor_days: usize,
) -> SeriesForecast {
    let (daily, (mut win, win_fc), origins) = cv.unwrap_or_default();
    // Errors grow with demand; a season or a trend moves the level: the spread follows it.
    let window_dispersion = window_dispersion(&win, &win_fc);
    // Count demand: variance of actuals around the forecast from the CV errors (mean squared
    // error), never below the Poisson variance.
    let mse = if daily.is_empty() {
        0.0
    } else {
        daily.iter().map(|d| d.1 * d.1).sum::<f64>() / daily.len() as f64
    };
    let n = s.y.len();
    // With fewer than MIN_CONFORMAL_ORIGINS CV origins (new items) the errors are too few to
    // stand for the distribution: a negative binomial whose variance is the larger of the CV
    // error and the spread of the series' own recent open days (lumpy starts stay lumpy).
    let few = origins < MIN_CONFORMAL_ORIGINS;
    let intermittent = intermittent || few;
    let mse = if few {
        mse.max(recent_variance(s, RECENT_DAYS))
    } else {
        mse
    };
    // Errors per horizon week; sparse weeks borrow the pooled errors.
    let nbuckets = h.div_ceil(7).max(1);
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); nbuckets];
    let mut all: Vec<f64> = Vec::with_capacity(daily.len());
    for &(j, e) in &daily {
        buckets[(j / 7).min(nbuckets - 1)].push(e);
        all.push(e);
    }
    all.sort_by(f64::total_cmp);
    for b in buckets.iter_mut() {
        b.sort_by(f64::total_cmp);
    }
    // Count demand is zero-inflated beyond what a negative binomial or the CV errors say
    // (measured: the lower tail under-covered by 3–6 points on online-retail): no day's
    // P(0) is below the share of zero days of the recent open history.
    let zero_share = recent_zero_share(s, zero_floor_days);
    let closed_days: Vec<usize> = (0..h.min(mean.len())).filter(|j| s.closed(n + j)).collect();
    // The error list each horizon week's quantiles are read from (conformal path only),
    // sparse weeks borrowing the pooled errors; kept so any level, and the CDF itself, can be
    // read off later (95 % intervals, PIT).
    let daily_errors: Vec<Vec<f64>> = if intermittent || all.is_empty() {
        Vec::new()
    } else {
        buckets
            .iter()
            .map(|b| {
                if b.len() >= MIN_BUCKET_ERRORS {
                    b.clone()
                } else {
                    all.clone()
                }
            })
            .collect()
    };
    win.sort_by(f64::total_cmp);
    let sd = if all.len() >= 2 {
        let mu = all.iter().sum::<f64>() / all.len() as f64;
        (all.iter().map(|e| (e - mu).powi(2)).sum::<f64>() / (all.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    let window_mean = mean.iter().take(window).sum::<f64>();
    // With enough CV windows, a count distribution with the window mean and the CV windows'
    // dispersion: the empirical quantiles of 26 overlapping window errors put the tails at
    // the sample's extremes and the spread at the CV period's level (measured: 80 % / 95 %
    // window intervals covered 70 % / 83 % on the M5-shaped panel; benches/README). A
    // history the CV forecasts hit exactly (dispersion 0) keeps the window at its mean.
    let window_method = if window_mean > 0.0 && dispersion_usable(win.len(), window_dispersion) {
        "cv_dispersion"
    } else if win.len() >= MIN_WINDOW_ERRORS {
        "empirical"
    } else if intermittent && (!daily.is_empty() || mse > 0.0) {
        "negative_binomial"
    } else if all.len() >= 2 * MIN_WINDOW_ERRORS {
        "normal_approx"
    } else {
        "poisson"
    };
    let days = h.min(mean.len());
    let mut f = SeriesForecast {
        model,
        members: vec![],
        class: ClassInfo {
            class: DemandClass::New,
            adi: f64::NAN,
            cv2: 0.0,
            trading_days: 0,
        },
        quantile_method: if intermittent {
            "negative_binomial"
        } else {
            "conformal"
        },
        daily_mse: mse,
        mean,
        quantiles: Vec::new(),
        daily_errors,
        closed_days,
        zero_share,
        window_days: window,
        window_mean,
        window_errors: win,
        daily_error_sd: sd,
        window_method,
        window_dispersion,
        window_levels: None,
        scores,
        cv_origins: origins,
        fallback,
        fallback_kind: None,
        selection_weight: None,
        stall: None,
        promo_lift: None,
        event_lift: None,
        yearly_move: None,
    };
    // The seven stored levels are read off the same distribution as any other level.
    f.quantiles = (0..days)
        .map(|j| QUANTILES.map(|p| daily_quantile(&f, j, p)))
        .collect();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type7_quantile_matches_numpy() {
        // numpy.quantile([1, 2, 3, 4], 0.1) == 1.3
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((empirical_quantile(&v, 0.1) - 1.3).abs() < 1e-12);
        assert_eq!(empirical_quantile(&v, 1.0), 4.0);
        assert_eq!(empirical_quantile(&v, 0.0), 1.0);
    }

    #[test]
    fn normal_ppf_known_values() {
        assert!((norm_ppf(0.95) - 1.6448536269514722).abs() < 1e-8);
        assert!((norm_ppf(0.5)).abs() < 1e-12);
        assert!((norm_ppf(0.01) + 2.3263478740408408).abs() < 1e-8);
    }

    #[test]
    fn count_quantiles_poisson_and_negative_binomial() {
        // Poisson(0.5): P(0) = 0.61 → median 0; scipy.stats.nbinom.ppf(0.9, 2, 0.5) == 5
        // (mean 2, variance 4): r = 2, q = 0.5; cdf(4) = 0.8906, cdf(5) = 0.9375.
        assert_eq!(count_quantile(0.5, 0.5, 0.5), 0.0);
        assert_eq!(count_quantile(2.0, 4.0, 0.9), 5.0);
        assert_eq!(count_quantile(0.0, 1.0, 0.99), 0.0);
        assert!(count_quantile(1000.0, 1000.0, 0.5) - 1000.0 < 1e-9);
    }

    #[test]
    fn large_but_lumpy_counts_keep_their_zero_median() {
        // One line of 1,000 units that comes back with probability 2 %: mean 20, variance
        // 1000²·0.02·0.98 = 19,600. Median 0, not 20; a line of 5,000 units (mean 100) too.
        assert_eq!(count_quantile(20.0, 19_600.0, 0.5), 0.0);
        assert_eq!(count_quantile(100.0, 5000.0 * 5000.0 * 0.0196, 0.5), 0.0);
        assert!(count_quantile(100.0, 5000.0 * 5000.0 * 0.0196, 0.99) > 100.0);
        // Large and nearly symmetric (r = 10⁴/100 = 100): the normal, as before.
        let v = count_quantile(100.0, 200.0, 0.5);
        assert!((v - 100.0).abs() < 1e-9, "{v}");
    }

    #[test]
    fn huge_tail_never_returns_the_loop_cap() {
        // A new series with one spike: mean 5·10⁵, shape r = 0.5 → p99 lies beyond 10⁶ units
        // one by one; the answer is the normal approximation, not the cap.
        let (m, v) = (5e5, 5e5 + 5e5 * 5e5 / 0.5);
        let q = count_quantile(m, v, 0.999);
        assert!(
            q.is_finite() && q != COUNT_LOOP_CAP && q != COUNT_LOOP_CAP + 1.0,
            "{q}"
        );
        assert!(q > m);
    }

    #[test]
    fn count_cdf_inverts_count_quantile() {
        // Poisson(0.5): P(0) = e^-0.5; NB(mean 2, var 4): cdf(4) = 0.890625, cdf(5) = 0.9375.
        assert!((count_cdf(0.5, 0.5, 0.0) - (-0.5f64).exp()).abs() < 1e-12);
        assert!((count_cdf(2.0, 4.0, 4.0) - 0.890625).abs() < 1e-9);
        assert!((count_cdf(2.0, 4.0, 5.0) - 0.9375).abs() < 1e-9);
        assert_eq!(count_cdf(0.0, 1.0, 0.0), 1.0);
        assert_eq!(count_cdf(3.0, 9.0, -1.0), 0.0);
        for (m, v) in [
            (0.3, 0.3),
            (2.0, 4.0),
            (7.0, 30.0),
            (20.0, 19_600.0),
            (200.0, 300.0),
        ] {
            for p in [0.05, 0.25, 0.5, 0.9, 0.975] {
                let q = count_quantile(m, v, p);
                assert!(count_cdf(m, v, q) >= p - 1e-9, "F(q) < p at {m} {v} {p}");
                if m <= 50.0 || v > 1.05 * m && m * m / (v - m) < 50.0 {
                    assert!(q == 0.0 || count_cdf(m, v, q - 1.0) < p, "not the smallest");
                }
            }
        }
    }

    #[test]
    fn window_cdf_is_the_distribution_window_quantiles_come_from() {
        // Count windows: F(q_p) ≥ p, and q_p is the smallest such count.
        for (method, mean, sd) in [
            ("negative_binomial", 12.0, 2.5),
            ("poisson", 3.0, 0.0),
            ("negative_binomial", 0.4, 0.6),
        ] {
            let f = SeriesForecast::fixed(mean, 14, method, sd);
            for p in [0.025, 0.1, 0.5, 0.9, 0.975] {
                let q = f.window_quantile(p);
                assert!(f.window_cdf(q) >= p - 1e-9, "{method} F(q) < p at {p}");
                assert!(
                    q == 0.0 || f.window_cdf(q - 1.0) < p,
                    "{method} {p}: not smallest"
                );
            }
        }
        // Normal approximation: the median is the mean, the 90 % level its quantile.
        let f = SeriesForecast::fixed(200.0, 28, "normal_approx", 3.0);
        assert!((f.window_cdf(200.0) - 0.5).abs() < 1e-9);
        assert!((f.window_cdf(f.window_quantile(0.9)) - 0.9).abs() < 1e-6);
        // Empirical: the share of max(0, mean + error) at or below y.
        let mut f = SeriesForecast::fixed(4.0, 7, "empirical", 0.0);
        f.window_errors = vec![-5.0, -1.0, 0.0, 2.0, 5.0]; // totals 0, 3, 4, 6, 9
        assert_eq!(f.window_cdf(-1.0), 0.0);
        assert_eq!(f.window_cdf(0.0), 0.2);
        assert_eq!(f.window_cdf(3.5), 0.4);
        assert_eq!(f.window_cdf(4.0), 0.6);
        assert_eq!(f.window_cdf(100.0), 1.0);
    }

    #[test]
    fn poisson_ppf_known_values() {
        // scipy.stats.poisson.ppf(0.95, 3) == 6; ppf(0.5, 3) == 3
        assert_eq!(poisson_ppf(3.0, 0.95), 6.0);
        assert_eq!(poisson_ppf(3.0, 0.5), 3.0);
        assert_eq!(poisson_ppf(0.0, 0.99), 0.0);
    }
}
