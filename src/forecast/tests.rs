//! Contract tests run over every registered model, plus hand-checked cases.

use chrono::{NaiveDate, Weekday};

use super::*;
use crate::panel::{from_date, TradingCalendar};

fn cal(n: usize, closed: Vec<Weekday>) -> TradingCalendar {
    // 2024-01-01 is a Monday.
    let start = from_date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
    TradingCalendar::with_weekdays(start, start + n as i32 - 1, closed)
}

fn view<'a>(y: &'a [f64], c: &'a [bool], cal: &'a TradingCalendar) -> SeriesView<'a> {
    SeriesView {
        start: cal.start,
        y,
        censored: c,
        calendar: cal,
        prices: None,
        promos: &[],
        rivals: None,
    }
}

fn all_models() -> Vec<Box<dyn Forecaster>> {
    registry(&ForecastCfg::default())
}

/// The default zoo on a series open every day, nothing censored.
fn forecast_default(y: &[f64], h: usize, window: usize) -> SeriesForecast {
    let c = vec![false; y.len()];
    let k = cal(y.len(), vec![]);
    forecast_series(
        &all_models(),
        &view(y, &c, &k),
        &ForecastCfg::default(),
        h,
        window,
    )
}

#[test]
fn contract_every_model_finite_nonnegative_right_length() {
    let shapes: Vec<Vec<f64>> = vec![
        (0..200).map(|i| (i % 7) as f64 + 1.0).collect(),
        vec![0.0; 200],
        vec![5.0; 200],
        (0..200)
            .map(|i| if i == 150 { 500.0 } else { 0.0 })
            .collect(),
        (0..200)
            .map(|i| if i % 13 == 0 { 3.0 } else { 0.0 })
            .collect(),
    ];
    let cfg = ForecastCfg::default();
    for y in &shapes {
        let c = vec![false; y.len()];
        let k = cal(y.len(), vec![]);
        let s = view(y, &c, &k);
        for m in all_models() {
            let p = m.predict(&s, 28).unwrap();
            assert_eq!(p.len(), 28, "{}", m.name());
            assert!(p.iter().all(|v| v.is_finite() && *v >= 0.0), "{}", m.name());
        }
        let f = forecast_series(&all_models(), &s, &cfg, 28, 21);
        assert_eq!(f.quantiles.len(), 28);
        for q in &f.quantiles {
            assert!(
                q.windows(2).all(|w| w[0] <= w[1]),
                "quantiles ordered: {q:?}"
            );
            assert!(q.iter().all(|v| *v >= 0.0 && v.is_finite()));
        }
        let mut last = 0.0;
        for p in [0.5, 0.8, 0.9, 0.95, 0.99] {
            let w = f.window_quantile(p);
            assert!(w >= last && w.is_finite(), "window quantile monotone");
            last = w;
        }
    }
}

#[test]
fn seasonal_naive_repeats_last_week_and_skips_censored() {
    let y: Vec<f64> = (0..28)
        .map(|i| (i % 7) as f64 * 10.0 + (i / 7) as f64)
        .collect();
    let mut c = vec![false; 28];
    let k = cal(28, vec![]);
    let m = baseline::SeasonalNaive::default();
    let p = m.predict(&view(&y, &c, &k), 8).unwrap();
    // Last week is indices 21..28 with values 3, 13, 23, ...
    assert_eq!(p[..7], [3.0, 13.0, 23.0, 33.0, 43.0, 53.0, 63.0]);
    assert_eq!(p[7], 3.0);
    // Day 21 censored: go back one week to index 14 (value 2).
    c[21] = true;
    let p = m.predict(&view(&y, &c, &k), 1).unwrap();
    assert_eq!(p[0], 2.0);
}

#[test]
fn moving_average_ignores_censored_and_closed_days() {
    // 4 weeks, Sundays closed (zeros), one censored zero that must not pull the mean down.
    let k = cal(28, vec![Weekday::Sun]);
    let mut y = vec![6.0; 28];
    let mut c = vec![false; 28];
    for i in 0..28 {
        if i % 7 == 6 {
            y[i] = 0.0;
        }
    }
    y[10] = 0.0;
    c[10] = true;
    let m = baseline::MovingAverage::new(28);
    let p = m.predict(&view(&y, &c, &k), 7).unwrap();
    assert_eq!(p[..6], [6.0; 6]);
    assert_eq!(p[6], 0.0, "future Sunday is closed");
}

#[test]
fn too_short_series_falls_back_and_says_why() {
    let y = vec![1.0, 0.0, 2.0];
    let c = vec![false; 3];
    let k = cal(3, vec![]);
    let f = forecast_series(
        &all_models(),
        &view(&y, &c, &k),
        &ForecastCfg::default(),
        7,
        10,
    );
    assert_eq!(f.model, "historic_mean");
    assert!(f.fallback.as_deref().unwrap_or("").contains("no candidate"));
    assert_eq!(f.fallback_kind, Some("short_history"));
    assert!((f.mean[0] - 1.0).abs() < 1e-12);
    // No CV origin: a count distribution whose variance is the series' own spread (sample
    // variance of 1, 0, 2 = 1 per day), never below Poisson.
    assert_eq!(f.window_method, "negative_binomial");
    assert_eq!(f.quantile_method, "negative_binomial");
    assert!((f.daily_mse - 1.0).abs() < 1e-12);
}

#[test]
fn lumpy_new_series_get_wide_count_quantiles() {
    // 20 days, three spikes of 40 units: mean 6, own variance 214.7. With no CV origin the
    // quantiles used to be Poisson(6) (p95 = 10); now they follow the spread.
    let mut y = vec![0.0; 20];
    for d in [4, 9, 14] {
        y[d] = 40.0;
    }
    let c = vec![false; 20];
    let k = cal(20, vec![]);
    let f = forecast_series(
        &all_models(),
        &view(&y, &c, &k),
        &ForecastCfg::default(),
        7,
        7,
    );
    assert_eq!(f.quantile_method, "negative_binomial");
    let var = (3.0 * 34.0f64.powi(2) + 17.0 * 36.0) / 19.0;
    assert!((f.daily_mse - var).abs() < 1e-9, "{}", f.daily_mse);
    assert!(f.quantiles[0][6] > 10.0, "p95 {}", f.quantiles[0][6]);
    // 17 of 20 open days were zero: no level up to 0.85 is above 0.
    assert!((f.zero_share - 0.85).abs() < 1e-12);
    assert_eq!(f.daily_quantile(0, 0.85), 0.0);
    assert!(f.daily_quantile(0, 0.9) > 0.0);
    assert!(f.daily_cdf(0, 0.0) >= 0.85);
}

#[test]
fn window_quantile_is_the_mean_when_the_cv_windows_had_no_error() {
    // Weekly pattern with noise-free history: errors are exactly zero, so the window
    // quantile equals the window mean (no dispersion to scale).
    let y: Vec<f64> = (0..400)
        .map(|i| [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0][i % 7])
        .collect();
    let c = vec![false; 400];
    let k = cal(400, vec![]);
    let f = forecast_series(
        &all_models(),
        &view(&y, &c, &k),
        &ForecastCfg::default(),
        28,
        14,
    );
    assert_eq!(f.model, "seasonal_naive");
    assert_eq!(f.window_method, "empirical");
    assert_eq!(f.window_dispersion, 0.0);
    assert!((f.window_mean - 56.0).abs() < 1e-9);
    assert!((f.window_quantile(0.95) - 56.0).abs() < 1e-9);
}

#[test]
fn window_variance_scales_with_the_level_the_window_is_forecast_at() {
    // The same CV windows (forecast totals 10, errors ±4: dispersion 16 / 10 = 1.6 per unit)
    // behind a window forecast at 10 and one at 40: the variance is 1.6 × the mean, so the
    // 40-unit window's 10–90 % range is about twice as wide (√4), not the same.
    let y = vec![1.0; 200];
    let c = vec![false; 200];
    let k = cal(200, vec![]);
    let v = view(&y, &c, &k);
    let errs: Vec<f64> = (0..26)
        .map(|i| if i % 2 == 0 { 4.0 } else { -4.0 })
        .collect();
    let fcs = vec![10.0; 26];
    let daily: Vec<(usize, f64)> = (0..26 * 7).map(|i| (i % 7, 0.5)).collect();
    let at = |level: f64| {
        quantile::assemble(
            "ses",
            vec![level / 7.0; 7],
            Some((daily.clone(), (errs.clone(), fcs.clone()), 26)),
            &v,
            7,
            7,
            vec![],
            None,
            false,
            0,
        )
    };
    let (lo, hi) = (at(10.0), at(40.0));
    for f in [&lo, &hi] {
        assert_eq!(f.window_method, "cv_dispersion");
        assert!((f.window_dispersion - 1.6).abs() < 1e-12);
    }
    let range = |f: &SeriesForecast| f.window_quantile(0.9) - f.window_quantile(0.1);
    let ratio = range(&hi) / range(&lo);
    assert!((1.6..=2.6).contains(&ratio), "{ratio}");
    // Quantiles are whole units and the CDF is the one they come from.
    for p in [0.05, 0.5, 0.95] {
        let q = hi.window_quantile(p);
        assert_eq!(q, q.round());
        assert!(hi.window_cdf(q) >= p && (q == 0.0 || hi.window_cdf(q - 1.0) < p));
    }
    // CV forecasts of zero demand leave no dispersion to scale: the errors' own quantiles.
    let flat = quantile::assemble(
        "ses",
        vec![1.0; 7],
        Some((daily.clone(), (errs.clone(), vec![0.0; 26]), 26)),
        &v,
        7,
        7,
        vec![],
        None,
        false,
        0,
    );
    assert_eq!(flat.window_method, "empirical");
    // A recalibration map reads the same distribution at other levels: the identity
    // changes nothing, a widening map widens the 10–90 range and the CDF follows it.
    let mut same = hi.clone();
    same.window_levels = Some(std::sync::Arc::new(
        (0..=select::RECAL_KNOTS)
            .map(|k| k as f64 / select::RECAL_KNOTS as f64)
            .collect(),
    ));
    let mut wide = hi.clone();
    wide.window_levels = Some(std::sync::Arc::new(
        (0..=select::RECAL_KNOTS)
            .map(|k| {
                let p = k as f64 / select::RECAL_KNOTS as f64;
                0.5 + (p - 0.5).signum() * (2.0 * p - 1.0).abs().powf(0.7) / 2.0
            })
            .collect(),
    ));
    for p in [0.05, 0.1, 0.5, 0.9, 0.95] {
        assert_eq!(same.window_quantile(p), hi.window_quantile(p));
    }
    assert!(
        range(&wide) > range(&hi),
        "{} vs {}",
        range(&wide),
        range(&hi)
    );
    assert_eq!(wide.window_quantile(0.5), hi.window_quantile(0.5));
    for p in [0.1, 0.9] {
        let q = wide.window_quantile(p);
        assert!(wide.window_cdf(q) >= p - 1e-9 && (q == 0.0 || wide.window_cdf(q - 1.0) < p));
    }
}

/// Fault injection: a model that panics on one series and one that returns NaN.
struct Faulty {
    panic_on_len: usize,
}

impl Forecaster for Faulty {
    fn name(&self) -> &'static str {
        "faulty"
    }
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        if s.y.len() == self.panic_on_len {
            panic!("injected fault");
        }
        Ok(vec![f64::NAN; h])
    }
}

#[test]
fn panic_or_nan_in_one_model_falls_back_and_is_recorded() {
    let y: Vec<f64> = (0..120).map(|i| (i % 5) as f64).collect();
    let c = vec![false; 120];
    let k = cal(120, vec![]);
    let models: Vec<Box<dyn Forecaster>> = vec![
        Box::new(Faulty {
            panic_on_len: 120 - 28,
        }),
        Box::new(baseline::MovingAverage::new(28)),
    ];
    let f = forecast_series(&models, &view(&y, &c, &k), &ForecastCfg::default(), 28, 14);
    assert_eq!(f.model, "moving_average");
    let faulty = f.scores.iter().find(|s| s.model == "faulty").unwrap();
    assert!(faulty.mae.is_none());
    let err = faulty.error.as_deref().unwrap();
    assert!(
        err.contains("panicked") || err.contains("non-finite"),
        "{err}"
    );
    assert!(f.mean.iter().all(|v| v.is_finite()));
    // Only the faulty model: the historic mean takes over and the fallback says why.
    let only: Vec<Box<dyn Forecaster>> = vec![Box::new(Faulty { panic_on_len: 0 })];
    let f = forecast_series(&only, &view(&y, &c, &k), &ForecastCfg::default(), 28, 14);
    assert_eq!(f.model, "historic_mean");
    assert!(f.fallback.as_deref().unwrap().contains("faulty"));
    assert_eq!(f.fallback_kind, Some("model_failure"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever the history (zeros, spikes, censoring), quantiles are finite, ≥ 0 and
        /// ordered, and window quantiles rise with the probability.
        #[test]
        fn quantiles_ordered_nonnegative_finite(
            y in proptest::collection::vec(prop_oneof![3 => Just(0.0), 2 => 0.0..20.0f64, 1 => 0.0..5000.0f64], 1..300),
            cens in proptest::collection::vec(any::<bool>(), 300),
            h in 1usize..40,
            window in 1usize..60,
        ) {
            let n = y.len();
            let c: Vec<bool> = cens[..n].iter().map(|b| *b && n > 10).collect();
            let k = cal(n, vec![Weekday::Sun]);
            let f = forecast_series(&all_models(), &view(&y, &c, &k), &ForecastCfg::default(), h, window);
            prop_assert_eq!(f.quantiles.len(), h);
            for q in &f.quantiles {
                prop_assert!(q.iter().all(|v| v.is_finite() && *v >= 0.0));
                prop_assert!(q.windows(2).all(|w| w[0] <= w[1] + 1e-12));
            }
            prop_assert!(f.mean.iter().all(|v| v.is_finite() && *v >= 0.0));
            let mut last = 0.0;
            for p in [0.05, 0.25, 0.5, 0.8, 0.9, 0.95, 0.99] {
                let w = f.window_quantile(p);
                prop_assert!(w.is_finite() && w >= 0.0 && w + 1e-9 >= last);
                last = w;
            }
        }
    }
}

#[test]
fn every_selection_metric_scores_and_the_ensemble_averages_its_members() {
    // A noisy weekly series: several candidates are close, so the ensemble is in play.
    let y: Vec<f64> = (0..300)
        .map(|i| [5.0, 6.0, 7.0, 6.0, 5.0, 12.0, 2.0][i % 7] + ((i * 7919) % 5) as f64)
        .collect();
    let c = vec![false; 300];
    let k = cal(300, vec![]);
    let s = view(&y, &c, &k);
    for metric in [
        crate::config::SelectionMetric::Rmsse,
        crate::config::SelectionMetric::Mase,
        crate::config::SelectionMetric::Pinball,
    ] {
        let cfg = ForecastCfg {
            metric,
            ..Default::default()
        };
        let f = forecast_series(&all_models(), &s, &cfg, 28, 14);
        assert_eq!(f.class.class, DemandClass::Smooth);
        let scored: Vec<&CandidateScore> = f.scores.iter().filter(|c| c.score.is_some()).collect();
        assert!(scored.len() >= 5, "{metric:?}: {:?}", f.scores);
        assert!(scored
            .iter()
            .all(|c| c.score.unwrap().is_finite() && c.score.unwrap() >= 0.0));
        // The chosen candidate has the lowest score.
        let best = scored
            .iter()
            .min_by(|a, b| a.score.unwrap().total_cmp(&b.score.unwrap()))
            .unwrap();
        assert_eq!(best.model, f.model, "{metric:?}");
    }
}

/// Two test doubles biased in opposite directions: their mean is exact, so the ensemble
/// must win, name its members and forecast their average.
struct Constant(&'static str, f64);

impl Forecaster for Constant {
    fn name(&self) -> &'static str {
        self.0
    }
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let _ = s;
        Ok(vec![self.1; h])
    }
}

#[test]
fn ensemble_of_opposite_biases_wins_and_averages_its_members() {
    let y: Vec<f64> = (0..200)
        .map(|i| 10.0 + if i % 2 == 0 { 0.5 } else { -0.5 })
        .collect();
    let c = vec![false; 200];
    let k = cal(200, vec![]);
    let models: Vec<Box<dyn Forecaster>> = vec![
        Box::new(Constant("high", 13.0)),
        Box::new(Constant("low", 7.0)),
    ];
    let cfg = ForecastCfg {
        ensemble_k: 2,
        ..Default::default()
    };
    let f = forecast_series(&models, &view(&y, &c, &k), &cfg, 28, 14);
    assert_eq!(f.model, "ensemble");
    assert_eq!(f.members, vec!["high", "low"]);
    assert!(f.mean.iter().all(|v| (v - 10.0).abs() < 1e-12));
    let e = f.scores.iter().find(|s| s.model == "ensemble").unwrap();
    let h = f.scores.iter().find(|s| s.model == "high").unwrap();
    assert!(e.score.unwrap() < h.score.unwrap());
}

#[test]
fn dead_items_get_zero_and_no_cross_validation() {
    let mut y: Vec<f64> = (0..120).map(|i| (i % 3) as f64 + 1.0).collect();
    y.extend(std::iter::repeat_n(0.0, 200));
    let f = forecast_default(&y, 28, 14);
    assert_eq!(f.class.class, DemandClass::Dead);
    assert_eq!(f.model, "zero");
    assert!(f.mean.iter().all(|v| *v == 0.0) && f.scores.is_empty());
    assert_eq!(f.window_quantile(0.99), 0.0);
}

#[test]
fn stopped_item_is_reported_with_its_zero_run_and_lowered_forecast() {
    // Sold on every third day for 200 days, then 20 days without a sale (a chance of about
    // 1 in 3,000 at that rate): the Croston forecast is lowered and the table says why.
    let mut y: Vec<f64> = (0..200)
        .map(|i| if i % 3 == 1 { 6.0 } else { 0.0 })
        .collect();
    y.extend([0.0; 20]);
    let c = vec![false; y.len()];
    let k = cal(y.len(), vec![]);
    let only = |prior: f64| {
        let cfg = ForecastCfg {
            models: vec!["croston".into()],
            ensemble_k: 0,
            stall_prior: prior,
            ..Default::default()
        };
        forecast_series(&registry(&cfg), &view(&y, &c, &k), &cfg, 7, 7)
    };
    let (on, off) = (only(0.003), only(0.0));
    assert_eq!((on.model, off.model), ("croston", "croston"));
    assert_eq!(off.stall, None);
    let (run, p) = on.stall.unwrap();
    assert_eq!(run, 20);
    assert!(p < 0.5, "{p}");
    assert!((on.mean[0] / off.mean[0] - p).abs() < 1e-9);
    // A model that is not of the Croston family is not lowered and reports nothing.
    let cfg = ForecastCfg {
        models: vec!["tsb".into()],
        ensemble_k: 0,
        ..Default::default()
    };
    let t = forecast_series(&registry(&cfg), &view(&y, &c, &k), &cfg, 7, 7);
    assert_eq!((t.model, t.stall), ("tsb", None));
}

#[test]
fn new_item_window_adds_the_uncertainty_of_its_level() {
    // Eleven days of history, no CV origin: the window total is uncertain through the
    // daily noise and through the level estimated from those eleven days.
    let y = vec![2.0, 0.0, 5.0, 1.0, 0.0, 3.0, 4.0, 0.0, 2.0, 6.0, 1.0];
    let f = forecast_default(&y, 28, 22);
    assert_eq!(f.window_method, "negative_binomial");
    assert_eq!(f.class.trading_days, 11);
    let var = 22.0 * f.daily_mse * (1.0 + 22.0 / 11.0);
    let want = quantile::count_quantile(f.window_mean, var, 0.95);
    assert_eq!(f.window_quantile(0.95), want);
    // Three times the daily-noise variance: a wider upper tail than the noise alone.
    let noise_only = quantile::count_quantile(f.window_mean, 22.0 * f.daily_mse, 0.95);
    assert!(want > noise_only, "{want} vs {noise_only}");
}

#[test]
fn cv_half_life_lets_the_latest_origins_decide() {
    // Level 10 for most of the CV span, 16 over the last 56 days: over all 26 origins alike
    // the old level wins; with a half-life of one origin the latest origins decide.
    let n = 260;
    let y: Vec<f64> = (0..n)
        .map(|i| if i < n - 56 { 10.0 } else { 16.0 } + if i % 2 == 0 { 0.5 } else { -0.5 })
        .collect();
    let c = vec![false; n];
    let k = cal(n, vec![]);
    let models: Vec<Box<dyn Forecaster>> = vec![
        Box::new(Constant("old_level", 10.0)),
        Box::new(Constant("new_level", 16.0)),
    ];
    let pick = |half_life: f64| {
        let cfg = ForecastCfg {
            ensemble_k: 0,
            cv_half_life: half_life,
            ..Default::default()
        };
        forecast_series(&models, &view(&y, &c, &k), &cfg, 28, 14).model
    };
    assert_eq!(pick(0.0), "old_level");
    assert_eq!(pick(1.0), "new_level");
}

/// The mean of the last 28 days, flat.
struct LastMonth(&'static str);

impl Forecaster for LastMonth {
    fn name(&self) -> &'static str {
        self.0
    }
    fn predict(&self, s: &SeriesView, h: usize) -> Result<Vec<f64>, ModelError> {
        let n = s.y.len();
        let last = &s.y[n.saturating_sub(28)..];
        Ok(vec![last.iter().sum::<f64>() / last.len().max(1) as f64; h])
    }
}

#[test]
fn the_pooled_model_takes_last_years_move_where_its_cv_says_so() {
    // A 364-day season; the candidate carries the last 28 days' level forward flat (as a
    // pooled model that never saw this season does). Cross-validated times last year's move
    // it follows the season, so the moved variant is chosen, for the pooled model as for
    // any other.
    let n = 900;
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / 364.0;
            10.0 + 6.0 * t.sin() + if i % 2 == 0 { 0.5 } else { -0.5 }
        })
        .collect();
    let c = vec![false; n];
    let k = cal(n, vec![]);
    let models: Vec<Box<dyn Forecaster>> = vec![Box::new(LastMonth("global_ridge"))];
    let cfg = ForecastCfg {
        ensemble_k: 0,
        ..Default::default()
    };
    let f = forecast_series(&models, &view(&y, &c, &k), &cfg, 28, 28);
    assert_eq!(f.model, "global_ridge");
    let m = f.yearly_move.expect("the moved variant was not chosen");
    // Days 900..928 fall through the yearly mean (phase 172–200 of 364), so one year
    // earlier the same days fell against the 28 before them.
    assert!(m < 0.95, "move {m}");
    let level = y[n - 28..].iter().sum::<f64>() / 28.0;
    assert!(
        f.mean.iter().all(|v| (v - level * m).abs() < 1e-9),
        "{:?}",
        &f.mean[..3]
    );
    let off = ForecastCfg {
        yearly_move: false,
        ..cfg
    };
    assert_eq!(
        forecast_series(&models, &view(&y, &c, &k), &off, 28, 28).yearly_move,
        None
    );
}
