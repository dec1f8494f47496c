//! Rolling-origin backtest of the forecasting engine.
//!
//! At each origin the whole engine (classification, candidate CV, selection, quantiles) runs
//! on the panel cut at the origin; the next `horizon` days are scored. Metrics follow the
//! M5 competition: MASE and RMSSE scaled by the in-sample one-step naive error (trading
//! days before the origin), WRMSSE weighted by each series' revenue share over the 28 days
//! before the origin (units when there are no prices), scaled pinball loss per quantile, and
//! the coverage of the central 50/80/90 % intervals. Only open days are scored: censored
//! days have no observed demand, and closed days a forecast of zero by construction (unit
//! tests hold it to that), which would dilute every error and inflate coverage (a shop open
//! one day a week would score six exact zeros for each real forecast).
//!
//! The distribution replenishment orders from is that of *total* demand over a protection
//! window, not of single days, so the first `window` days after each origin are scored as one
//! total too: pinball loss and coverage of the window quantiles (plain and from the PIT). A
//! window with a censored day is not scored (its total is unobserved).
//!
//! The closed-day calendar is the one detected on the full history: a closure learnt later
//! is applied to earlier origins. This only matters for closures first seen in the test
//! window and is the same for every model compared.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Builder, ListBuilder, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Date32Type, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use rayon::prelude::*;
use serde::Serialize;

use crate::config::ForecastCfg;
use crate::error::{Error, InputError, OutputError, Result};
use crate::export::table::{ColData, OutTable};
use crate::forecast::quantile::{pit_above, pit_below, pit_cover};
use crate::forecast::{self, DemandClass, SeriesForecast, QUANTILES, QUANTILE_NAMES};
use crate::panel::{Panel, SeriesView};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub origins: usize,
    pub step: usize,
    pub horizon: usize,
    /// Days of the protection window scored as one total (1..=horizon).
    pub window: usize,
}

/// Scores of one series at one origin.
#[derive(Debug, Clone)]
struct Scored {
    series: usize,
    origin: usize, // index into the origins list
    class: DemandClass,
    model: &'static str,
    n: usize,
    mae: f64,
    rmse: f64,
    bias: f64,
    mase: f64,
    rmsse: f64,
    /// Scaled pinball loss per quantile.
    pinball: [f64; 7],
    /// Share of scored days inside the 50 / 80 / 90 / 95 % central intervals.
    cover: [f64; 4],
    /// The same from the probability integral transform for counts (see [`forecast::quantile::pit_cover`]).
    pit: [f64; 4],
    /// Share of the PIT below 0.1 and above 0.9: which tail the 80 % interval's misses are in.
    tails: [f64; 2],
    weight: f64,
    actual_units: f64,
    /// The protection window's total, when all its days were observed.
    win: Option<WinScore>,
}

/// Scores of the window total of one series at one origin.
#[derive(Debug, Clone, Copy)]
struct WinScore {
    actual: f64,
    mean: f64,
    /// Window quantiles at [`WIN_LEVELS`].
    q: [f64; 9],
    /// Mean pinball loss over the seven spine quantiles, per day of the window and scaled
    /// like the daily pinball (in-sample naive error), so both read on one scale.
    pinball: f64,
    cover: [f64; 4],
    pit: [f64; 4],
    /// PIT below 0.1 and above 0.9, as [`Scored::tails`].
    tails: [f64; 2],
}

/// Levels of the window quantiles written out: p025, the seven spine levels, p975.
const WIN_LEVELS: [f64; 9] = [0.025, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.975];
const WIN_NAMES: [&str; 9] = [
    "p025", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p975",
];

#[derive(Debug, Clone, Serialize, Default)]
pub struct Metrics {
    pub series: usize,
    pub days: usize,
    pub mae: f64,
    pub rmse: f64,
    pub bias: f64,
    pub mase: f64,
    pub rmsse: f64,
    pub wrmsse: f64,
    /// Mean scaled pinball loss over the seven quantiles.
    pub pinball: f64,
    pub pinball_by_quantile: BTreeMap<String, f64>,
    pub coverage_50: f64,
    pub coverage_80: f64,
    pub coverage_90: f64,
    pub coverage_95: f64,
    /// Coverage for count data: expected share of the PIT in the central interval, with the
    /// PIT of a count y uniform on [F(y−1), F(y)] (Czado, Gneiting & Held 2009). Equal to the
    /// nominal level for a calibrated forecast, where the plain coverage of integer outcomes
    /// is above it (a zero sits inside every interval whose lower end is 0).
    pub pit_coverage_50: f64,
    pub pit_coverage_80: f64,
    pub pit_coverage_90: f64,
    pub pit_coverage_95: f64,
    /// Share of the PIT below 0.1 and above 0.9 (10 % each when calibrated): a miss of the
    /// 80 % interval that sits in one tail is a level error, one split evenly a width error.
    pub pit_below_10: f64,
    pub pit_above_90: f64,
    /// Protection-window totals scored (series × origins whose window was fully observed).
    pub windows: usize,
    /// Mean scaled pinball loss of the window quantiles (per window day, see [`WinScore`]).
    pub window_pinball: f64,
    /// Share of window totals inside the central 50/80/90/95 % window intervals.
    pub window_coverage_50: f64,
    pub window_coverage_80: f64,
    pub window_coverage_90: f64,
    pub window_coverage_95: f64,
    /// The same from the randomised PIT of the window total.
    pub window_pit_coverage_50: f64,
    pub window_pit_coverage_80: f64,
    pub window_pit_coverage_90: f64,
    pub window_pit_coverage_95: f64,
    /// The window totals' PIT below 0.1 and above 0.9.
    pub window_pit_below_10: f64,
    pub window_pit_above_90: f64,
}

/// Calibration at one origin. Every series' holdout after one origin shares one season and
/// the shocks that hit the whole shop, so coverage moves together across series: the spread
/// between origins, not the number of series, says how far a pooled coverage can fall from
/// nominal by chance.
#[derive(Debug, Clone, Serialize)]
pub struct OriginCalibration {
    pub origin: String,
    pub series: usize,
    pub rmsse: f64,
    pub bias: f64,
    pub pit_coverage_80: f64,
    pub pit_coverage_95: f64,
    pub pit_below_10: f64,
    pub pit_above_90: f64,
    pub windows: usize,
    pub window_pit_coverage_80: f64,
    pub window_pit_coverage_95: f64,
    pub window_pit_below_10: f64,
    pub window_pit_above_90: f64,
}

/// Mean and standard error over origins (sample sd / √origins) of the per-origin coverages.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub mean: f64,
    pub se: f64,
}

/// The per-origin coverages summarised across origins (two or more origins; a window
/// entry needs two origins with scored windows).
#[derive(Debug, Clone, Serialize)]
pub struct AcrossOrigins {
    pub pit_coverage_80: Spread,
    pub pit_coverage_95: Spread,
    pub window_pit_coverage_80: Option<Spread>,
    pub window_pit_coverage_95: Option<Spread>,
}

impl Spread {
    /// None for fewer than two values (no spread to measure).
    fn of(v: impl Iterator<Item = f64>) -> Option<Spread> {
        let v: Vec<f64> = v.collect();
        let k = v.len();
        if k < 2 {
            return None;
        }
        let mean = v.iter().sum::<f64>() / k as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1) as f64;
        Some(Spread {
            mean,
            se: (var / k as f64).sqrt(),
        })
    }
}

impl AcrossOrigins {
    fn of(rows: &[OriginCalibration]) -> Option<AcrossOrigins> {
        // An origin whose window ran past the data scored none and adds no window spread.
        let win = |f: fn(&OriginCalibration) -> f64| {
            Spread::of(rows.iter().filter(|r| r.windows > 0).map(f))
        };
        Some(AcrossOrigins {
            pit_coverage_80: Spread::of(rows.iter().map(|r| r.pit_coverage_80))?,
            pit_coverage_95: Spread::of(rows.iter().map(|r| r.pit_coverage_95))?,
            window_pit_coverage_80: win(|r| r.window_pit_coverage_80),
            window_pit_coverage_95: win(|r| r.window_pit_coverage_95),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub origins: Vec<String>,
    pub horizon: usize,
    /// Days of the protection window scored as one total.
    pub window_days: usize,
    pub overall: Metrics,
    pub by_class: BTreeMap<String, Metrics>,
    /// Calibration origin by origin, and across them (None with one origin).
    pub by_origin: Vec<OriginCalibration>,
    pub across_origins: Option<AcrossOrigins>,
    pub models_chosen: BTreeMap<String, usize>,
    /// The selection prior learnt at each origin (empty: `selection_prior = false`).
    pub selection_prior: Vec<OriginPrior>,
    pub forecast_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OriginPrior {
    pub origin: String,
    pub classes: Vec<forecast::select::ClassPrior>,
    /// Protection-window recalibration per class (README "Window recalibration").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub window_recalibration: Vec<forecast::select::WindowRecal>,
    /// Each `calendar.events` kind's shop-wide lift at this origin (README "Shop events";
    /// None: not measured).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shop_events: Vec<(String, Option<f64>)>,
    /// How a promotion's lift moves with the share of rivals on promotion at this origin
    /// (README "Promotions for the per-series models"; None: not measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rival_slope: Option<f64>,
}

impl Summary {
    pub fn render(&self) -> String {
        let mut s = format!(
            "forecast backtest: {} origins ({}), horizon {} days, {:.1} s forecasting\n\n",
            self.origins.len(),
            self.origins.join(", "),
            self.horizon,
            self.forecast_seconds
        );
        s += &format!(
            "{:14} {:>7} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8} {}\n",
            "class",
            "series",
            "MAE",
            "RMSE",
            "bias",
            "MASE",
            "RMSSE",
            "WRMSSE",
            "pinball",
            cover_header()
        );
        let mut row = |name: &str, m: &Metrics| {
            s += &format!(
                "{:14} {:>7} {:>8.3} {:>8.3} {:>8.3} {:>7.3} {:>7.3} {:>7.3} {:>8.4} {}\n",
                name,
                m.series,
                m.mae,
                m.rmse,
                m.bias,
                m.mase,
                m.rmsse,
                m.wrmsse,
                m.pinball,
                cover_cells(
                    [m.coverage_50, m.coverage_80, m.coverage_90, m.coverage_95],
                    [
                        m.pit_coverage_50,
                        m.pit_coverage_80,
                        m.pit_coverage_90,
                        m.pit_coverage_95
                    ]
                )
            );
        };
        for (c, m) in &self.by_class {
            row(c, m);
        }
        row("all", &self.overall);
        s += "\ncN: share of days inside the central N % interval; pitN: the same for counts, \
              from the randomised PIT (nominal N % when calibrated)\n";
        s += &format!(
            "\ntotal demand over the first {} days after each origin (the protection window \
             the order-up-to level reads its quantile from):\n{:14} {:>7} {:>8} {}\n",
            self.window_days,
            "class",
            "windows",
            "pinball",
            cover_header()
        );
        let mut wrow = |name: &str, m: &Metrics| {
            s += &format!(
                "{:14} {:>7} {:>8.4} {}\n",
                name,
                m.windows,
                m.window_pinball,
                cover_cells(
                    [
                        m.window_coverage_50,
                        m.window_coverage_80,
                        m.window_coverage_90,
                        m.window_coverage_95
                    ],
                    [
                        m.window_pit_coverage_50,
                        m.window_pit_coverage_80,
                        m.window_pit_coverage_90,
                        m.window_pit_coverage_95
                    ]
                )
            );
        };
        for (c, m) in &self.by_class {
            wrow(c, m);
        }
        wrow("all", &self.overall);
        s += &self.render_origins();
        s += "\nmodels chosen: ";
        let v: Vec<String> = self
            .models_chosen
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        s += &v.join(", ");
        s.push('\n');
        for o in &self.selection_prior {
            s += &format!(
                "\nselection prior at origin {}: weight of a series' own CV scores, and the \
                 models its class favours (CV score relative to a typical candidate)\n",
                o.origin
            );
            for c in &o.classes {
                let mut fav: Vec<(&str, f64)> = c.effects.clone();
                fav.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
                let fav: Vec<String> = fav
                    .iter()
                    .take(3)
                    .map(|(m, e)| format!("{m} {:.3}", e.exp()))
                    .collect();
                s += &format!(
                    "  {:14} {:>4} series  weight {:.2}  {}\n",
                    c.class.as_str(),
                    c.series,
                    c.reliability,
                    fav.join(", ")
                );
            }
            if !o.shop_events.is_empty() {
                let v: Vec<String> = o
                    .shop_events
                    .iter()
                    .map(|(k, l)| match l {
                        Some(l) => format!("{k} {l:.3}"),
                        None => format!("{k} -"),
                    })
                    .collect();
                s += &format!(
                    "  shop events, shop-wide lift on their days (-: none measured): {}\n",
                    v.join(", ")
                );
            }
            if let Some(r) = o.rival_slope {
                s += &format!(
                    "  promotions: rivals' slope {r:.3} (a promotion's excess × (1 + slope × (rivals' share − the series' mean share)))\n"
                );
            }
            if !o.window_recalibration.is_empty() {
                s += "  protection-window levels read for nominal 10 / 90 / 95 % (recalibrated \
                      from held-out CV blocks; carried: share of the learnt move applied):\n";
            }
            for w in &o.window_recalibration {
                let at = |p: f64| 100.0 * forecast::select::recal_level(&w.levels, p);
                s += &format!(
                    "  {:14} {:>5} windows  carried {:.1}  {:.1} / {:.1} / {:.1}\n",
                    w.class.as_str(),
                    w.windows,
                    w.carried,
                    at(0.1),
                    at(0.9),
                    at(0.95)
                );
            }
        }
        s
    }
}

impl Summary {
    /// The calibration-by-origin table and its spread across origins.
    fn render_origins(&self) -> String {
        let mut s = format!(
            "\ncalibration by origin (daily PIT, then the {}-day window's; lo10 / hi90: share of \
             the PIT below 0.1 / above 0.9, 10 % each when calibrated):\n{:10} {:>7} {:>7} {:>8} \
             {:>6} {:>6} {:>6} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6}\n",
            self.window_days,
            "origin",
            "series",
            "RMSSE",
            "bias",
            "pit80",
            "pit95",
            "lo10",
            "hi90",
            "windows",
            "win80",
            "win95",
            "lo10",
            "hi90"
        );
        let pct = |v: f64| format!("{:>6.1}", 100.0 * v);
        for o in &self.by_origin {
            s += &format!(
                "{:10} {:>7} {:>7.4} {:>8.3} {} {} {} {} {:>7} {} {} {} {}\n",
                o.origin,
                o.series,
                o.rmsse,
                o.bias,
                pct(o.pit_coverage_80),
                pct(o.pit_coverage_95),
                pct(o.pit_below_10),
                pct(o.pit_above_90),
                o.windows,
                pct(o.window_pit_coverage_80),
                pct(o.window_pit_coverage_95),
                pct(o.window_pit_below_10),
                pct(o.window_pit_above_90)
            );
        }
        if let Some(a) = &self.across_origins {
            let pm = |x: Option<&Spread>| {
                x.map_or("-".to_string(), |x| {
                    format!("{:.1} ± {:.1}", 100.0 * x.mean, 100.0 * x.se)
                })
            };
            s += &format!(
                "across origins, mean ± standard error (from the origins' spread: how far a \
                 pooled coverage can miss nominal by chance): pit80 {}, pit95 {}, window pit80 \
                 {}, window pit95 {}\n",
                pm(Some(&a.pit_coverage_80)),
                pm(Some(&a.pit_coverage_95)),
                pm(a.window_pit_coverage_80.as_ref()),
                pm(a.window_pit_coverage_95.as_ref())
            );
        }
        s
    }
}

/// Column heads of the coverage cells (plain, then from the PIT) in both summary tables.
fn cover_header() -> String {
    format!(
        "{:>6} {:>6} {:>6} {:>6}   {:>6} {:>6} {:>6} {:>6}",
        "c50", "c80", "c90", "c95", "pit50", "pit80", "pit90", "pit95"
    )
}

/// Coverage at 50/80/90/95 %, plain and from the PIT, as percentages under [`cover_header`].
fn cover_cells(plain: [f64; 4], pit: [f64; 4]) -> String {
    let pct = |v: [f64; 4]| v.map(|x| format!("{:>5.1}%", 100.0 * x)).join(" ");
    format!("{}   {}", pct(plain), pct(pit))
}

pub struct Outcome {
    pub summary: Summary,
    /// One row per series and origin.
    pub series: OutTable,
    /// One row per series, origin and horizon day: actual, mean, quantiles (for peers).
    pub points: OutTable,
}

fn score(view: &SeriesView, n_train: usize, f: &SeriesForecast, h: usize) -> Option<Errs> {
    // The same M5 scales the engine selects with: one-step naive error before the origin.
    let (scale_a, scale_q) = forecast::scales(view, n_train);
    let (mut n, mut ae, mut se, mut e, mut units) = (0usize, 0.0, 0.0, 0.0, 0.0);
    let mut pb = [0.0; 7];
    let mut cov = [0.0; 4];
    let mut pit = [0.0; 4];
    let mut tails = [0.0; 2];
    for j in 0..h {
        let t = n_train + j;
        // Censored days have no observed demand; on closed days the forecast is 0 by
        // construction, and scoring them would dilute every error and inflate coverage.
        if t >= view.y.len() || !view.usable(t) {
            continue;
        }
        let y = view.y[t];
        let m = f.mean[j];
        let q = f.quantiles[j];
        n += 1;
        units += y;
        ae += (y - m).abs();
        se += (y - m) * (y - m);
        e += m - y;
        for (i, p) in QUANTILES.iter().enumerate() {
            pb[i] += forecast::pinball(y, q[i], *p);
        }
        // p25–p75, p10–p90, p05–p95, p025–p975
        let bounds = [
            (q[2], q[4]),
            (q[1], q[5]),
            (q[0], q[6]),
            (f.daily_quantile(j, 0.025), f.daily_quantile(j, 0.975)),
        ];
        let (f_lo, f_hi) = (f.daily_cdf(j, y - 1.0), f.daily_cdf(j, y));
        for (c, (lo, hi)) in bounds.iter().enumerate() {
            if y >= lo - 1e-9 && y <= hi + 1e-9 {
                cov[c] += 1.0;
            }
            pit[c] += pit_cover(f_lo, f_hi, LEVELS[c]);
        }
        for (acc, v) in tails.iter_mut().zip(pit_tails(f_lo, f_hi)) {
            *acc += v;
        }
    }
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    for v in pb.iter_mut() {
        *v /= nf * scale_a;
    }
    for v in cov.iter_mut().chain(pit.iter_mut()).chain(tails.iter_mut()) {
        *v /= nf;
    }
    Some(Errs {
        n,
        mae: ae / nf,
        rmse: (se / nf).sqrt(),
        bias: e / nf,
        mase: ae / nf / scale_a,
        rmsse: (se / nf / scale_q).sqrt(),
        pinball: pb,
        cover: cov,
        pit,
        tails,
        units,
    })
}

/// The PIT's share below 0.1 and above 0.9 (the two ways out of the 80 % interval).
fn pit_tails(f_lo: f64, f_hi: f64) -> [f64; 2] {
    [pit_below(f_lo, f_hi, 0.1), pit_above(f_lo, f_hi, 0.9)]
}

/// Central interval levels scored.
const LEVELS: [f64; 4] = [0.5, 0.8, 0.9, 0.95];

/// The window total after the origin against the forecast's window distribution; None when
/// the window runs past the data or holds a censored day.
fn score_window(
    view: &SeriesView,
    n_train: usize,
    f: &SeriesForecast,
    window: usize,
) -> Option<WinScore> {
    let days = n_train..n_train + window;
    if window == 0 || days.end > view.y.len() || days.clone().any(|t| view.censored[t]) {
        return None;
    }
    let actual: f64 = view.y[days].iter().sum();
    let q = WIN_LEVELS.map(|p| f.window_quantile(p));
    let (scale_a, _) = forecast::scales(view, n_train);
    let pinball = QUANTILES
        .iter()
        .enumerate()
        .map(|(i, p)| forecast::pinball(actual, q[i + 1], *p))
        .sum::<f64>()
        / (QUANTILES.len() as f64 * window as f64 * scale_a);
    // p25–p75, p10–p90, p05–p95, p025–p975
    let bounds = [(q[3], q[5]), (q[2], q[6]), (q[1], q[7]), (q[0], q[8])];
    let (f_lo, f_hi) = (f.window_cdf(actual - 1.0), f.window_cdf(actual));
    let mut cover = [0.0; 4];
    let mut pit = [0.0; 4];
    for (c, (lo, hi)) in bounds.iter().enumerate() {
        if actual >= lo - 1e-9 && actual <= hi + 1e-9 {
            cover[c] = 1.0;
        }
        pit[c] = pit_cover(f_lo, f_hi, LEVELS[c]);
    }
    Some(WinScore {
        actual,
        mean: f.window_mean,
        q,
        pinball,
        cover,
        pit,
        tails: pit_tails(f_lo, f_hi),
    })
}

struct Errs {
    n: usize,
    mae: f64,
    rmse: f64,
    bias: f64,
    mase: f64,
    rmsse: f64,
    pinball: [f64; 7],
    cover: [f64; 4],
    pit: [f64; 4],
    tails: [f64; 2],
    units: f64,
}

/// One day after an origin: (series, origin index, horizon day, actual, day kind (0 open,
/// 1 closed, 2 censored; only open days are scored), mean, quantiles, model, p025 and p975).
type Point = (
    usize,
    usize,
    usize,
    f64,
    u8,
    f64,
    [f64; 7],
    &'static str,
    [f64; 2],
);

/// Runs the backtest on a panel. `names(i)` gives (sku, location); `price(i)` the unit
/// price used for WRMSSE weights (None: weights by units).
pub fn run(
    panel: &Panel,
    cfg: &ForecastCfg,
    o: &Options,
    names: &(dyn Fn(usize) -> (String, String) + Sync),
    price: &(dyn Fn(usize) -> Option<f64> + Sync),
) -> Result<Outcome> {
    let as_of = panel.as_of;
    let origins: Vec<i32> = (0..o.origins)
        .map(|k| as_of - o.horizon as i32 - (k * o.step) as i32)
        .rev()
        .collect();
    let mut all: Vec<Scored> = Vec::new();
    let mut points: Vec<Point> = Vec::new();
    let mut priors: Vec<OriginPrior> = Vec::new();
    let t0 = std::time::Instant::now();
    for (oi, &od) in origins.iter().enumerate() {
        // Everything, the pooled model included, sees only days up to the origin.
        let n_obs = |i: usize| (od - panel.series[i].start + 1).max(0) as usize;
        let models = forecast::registry_for(panel, cfg, o.horizon, &n_obs);
        let idx: Vec<usize> = (0..panel.series.len()).collect();
        let (prior, cached) =
            forecast::prior_for(&models, panel, cfg, o.horizon, &n_obs, &|_| o.horizon, &idx);
        let res: Vec<Option<(Scored, SeriesForecast, usize)>> = idx
            .into_par_iter()
            .zip(cached.into_par_iter())
            .map(|(i, cached)| {
                let meta = &panel.series[i];
                if meta.start > od {
                    return None; // not yet listed at this origin
                }
                let view = panel.view(i);
                let n_train = (od - meta.start + 1) as usize;
                let f = forecast::forecast_series_with(
                    &models,
                    prior.as_ref(),
                    cached,
                    &view.truncate(n_train),
                    cfg,
                    o.horizon,
                    o.window,
                );
                // Weight: revenue (or units) of the 28 days before the origin.
                let from = n_train.saturating_sub(28);
                let units: f64 = view.y[from..n_train].iter().sum();
                let weight = units * price(i).unwrap_or(1.0);
                let e = score(&view, n_train, &f, o.horizon)?;
                let win = score_window(&view, n_train, &f, o.window);
                Some((
                    Scored {
                        series: i,
                        origin: oi,
                        class: f.class.class,
                        model: f.model,
                        n: e.n,
                        mae: e.mae,
                        rmse: e.rmse,
                        bias: e.bias,
                        mase: e.mase,
                        rmsse: e.rmsse,
                        pinball: e.pinball,
                        cover: e.cover,
                        pit: e.pit,
                        tails: e.tails,
                        weight,
                        actual_units: e.units,
                        win,
                    },
                    f,
                    n_train,
                ))
            })
            .collect();
        if let Some(p) = prior {
            priors.push(OriginPrior {
                origin: crate::panel::to_date(od).to_string(),
                classes: p.classes,
                window_recalibration: p.windows,
                shop_events: {
                    let lifts = forecast::promo::event_prior(&models);
                    let lift = |k: usize| lifts.and_then(|l| l.get(k).copied().flatten());
                    (panel.calendar.events.iter().enumerate())
                        .map(|(k, (kind, _))| (kind.clone(), lift(k)))
                        .collect()
                },
                rival_slope: forecast::promo::rival_prior(&models),
            });
        }
        for (sc, f, n_train) in res.into_iter().flatten() {
            let view = panel.view(sc.series);
            for j in 0..o.horizon {
                let t = n_train + j;
                if t >= view.y.len() {
                    break;
                }
                points.push((
                    sc.series,
                    oi,
                    j,
                    view.y[t],
                    if view.censored[t] {
                        2
                    } else {
                        u8::from(view.closed(t))
                    },
                    f.mean[j],
                    f.quantiles[j],
                    f.model,
                    [f.daily_quantile(j, 0.025), f.daily_quantile(j, 0.975)],
                ));
            }
            all.push(sc);
        }
    }
    let secs = t0.elapsed().as_secs_f64();

    // Normalise weights per origin (M5: weights sum to one at each evaluation).
    let mut wsum = vec![0.0; origins.len()];
    for s in &all {
        wsum[s.origin] += s.weight;
    }
    let w = |s: &Scored| {
        if wsum[s.origin] > 0.0 {
            s.weight / wsum[s.origin]
        } else {
            0.0
        }
    };
    let aggregate = |rows: &[&Scored]| -> Metrics {
        let k = rows.len().max(1) as f64;
        let days: usize = rows.iter().map(|r| r.n).sum();
        let dn = days.max(1) as f64;
        let mut m = Metrics {
            series: rows
                .iter()
                .map(|r| r.series)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            days,
            ..Default::default()
        };
        // Day-weighted errors; series-averaged scaled metrics (as M5).
        m.mae = rows.iter().map(|r| r.mae * r.n as f64).sum::<f64>() / dn;
        m.rmse = (rows
            .iter()
            .map(|r| r.rmse * r.rmse * r.n as f64)
            .sum::<f64>()
            / dn)
            .sqrt();
        m.bias = rows.iter().map(|r| r.bias * r.n as f64).sum::<f64>() / dn;
        m.mase = rows.iter().map(|r| r.mase).sum::<f64>() / k;
        m.rmsse = rows.iter().map(|r| r.rmsse).sum::<f64>() / k;
        let wt: f64 = rows.iter().map(|r| w(r)).sum();
        m.wrmsse = if wt > 0.0 {
            rows.iter().map(|r| w(r) * r.rmsse).sum::<f64>() / wt
        } else {
            f64::NAN
        };
        let mut pin = 0.0;
        for (qi, name) in QUANTILE_NAMES.iter().enumerate() {
            let v = rows.iter().map(|r| r.pinball[qi]).sum::<f64>() / k;
            m.pinball_by_quantile.insert(name.to_string(), v);
            pin += v;
        }
        m.pinball = pin / QUANTILES.len() as f64;
        let cov = |c: usize| rows.iter().map(|r| r.cover[c] * r.n as f64).sum::<f64>() / dn;
        m.coverage_50 = cov(0);
        m.coverage_80 = cov(1);
        m.coverage_90 = cov(2);
        m.coverage_95 = cov(3);
        let pit = |c: usize| rows.iter().map(|r| r.pit[c] * r.n as f64).sum::<f64>() / dn;
        m.pit_coverage_50 = pit(0);
        m.pit_coverage_80 = pit(1);
        m.pit_coverage_90 = pit(2);
        m.pit_coverage_95 = pit(3);
        let tail = |c: usize| rows.iter().map(|r| r.tails[c] * r.n as f64).sum::<f64>() / dn;
        m.pit_below_10 = tail(0);
        m.pit_above_90 = tail(1);
        let wins: Vec<&WinScore> = rows.iter().filter_map(|r| r.win.as_ref()).collect();
        m.windows = wins.len();
        if !wins.is_empty() {
            let k = wins.len() as f64;
            m.window_pinball = wins.iter().map(|w| w.pinball).sum::<f64>() / k;
            let wc = |c: usize| wins.iter().map(|w| w.cover[c]).sum::<f64>() / k;
            let wp = |c: usize| wins.iter().map(|w| w.pit[c]).sum::<f64>() / k;
            m.window_coverage_50 = wc(0);
            m.window_coverage_80 = wc(1);
            m.window_coverage_90 = wc(2);
            m.window_coverage_95 = wc(3);
            m.window_pit_coverage_50 = wp(0);
            m.window_pit_coverage_80 = wp(1);
            m.window_pit_coverage_90 = wp(2);
            m.window_pit_coverage_95 = wp(3);
            m.window_pit_below_10 = wins.iter().map(|w| w.tails[0]).sum::<f64>() / k;
            m.window_pit_above_90 = wins.iter().map(|w| w.tails[1]).sum::<f64>() / k;
        }
        m
    };
    let refs: Vec<&Scored> = all.iter().collect();
    let overall = aggregate(&refs);
    let mut by_class = BTreeMap::new();
    for c in DemandClass::ALL {
        let rows: Vec<&Scored> = all.iter().filter(|r| r.class == c).collect();
        if !rows.is_empty() {
            by_class.insert(c.as_str().to_string(), aggregate(&rows));
        }
    }
    let by_origin: Vec<OriginCalibration> = origins
        .iter()
        .enumerate()
        .map(|(oi, &od)| {
            let rows: Vec<&Scored> = all.iter().filter(|r| r.origin == oi).collect();
            let m = aggregate(&rows);
            OriginCalibration {
                origin: crate::panel::to_date(od).to_string(),
                series: m.series,
                rmsse: m.rmsse,
                bias: m.bias,
                pit_coverage_80: m.pit_coverage_80,
                pit_coverage_95: m.pit_coverage_95,
                pit_below_10: m.pit_below_10,
                pit_above_90: m.pit_above_90,
                windows: m.windows,
                window_pit_coverage_80: m.window_pit_coverage_80,
                window_pit_coverage_95: m.window_pit_coverage_95,
                window_pit_below_10: m.window_pit_below_10,
                window_pit_above_90: m.window_pit_above_90,
            }
        })
        .collect();
    let across_origins = AcrossOrigins::of(&by_origin);
    let mut models_chosen = BTreeMap::new();
    for r in &all {
        *models_chosen.entry(r.model.to_string()).or_insert(0) += 1;
    }
    let summary = Summary {
        origins: origins
            .iter()
            .map(|d| crate::panel::to_date(*d).to_string())
            .collect(),
        horizon: o.horizon,
        window_days: o.window,
        overall,
        by_class,
        by_origin,
        across_origins,
        models_chosen,
        selection_prior: priors,
        forecast_seconds: secs,
    };

    let mut st = OutTable::default();
    let names_of: Vec<(String, String)> = all.iter().map(|r| names(r.series)).collect();
    let s = |v: Vec<String>| ColData::Str(v.into_iter().map(Some).collect());
    let fcol = |f: &dyn Fn(&Scored) -> f64| ColData::F64(all.iter().map(|r| Some(f(r))).collect());
    st.push("sku", s(names_of.iter().map(|n| n.0.clone()).collect()))
        .push(
            "location",
            s(names_of.iter().map(|n| n.1.clone()).collect()),
        )
        .push(
            "origin",
            ColData::Date(all.iter().map(|r| Some(origins[r.origin])).collect()),
        )
        .push(
            "class",
            s(all.iter().map(|r| r.class.as_str().to_string()).collect()),
        )
        .push(
            "model",
            s(all.iter().map(|r| r.model.to_string()).collect()),
        )
        .push(
            "days_scored",
            ColData::I64(all.iter().map(|r| Some(r.n as i64)).collect()),
        )
        .push("actual_units", fcol(&|r| r.actual_units))
        .push("mae", fcol(&|r| r.mae))
        .push("rmse", fcol(&|r| r.rmse))
        .push("bias", fcol(&|r| r.bias))
        .push("mase", fcol(&|r| r.mase))
        .push("rmsse", fcol(&|r| r.rmsse))
        .push("weight", fcol(&|r| w(r)));
    for (qi, name) in QUANTILE_NAMES.iter().enumerate() {
        st.push(format!("pinball_{name}"), fcol(&|r| r.pinball[qi]));
    }
    st.push("coverage_50", fcol(&|r| r.cover[0]))
        .push("coverage_80", fcol(&|r| r.cover[1]))
        .push("coverage_90", fcol(&|r| r.cover[2]))
        .push("coverage_95", fcol(&|r| r.cover[3]))
        .push("pit_coverage_50", fcol(&|r| r.pit[0]))
        .push("pit_coverage_80", fcol(&|r| r.pit[1]))
        .push("pit_coverage_90", fcol(&|r| r.pit[2]))
        .push("pit_coverage_95", fcol(&|r| r.pit[3]))
        .push("pit_below_10", fcol(&|r| r.tails[0]))
        .push("pit_above_90", fcol(&|r| r.tails[1]));
    // Window columns: empty where the window was not fully observed.
    let wcol = |f: &dyn Fn(&WinScore) -> f64| {
        ColData::F64(all.iter().map(|r| r.win.as_ref().map(f)).collect())
    };
    st.push("window_actual", wcol(&|w| w.actual))
        .push("window_mean", wcol(&|w| w.mean));
    for (qi, name) in WIN_NAMES.iter().enumerate() {
        st.push(format!("window_{name}"), wcol(&|w| w.q[qi]));
    }
    st.push("window_pinball", wcol(&|w| w.pinball));
    for (c, lv) in ["50", "80", "90", "95"].iter().enumerate() {
        st.push(format!("window_coverage_{lv}"), wcol(&|w| w.cover[c]));
    }
    for (c, lv) in ["50", "80", "90", "95"].iter().enumerate() {
        st.push(format!("window_pit_coverage_{lv}"), wcol(&|w| w.pit[c]));
    }
    st.push("window_pit_below_10", wcol(&|w| w.tails[0]))
        .push("window_pit_above_90", wcol(&|w| w.tails[1]));

    let mut pt = OutTable::default();
    let pn: Vec<(String, String)> = points.iter().map(|p| names(p.0)).collect();
    pt.push(
        "unique_id",
        s(pn.iter().map(|n| format!("{}|{}", n.0, n.1)).collect()),
    )
    .push(
        "origin",
        ColData::Date(points.iter().map(|p| Some(origins[p.1])).collect()),
    )
    .push(
        "date",
        ColData::Date(
            points
                .iter()
                .map(|p| Some(origins[p.1] + 1 + p.2 as i32))
                .collect(),
        ),
    )
    .push(
        "actual",
        ColData::F64(points.iter().map(|p| Some(p.3)).collect()),
    )
    .push(
        "censored",
        ColData::I64(points.iter().map(|p| Some(i64::from(p.4 == 2))).collect()),
    )
    .push(
        "closed",
        ColData::I64(points.iter().map(|p| Some(i64::from(p.4 == 1))).collect()),
    )
    .push("model", s(points.iter().map(|p| p.7.to_string()).collect()))
    .push(
        "mean",
        ColData::F64(points.iter().map(|p| Some(p.5)).collect()),
    );
    for (qi, name) in QUANTILE_NAMES.iter().enumerate() {
        pt.push(
            *name,
            ColData::F64(points.iter().map(|p| Some(p.6[qi])).collect()),
        );
    }
    pt.push(
        "p025",
        ColData::F64(points.iter().map(|p| Some(p.8[0])).collect()),
    )
    .push(
        "p975",
        ColData::F64(points.iter().map(|p| Some(p.8[1])).collect()),
    );
    Ok(Outcome {
        summary,
        series: st,
        points: pt,
    })
}

/// Writes the panel as restock's plain-panel Parquet: one row per series with
/// `unique_id` ("sku|location"), `start` (date of the first value) and `y` (list of daily
/// values up to as-of), `day_kind` (0 open, 1 closed, 2 censored) and, where the input had
/// prices, `price` (the day's mean paid price, null on days without a priced sale). Peers
/// read it to forecast the same series.
pub fn export_panel(
    panel: &Panel,
    names: &dyn Fn(usize) -> (String, String),
    path: &Path,
) -> std::result::Result<(), OutputError> {
    let n = panel.series.len();
    let ids: Vec<String> = (0..n)
        .map(|i| {
            let (a, b) = names(i);
            format!("{a}|{b}")
        })
        .collect();
    let starts: Vec<i32> = panel.series.iter().map(|s| s.start).collect();
    let mut yb = ListBuilder::new(Float64Builder::new());
    let mut cb = ListBuilder::new(Float64Builder::new());
    let mut pb = ListBuilder::new(Float64Builder::new());
    for i in 0..n {
        let v = panel.view(i);
        if let Some(p) = v.prices {
            for x in p {
                pb.values()
                    .append_option(x.is_finite().then_some(f64::from(*x)));
            }
            pb.append(true);
        }
        for (t, y) in v.y.iter().enumerate() {
            yb.values().append_value(*y);
            // 0 open, 1 closed (no trading), 2 censored (empty shelf).
            let code = if v.closed(t) {
                1.0
            } else if v.censored[t] {
                2.0
            } else {
                0.0
            };
            cb.values().append_value(code);
        }
        yb.append(true);
        cb.append(true);
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ids)),
        Arc::new(Date32Array::from(starts)),
        Arc::new(yb.finish()),
        Arc::new(cb.finish()),
    ];
    let item = |nm: &str| {
        Field::new(
            nm,
            DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
            false,
        )
    };
    let mut fields = vec![
        Field::new("unique_id", DataType::Utf8, false),
        Field::new("start", DataType::Date32, false),
        item("y"),
        item("day_kind"),
    ];
    if panel.has_prices() {
        cols.push(Arc::new(pb.finish()));
        fields.push(item("price"));
    }
    let schema = Arc::new(Schema::new(fields));
    let enc = |e: String| OutputError::Encode {
        path: path.to_path_buf(),
        detail: e,
    };
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| enc(e.to_string()))?;
    let f = File::create(path).map_err(|source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut w = ArrowWriter::try_new(f, schema, None).map_err(|e| enc(e.to_string()))?;
    w.write(&batch).map_err(|e| enc(e.to_string()))?;
    w.close().map_err(|e| enc(e.to_string()))?;
    Ok(())
}

/// Reads a plain panel (see [`export_panel`]; `day_kind` and `price` optional): every day
/// open unless marked, nothing censored unless marked, prices unknown unless given.
/// Returns the panel and the series ids.
pub fn read_panel(path: &Path) -> Result<(Panel, Vec<String>)> {
    let bad = |detail: String| {
        Error::Input(InputError::Other {
            input: "panel",
            path: path.to_path_buf(),
            detail,
        })
    };
    let f = File::open(path).map_err(|source| {
        Error::Input(InputError::Io {
            input: "panel",
            path: path.to_path_buf(),
            source,
        })
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .and_then(|b| b.build())
        .map_err(|e| {
            Error::Input(InputError::NotParquet {
                input: "panel",
                path: path.to_path_buf(),
                detail: e.to_string(),
            })
        })?;
    let mut ids = Vec::new();
    let mut series: Vec<crate::panel::PlainSeries> = Vec::new();
    // Optional `price` lists: the day's mean paid price, null where unknown.
    let mut prices: Vec<Vec<f32>> = Vec::new();
    let mut priced = None;
    for batch in reader {
        let b = batch.map_err(|e| bad(e.to_string()))?;
        let col = |n: &str| {
            b.column_by_name(n)
                .cloned()
                .ok_or_else(|| bad(format!("column '{n}' missing (need unique_id, start, y)")))
        };
        let id = col("unique_id")?;
        let id = id
            .as_string_opt::<i32>()
            .ok_or_else(|| bad("unique_id must be text".into()))?
            .clone();
        let st = col("start")?;
        let st = st
            .as_primitive_opt::<Date32Type>()
            .ok_or_else(|| bad("start must be a date".into()))?
            .clone();
        let y = col("y")?;
        let y = y
            .as_list_opt::<i32>()
            .ok_or_else(|| bad("y must be a list of numbers".into()))?
            .clone();
        let kinds = b
            .column_by_name("day_kind")
            .and_then(|c| c.as_list_opt::<i32>().cloned());
        let price = match b.column_by_name("price") {
            Some(c) => Some(
                c.as_list_opt::<i32>()
                    .ok_or_else(|| bad("price must be a list of numbers".into()))?
                    .clone(),
            ),
            None => None,
        };
        if *priced.get_or_insert(price.is_some()) != price.is_some() {
            return Err(bad(
                "the price column is in some row groups and not in others".into(),
            ));
        }
        // Row `r` of a list column as numbers; `len`: the length it must have (that of y).
        let numbers = |list: &arrow::array::ListArray,
                       r: usize,
                       row: usize,
                       name: &str,
                       len: Option<usize>|
         -> Result<arrow::array::Float64Array> {
            let x = arrow::compute::cast(&list.value(r), &DataType::Float64)
                .map_err(|e| bad(format!("row {row}: {name}: {e}")))?;
            let x = x.as_primitive::<arrow::datatypes::Float64Type>().clone();
            if len.is_some_and(|l| l != x.len()) {
                return Err(bad(format!("row {row}: {name} and y differ in length")));
            }
            Ok(x)
        };
        for r in 0..b.num_rows() {
            let row = ids.len() + 1;
            if id.is_null(r) || st.is_null(r) || y.is_null(r) {
                return Err(bad(format!(
                    "row {row}: unique_id, start and y must be set"
                )));
            }
            let vals = numbers(&y, r, row, "y", None)?;
            let mut v = Vec::with_capacity(vals.len());
            for x in vals.iter() {
                match x {
                    Some(x) if x.is_finite() && x >= 0.0 => v.push(x),
                    Some(x) => return Err(bad(format!("row {row}: y holds {x}; demand must be a finite number >= 0"))),
                    None => return Err(bad(format!("row {row}: y holds a null; mark unobserved days in day_kind (2 = censored) instead"))),
                }
            }
            let (mut closed, mut cens) = (vec![false; v.len()], vec![false; v.len()]);
            if let Some(k) = &kinds {
                if !k.is_null(r) {
                    let kv = numbers(k, r, row, "day_kind", Some(v.len()))?;
                    for (t, x) in kv.iter().enumerate() {
                        match x {
                            Some(1.0) => closed[t] = true,
                            Some(2.0) => cens[t] = true,
                            _ => {}
                        }
                    }
                }
            }
            if let Some(pc) = &price {
                let mut pv = vec![f32::NAN; v.len()];
                if !pc.is_null(r) {
                    let x = numbers(pc, r, row, "price", Some(v.len()))?;
                    for (t, p) in x.iter().enumerate() {
                        match p {
                            Some(p) if p.is_finite() && p >= 0.0 => pv[t] = p as f32,
                            None => {}
                            Some(p) => return Err(bad(format!("row {row}: price holds {p}; a price must be a finite number >= 0 (null: unknown)"))),
                        }
                    }
                }
                prices.push(pv);
            }
            ids.push(id.value(r).to_string());
            series.push((st.value(r), v, closed, cens));
        }
    }
    if series.is_empty() {
        return Err(bad("the panel has no series".into()));
    }
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|a, b| ids[*a].cmp(&ids[*b]));
    let ids: Vec<String> = order.iter().map(|&i| ids[i].clone()).collect();
    let series: Vec<_> = order.iter().map(|&i| series[i].clone()).collect();
    let panel = Panel::from_plain(series);
    let panel = if priced == Some(true) {
        let prices = order.iter().map(|&i| prices[i].clone()).collect();
        panel.with_prices(prices).map_err(bad)?
    } else {
        panel
    };
    Ok((panel, ids))
}

/// The `backtest forecast` command: input from a pipeline or a plain panel, outputs to a
/// folder, summary on stdout. Returns the exit code.
pub fn command(
    common: &crate::cli::Common,
    panel_path: Option<&Path>,
    origins: usize,
    step: usize,
    window_days: Option<usize>,
    out: Option<std::path::PathBuf>,
    export: Option<&Path>,
) -> Result<i32> {
    let bad_opt = |detail: &str| {
        Error::Config(crate::error::ConfigError::Invalid {
            key: "backtest".into(),
            detail: detail.into(),
        })
    };
    if origins == 0 || origins > 52 || step == 0 {
        return Err(bad_opt("--origins must be 1..=52 and --step >= 1"));
    }
    // A plain panel needs no order file; the pipeline is then only read for [forecast] and
    // the calendar's events.
    let p = match panel_path {
        Some(pp) => {
            let mut c = common.clone();
            c.orders.get_or_insert_with(|| pp.to_path_buf());
            c.pipeline(None)?
        }
        None => common.pipeline(None)?,
    };
    let horizon = p.horizon_days as usize;
    let window = window_days.unwrap_or(horizon);
    if window == 0 || window > horizon {
        return Err(bad_opt(&format!(
            "--window-days must be 1..={horizon} (the horizon): the window is scored on the days after each origin"
        )));
    }
    let opts = Options {
        origins,
        step,
        horizon,
        window,
    };
    let (outcome, label) = match panel_path {
        Some(pp) => {
            let (mut panel, ids) = read_panel(pp)?;
            // A plain panel has no calendar of its own beyond closed days: the shop's
            // events come from the pipeline (or --set calendar.events=[...]).
            panel.calendar.set_events(&p.events);
            let need = horizon + (origins - 1) * step + 14;
            if panel.series.iter().all(|s| s.len < need) {
                return Err(bad_opt(&format!(
                    "no series is long enough for {origins} origins {step} days apart and horizon {horizon} ({need} days)"
                )));
            }
            if let Some(e) = export {
                export_panel(&panel, &|i| (ids[i].clone(), String::new()), e)?;
            }
            let names = |i: usize| (ids[i].clone(), String::new());
            let label = pp
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_else(|| "panel".into());
            (run(&panel, &p.forecast, &opts, &names, &|_| None)?, label)
        }
        None => {
            let ds = crate::ingest::load(&p)?;
            let as_of = crate::pipeline::resolve_as_of(&p, &ds)?;
            let panel = crate::panel::build(&p, &ds, as_of);
            let names = |i: usize| {
                let m = &panel.series[i];
                (
                    ds.skus.name(m.sku).to_string(),
                    ds.locs.name(m.loc).to_string(),
                )
            };
            if let Some(e) = export {
                export_panel(&panel, &names, e)?;
            }
            let price = |i: usize| ds.median_price.get(&panel.series[i].sku).copied();
            (
                run(&panel, &p.forecast, &opts, &names, &price)?,
                p.name.clone(),
            )
        }
    };
    let dir = out.unwrap_or_else(|| format!("notebooks-out/forecast-backtest-{label}").into());
    std::fs::create_dir_all(&dir).map_err(|source| OutputError::Io {
        path: dir.clone(),
        source,
    })?;
    outcome
        .series
        .write_parquet(&dir.join("forecast_backtest_series.parquet"))?;
    outcome
        .points
        .write_parquet(&dir.join("forecast_backtest_points.parquet"))?;
    let v = serde_json::to_value(&outcome.summary).map_err(|e| Error::Internal(e.to_string()))?;
    crate::export::write_json(&dir.join("summary.json"), &v)?;
    let text = outcome.summary.render();
    std::fs::write(dir.join("summary.txt"), &text).map_err(|source| OutputError::Io {
        path: dir.join("summary.txt"),
        source,
    })?;
    print!("{text}");
    println!("\nwritten to {}", dir.display());
    Ok(crate::error::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_total_is_scored_against_the_window_distribution() {
        // 120 days of 1 unit; day 110 censored (empty shelf).
        let mut cens = vec![false; 120];
        cens[110] = true;
        let panel = Panel::from_plain(vec![(19_000, vec![1.0; 120], vec![false; 120], cens)]);
        let v = panel.view(0);
        // Window of 14 days after day 80: 14 units against Poisson(14) (p25 11, p75 17).
        let f = SeriesForecast::fixed(14.0, 14, "poisson", 0.0);
        let w = score_window(&v, 80, &f, 14).unwrap();
        assert_eq!(w.actual, 14.0);
        assert_eq!(w.mean, 14.0);
        assert!(w.q.windows(2).all(|q| q[0] <= q[1]), "{:?}", w.q);
        assert_eq!(w.cover, [1.0; 4]);
        // Its PIT, uniform on [F(13), F(14)] around the median, falls in every interval.
        assert!(w.pit.iter().all(|c| *c > 0.99), "{:?}", w.pit);
        // A window forecast at half the demand misses the 50 % interval.
        let low = SeriesForecast::fixed(7.0, 14, "poisson", 0.0);
        let m = score_window(&v, 80, &low, 14).unwrap();
        assert_eq!(m.cover[0], 0.0);
        assert!(m.pinball > w.pinball);
        // A censored day inside the window, or a window past the data: not scored.
        assert!(score_window(&v, 100, &f, 14).is_none());
        assert!(score_window(&v, 111, &f, 14).is_none());
    }

    #[test]
    fn only_open_uncensored_days_are_scored() {
        // 70 days of 3 units; every 7th day closed (0), day 64 censored.
        let closed: Vec<bool> = (0..70).map(|t| t % 7 == 6).collect();
        let y: Vec<f64> = closed.iter().map(|c| if *c { 0.0 } else { 3.0 }).collect();
        let mut cens = vec![false; 70];
        cens[64] = true;
        let panel = Panel::from_plain(vec![(19_000, y, closed, cens)]);
        let v = panel.view(0);
        // A flat 2 a day over the 14 days after day 56: 12 open days minus the censored one.
        let mut f = SeriesForecast::fixed(28.0, 14, "poisson", 0.0);
        for j in [6, 13] {
            f.mean[j] = 0.0; // the engine's zero on closed days
            f.quantiles[j] = [0.0; 7];
        }
        let e = score(&v, 56, &f, 14).unwrap();
        assert_eq!(e.n, 11);
        assert!(
            (e.mae - 1.0).abs() < 1e-12,
            "closed days would dilute it: {}",
            e.mae
        );
        // The point quantiles miss every open day: no coverage from closed days.
        assert_eq!(e.cover, [0.0; 4]);
    }

    #[test]
    fn plain_panel_prices_round_trip_and_bad_prices_name_the_row() {
        let plain = vec![
            (19_000, vec![2.0, 0.0, 1.0], vec![false; 3], vec![false; 3]),
            (19_001, vec![0.0, 4.0], vec![false; 2], vec![false; 2]),
        ];
        let prices = vec![vec![3.5, f32::NAN, 3.0], vec![f32::NAN, 2.25]];
        let panel = Panel::from_plain(plain.clone())
            .with_prices(prices.clone())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("panel.parquet");
        let names = |i: usize| (format!("s{i}"), "L".to_string());
        export_panel(&panel, &names, &path).unwrap();
        let (back, ids) = read_panel(&path).unwrap();
        assert_eq!(ids, ["s0|L", "s1|L"]);
        for (i, want) in prices.iter().enumerate() {
            let got = back.view(i).prices.unwrap();
            let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
            assert!(got.iter().zip(want).all(|(a, b)| same(*a, *b)), "{got:?}");
        }
        // A panel without prices writes no price column and reads back without prices.
        export_panel(&Panel::from_plain(plain), &names, &path).unwrap();
        assert!(!read_panel(&path).unwrap().0.has_prices());
        // A negative price is refused with its row.
        let bad = Panel::from_plain(vec![(19_000, vec![1.0], vec![false], vec![false])])
            .with_prices(vec![vec![-1.0]])
            .unwrap();
        export_panel(&bad, &names, &path).unwrap();
        let e = read_panel(&path).unwrap_err().to_string();
        assert!(e.contains("row 1") && e.contains("price holds -1"), "{e}");
        // Lengths must match.
        assert!(
            Panel::from_plain(vec![(0, vec![1.0; 2], vec![false; 2], vec![false; 2])])
                .with_prices(vec![vec![1.0]])
                .is_err()
        );
    }

    #[test]
    fn pit_cover_of_counts_and_points() {
        // A zero with P(0) = 0.7: PIT uniform on [0, 0.7]; 0.6 of it lies in [0.1, 0.9].
        assert!((pit_cover(0.0, 0.7, 0.8) - 0.6 / 0.7).abs() < 1e-12);
        // A sure zero (dead item): PIT uniform on [0, 1] → exactly the nominal level.
        assert!((pit_cover(0.0, 1.0, 0.8) - 0.8).abs() < 1e-12);
        assert!((pit_cover(0.0, 1.0, 0.95) - 0.95).abs() < 1e-12);
        // Continuous part: a point, inside or not.
        assert_eq!(pit_cover(0.5, 0.5, 0.8), 1.0);
        assert_eq!(pit_cover(0.97, 0.97, 0.9), 0.0);
        // Entirely above the interval.
        assert_eq!(pit_cover(0.92, 0.99, 0.8), 0.0);
    }

    #[test]
    fn pit_tails_split_the_misses_of_the_80_interval() {
        // A zero with P(0) = 0.7: 1/7 of its PIT below 0.1, none above 0.9.
        let t = pit_tails(0.0, 0.7);
        assert!((t[0] - 1.0 / 7.0).abs() < 1e-12 && t[1] == 0.0, "{t:?}");
        // Tails and cover add up to the whole PIT.
        for (lo, hi) in [
            (0.0, 0.7),
            (0.05, 0.95),
            (0.92, 0.99),
            (0.3, 0.3),
            (0.0, 1.0),
            (0.1, 0.1),
            (0.9, 0.9),
        ] {
            let t = pit_tails(lo, hi);
            assert!((t[0] + pit_cover(lo, hi, 0.8) + t[1] - 1.0).abs() < 1e-12);
        }
        // A point: in one tail or the other, or inside.
        assert_eq!(pit_tails(0.05, 0.05), [1.0, 0.0]);
        assert_eq!(pit_tails(0.95, 0.95), [0.0, 1.0]);
        assert_eq!(pit_tails(0.5, 0.5), [0.0, 0.0]);
    }

    #[test]
    fn spread_across_origins_is_the_mean_and_its_standard_error() {
        let s = Spread::of([0.7, 0.9].into_iter()).unwrap();
        assert!((s.mean - 0.8).abs() < 1e-12);
        // sd 0.1414…, over √2 origins: 0.1.
        assert!((s.se - 0.1).abs() < 1e-12, "{s:?}");
        assert!(Spread::of([0.8].into_iter()).is_none());
        let same = Spread::of([0.8, 0.8, 0.8].into_iter()).unwrap();
        assert!(same.se < 1e-12, "{same:?}");
    }
}
