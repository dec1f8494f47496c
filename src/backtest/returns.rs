//! Rolling-origin backtest of the returns forecast.
//!
//! At each weekly origin o the return model is fitted and demand forecast on data up to o;
//! the predicted restockable returns of the L days after o (L = 7 by default) are compared
//! per SKU with the realised ones, against two baselines: the SKU's average returns per L
//! days over the 8 weeks before o ("naive_8w") and no returns at all ("no_returns").
//! Point forecasts are scored by MAE and bias; restock's predictive distribution also by
//! CRPS (for a point forecast CRPS equals MAE, so the numbers compare directly).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::Pipeline;
use crate::error::Result;
use crate::export::table::{ColData, OutTable};
use crate::forecast::quantile::count_quantile;
use crate::ingest::{self, day_of, Day};
use crate::panel::{self, to_date};
use crate::pipeline::resolve_as_of;
use crate::{forecast, returns};

#[derive(Debug, Clone, Serialize)]
pub struct MethodScore {
    pub method: &'static str,
    /// Mean absolute error of weekly returns per SKU (units).
    pub sku_week_mae: f64,
    /// Mean of predicted − realised per SKU-week (units; negative = under-prediction).
    pub sku_week_bias: f64,
    /// Mean absolute error of the shop's total weekly returns.
    pub total_week_mae: f64,
    pub total_week_bias: f64,
    /// Continuous ranked probability score per SKU-window and of the shop total: restock's
    /// predictive distribution for the restock rows, the point forecast (= MAE) otherwise.
    pub sku_week_crps: f64,
    pub total_week_crps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub pipeline: String,
    pub origins: Vec<String>,
    pub window_days: usize,
    pub sku_weeks: usize,
    pub realised_units: f64,
    pub scores: Vec<MethodScore>,
}

pub struct Backtest {
    pub summary: Summary,
    pub rows: OutTable,
}

/// Point forecasts compared. "restock_mean" is what the position uses with `use = "mean"`;
/// "restock_median" is the median of restock's predictive count distribution, the optimal
/// point forecast under absolute error (Gneiting 2011) — zero-heavy SKU-weeks favour it.
const METHODS: [&str; 5] = [
    "restock_mean",
    "restock_median",
    "naive_8w",
    "naive_8w_median",
    "no_returns",
];
const NM: usize = METHODS.len();

/// CRPS of a distribution given by its quantile function, as twice the mean pinball loss
/// over the levels (k − ½)/K, K = 99 (Laio & Tamea 2007).
fn crps(y: f64, q: impl Fn(f64) -> f64) -> f64 {
    const K: usize = 99;
    let mut s = 0.0;
    for k in 0..K {
        let t = (k as f64 + 0.5) / K as f64;
        let x = q(t);
        s += if y >= x {
            t * (y - x)
        } else {
            (1.0 - t) * (x - y)
        };
    }
    2.0 * s / K as f64
}

pub fn run(p: &Pipeline, weeks: usize, window_days: usize) -> Result<Backtest> {
    let l = window_days.max(1) as Day;
    let ds = ingest::load(p)?;
    let last = resolve_as_of(p, &ds)?;
    // Realised restockable returns per (sku, day); an explicit "not restockable" never counts.
    let mut realised: BTreeMap<(u32, Day), f64> = BTreeMap::new();
    for r in ds.returns.iter().filter(|r| r.restockable != Some(false)) {
        *realised.entry((r.sku, day_of(r.at))).or_insert(0.0) += r.qty;
    }
    let sum_between = |sku: u32, from: Day, to: Day| -> f64 {
        realised
            .range((sku, from + 1)..=(sku, to))
            .map(|(_, q)| q)
            .sum()
    };
    let (mut o_col, mut sku_col, mut act, mut pred): (
        Vec<Day>,
        Vec<String>,
        Vec<f64>,
        [Vec<f64>; NM],
    ) = (vec![], vec![], vec![], Default::default());
    let mut origins = Vec::new();
    let mut totals: Vec<(f64, [f64; NM])> = Vec::new();
    // Per origin: (Σ CRPS over SKUs, CRPS of the shop total) of restock's distribution.
    let mut crps_rows: Vec<(f64, f64)> = Vec::new();
    for k in (1..=weeks).rev() {
        let o = last - 7 * k as Day;
        let panel = panel::build(p, &ds, o);
        if panel.series.is_empty() {
            continue;
        }
        origins.push(to_date(o).to_string());
        let n = panel.series.len();
        let fc = forecast::run(
            &panel,
            &p.forecast,
            (l as usize).max(28),
            &vec![l as usize; n],
        );
        let model = returns::fit(p, &ds, o);
        let lines = returns::series_lines(&ds, &panel, model.window);
        // Per SKU: (mean, variance) of the 7-day total, summed over locations.
        // The SKU's zero class is calibrated on its own history (one value for all locations).
        let mut by_sku: BTreeMap<u32, (f64, f64, Option<f64>)> = BTreeMap::new();
        for i in 0..n {
            let r = returns::forecast_series(
                &model,
                panel.series[i].sku,
                &lines[i],
                &fc[i],
                l as usize,
            );
            let e = by_sku
                .entry(panel.series[i].sku)
                .or_insert((0.0, 0.0, r.window_p0));
            e.0 += r.window_mean;
            e.1 += r.window_var;
        }
        // SKUs with realised returns but no sales yet are scored too (predicted 0).
        for ((sku, d), _) in realised.range((0, Day::MIN)..) {
            if *d > o && *d <= o + l {
                by_sku.entry(*sku).or_insert((0.0, 0.0, None));
            }
        }
        let mut tot = (0.0, [0.0; NM]);
        let (mut tot_mean, mut tot_var) = (0.0, 0.0);
        let mut crps_sum = 0.0;
        for (sku, (mean, var, p0)) in by_sku {
            let a = sum_between(sku, o, o + l);
            let mut weeks: Vec<f64> = (0..8)
                .map(|w| sum_between(sku, o - 7 * (w + 1), o - 7 * w))
                .collect();
            weeks.sort_by(f64::total_cmp);
            // Per-week baselines scaled to the scored window.
            let scale = l as f64 / 7.0;
            let naive = weeks.iter().sum::<f64>() / 8.0 * scale;
            let naive_median = (weeks[3] + weeks[4]) / 2.0 * scale;
            crps_sum += crps(a, |t| returns::hurdle_quantile(mean, var, p0, t));
            let preds = [
                mean,
                returns::hurdle_quantile(mean, var, p0, 0.5),
                naive,
                naive_median,
                0.0,
            ];
            tot_mean += mean;
            tot_var += var;
            o_col.push(o);
            sku_col.push(ds.skus.name(sku).to_string());
            act.push(a);
            tot.0 += a;
            for m in 0..NM {
                pred[m].push(preds[m]);
                tot.1[m] += preds[m];
            }
        }
        // The median of the shop total is not the sum of SKU medians.
        tot.1[1] = count_quantile(tot_mean, tot_var, 0.5);
        let tot_crps = crps(tot.0, |t| count_quantile(tot_mean, tot_var, t));
        totals.push(tot);
        crps_rows.push((crps_sum, tot_crps));
        tracing::info!(origin = %to_date(o), "returns backtest origin done");
    }
    let nrows = act.len().max(1) as f64;
    let nweeks = totals.len().max(1) as f64;
    let scores = (0..NM)
        .map(|m| {
            let sku_week_mae = act
                .iter()
                .zip(&pred[m])
                .map(|(a, p)| (p - a).abs())
                .sum::<f64>()
                / nrows;
            let total_week_mae = totals.iter().map(|t| (t.1[m] - t.0).abs()).sum::<f64>() / nweeks;
            // restock's rows score its distribution; a point forecast's CRPS is its MAE.
            let restock = m < 2;
            MethodScore {
                method: METHODS[m],
                sku_week_mae,
                sku_week_bias: act.iter().zip(&pred[m]).map(|(a, p)| p - a).sum::<f64>() / nrows,
                total_week_mae,
                total_week_bias: totals.iter().map(|t| t.1[m] - t.0).sum::<f64>() / nweeks,
                sku_week_crps: if restock {
                    crps_rows.iter().map(|c| c.0).sum::<f64>() / nrows
                } else {
                    sku_week_mae
                },
                total_week_crps: if restock {
                    crps_rows.iter().map(|c| c.1).sum::<f64>() / nweeks
                } else {
                    total_week_mae
                },
            }
        })
        .collect();
    let mut rows = OutTable::default();
    rows.push(
        "origin",
        ColData::Date(o_col.into_iter().map(Some).collect()),
    )
    .push("sku", ColData::Str(sku_col.into_iter().map(Some).collect()))
    .push(
        "realised",
        ColData::F64(act.iter().copied().map(Some).collect()),
    );
    for (m, v) in pred.into_iter().enumerate() {
        rows.push(
            METHODS[m],
            ColData::F64(
                v.into_iter()
                    .map(|x| Some((x * 1e4).round() / 1e4))
                    .collect(),
            ),
        );
    }
    Ok(Backtest {
        summary: Summary {
            pipeline: p.name.clone(),
            origins,
            window_days: l as usize,
            sku_weeks: act.len(),
            realised_units: act.iter().sum(),
            scores,
        },
        rows,
    })
}

impl Summary {
    pub fn render(&self) -> String {
        let mut s = format!(
            "returns backtest — pipeline '{}', {} weekly origins ({} .. {}), {}-day windows, {} SKU-windows, {} units returned\n\n",
            self.pipeline,
            self.origins.len(),
            self.origins.first().map(String::as_str).unwrap_or("-"),
            self.origins.last().map(String::as_str).unwrap_or("-"),
            self.window_days,
            self.sku_weeks,
            self.realised_units
        );
        s += &format!(
            "{:<16} {:>14} {:>14} {:>14} {:>16} {:>16} {:>16}\n",
            "method",
            "sku_week_MAE",
            "sku_week_bias",
            "sku_week_CRPS",
            "total_week_MAE",
            "total_week_bias",
            "total_week_CRPS"
        );
        for m in &self.scores {
            s += &format!(
                "{:<16} {:>14.4} {:>14.4} {:>14.4} {:>16.2} {:>16.2} {:>16.2}\n",
                m.method,
                m.sku_week_mae,
                m.sku_week_bias,
                m.sku_week_crps,
                m.total_week_mae,
                m.total_week_bias,
                m.total_week_crps
            );
        }
        s += "\n(CRPS: restock rows score its predictive distribution; for a point forecast CRPS = MAE)\n";
        s
    }
}

#[cfg(test)]
mod tests {
    use super::crps;

    #[test]
    fn crps_of_a_point_forecast_is_its_absolute_error() {
        assert!((crps(3.0, |_| 5.0) - 2.0).abs() < 1e-12);
        assert!(crps(0.0, |_| 0.0).abs() < 1e-12);
        // Uniform(0, 1) predictive, outcome 0: CRPS = E|X| − ½E|X − X'| = ½ − ⅙ = ⅓.
        assert!((crps(0.0, |t| t) - 1.0 / 3.0).abs() < 1e-3);
    }
}
