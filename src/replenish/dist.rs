//! Demand over a protection window as the policies see it: the forecast's window quantiles,
//! widened for lead-time variability, plus the expected shortage E[(D − x)⁺] that fill-rate
//! targets and budget ranking need.

use crate::forecast::SeriesForecast;

/// Points of the quantile function used to integrate the loss function.
const POINTS: usize = 200;

/// Demand over one series' protection window.
#[derive(Debug, Clone)]
pub struct DemandDist<'a> {
    f: &'a SeriesForecast,
    pub mean: f64,
    /// Standard deviation added by lead-time variability (daily mean × σ_L).
    lt_sd: f64,
    /// Standard deviation of the forecast's window distribution (from its quantiles).
    base_sd: f64,
    points: Option<Vec<f64>>,
}

impl<'a> DemandDist<'a> {
    /// `lead_sd_days`: standard deviation of the supplier lead time. Demand over a random
    /// lead time has variance E[L]σ_d² + μ_d²σ_L² (Silver–Pyke–Peterson); the forecast gives
    /// the first term, the second is added by stretching the distribution around its mean.
    pub fn new(f: &'a SeriesForecast, lead_sd_days: f64) -> Self {
        let days = f.window_days.max(1) as f64;
        let daily = f.window_mean / days;
        let lt_sd = (daily * lead_sd_days).max(0.0);
        let base_sd = if lt_sd > 0.0 {
            // Interquantile range of a normal: p84 − p16 ≈ 2σ; robust for skewed counts too.
            ((f.window_quantile(0.8413) - f.window_quantile(0.1587)) / 2.0).max(0.0)
        } else {
            0.0
        };
        DemandDist {
            f,
            mean: f.window_mean,
            lt_sd,
            base_sd,
            points: None,
        }
    }

    /// Quantile of window demand, never negative.
    pub fn quantile(&self, p: f64) -> f64 {
        let q = self.f.window_quantile(p);
        if self.lt_sd <= 0.0 {
            return q;
        }
        let v = if self.base_sd > 1e-12 {
            let total = (self.base_sd * self.base_sd + self.lt_sd * self.lt_sd).sqrt();
            self.mean + (q - self.mean) * total / self.base_sd
        } else {
            self.mean + super::math::norm_ppf(p) * self.lt_sd
        };
        v.max(0.0)
    }

    fn points(&mut self) -> &[f64] {
        if self.points.is_none() {
            let pts = (0..POINTS)
                .map(|i| self.quantile((i as f64 + 0.5) / POINTS as f64))
                .collect();
            self.points = Some(pts);
        }
        self.points.as_deref().unwrap_or(&[])
    }

    /// Expected units short E[(D − x)⁺] (midpoint rule on the quantile function).
    pub fn shortage(&mut self, x: f64) -> f64 {
        let pts = self.points();
        pts.iter().map(|d| (d - x).max(0.0)).sum::<f64>() / pts.len().max(1) as f64
    }

    /// Share of the distribution at or below x (the cycle service level x achieves).
    pub fn cdf(&mut self, x: f64) -> f64 {
        let pts = self.points();
        pts.iter().filter(|d| **d <= x + 1e-9).count() as f64 / pts.len().max(1) as f64
    }

    /// Smallest whole level x with expected shortage ≤ `allowed` (fill-rate targets).
    pub fn level_for_shortage(&mut self, allowed: f64) -> f64 {
        let hi0 = self.points().last().copied().unwrap_or(0.0).ceil() + 1.0;
        if self.shortage(0.0) <= allowed {
            return 0.0;
        }
        let (mut lo, mut hi) = (0.0f64, hi0);
        while hi - lo > 1.0 {
            let mid = ((lo + hi) / 2.0).floor();
            if self.shortage(mid) <= allowed {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_time_variability_widens_the_upper_tail() {
        let f = SeriesForecast::fixed(100.0, 10, "normal_approx", 3.0);
        let plain = DemandDist::new(&f, 0.0);
        let wide = DemandDist::new(&f, 2.0);
        assert!((plain.quantile(0.5) - 100.0).abs() < 1e-9);
        assert!(wide.quantile(0.95) > plain.quantile(0.95) + 1.0);
        // Normal window sd 3·√10 ≈ 9.49, lead-time sd 10·2 = 20: total ≈ 22.1.
        let z = super::super::math::norm_ppf(0.95);
        let want = 100.0 + z * ((3.0f64 * 3.0 * 10.0) + 400.0).sqrt();
        assert!(
            (wide.quantile(0.95) - want).abs() < 0.05,
            "{}",
            wide.quantile(0.95)
        );
    }

    #[test]
    fn shortage_matches_normal_loss() {
        let f = SeriesForecast::fixed(100.0, 10, "normal_approx", 3.0);
        let mut d = DemandDist::new(&f, 0.0);
        let sd = 3.0 * 10f64.sqrt();
        let (g, _) = super::super::math::standard_normal_loss(0.5);
        // Midpoint rule on 200 points: within 2 % of the exact normal loss.
        let got = d.shortage(100.0 + 0.5 * sd);
        assert!(
            (got - sd * g).abs() / (sd * g) < 0.02,
            "{got} vs {}",
            sd * g
        );
        let x = d.level_for_shortage(1.0);
        assert!(d.shortage(x) <= 1.0 && d.shortage(x - 1.0) > 1.0);
    }
}
