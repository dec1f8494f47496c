//! Peer conformance: restock's models against statsforecast's on the same series.
//! Goldens: `benches/peers/statsforecast_goldens.py` (statsforecast pinned in
//! `benches/peers/requirements.txt`), committed so this test needs no Python.
//!
//! Tolerances (relative to the series' mean level, so zero-heavy series are not judged on
//! 1e-12 denominators):
//! - exact (1e-9): closed-form methods with no fitting — naive, seasonal naive, window
//!   average, Croston classic, SBA, TSB.
//! - 1e-4: one smoothing constant found by golden-section search (SES, Croston optimised,
//!   ADIDA, IMAPA). Both searches stop at a tolerance; the SSE is flat at the optimum, so the
//!   forecasts agree far closer than the constants do.
//! - Standard Theta: Nelder–Mead over two parameters; both land on the same optimum (1e-6).
//! - Optimised Theta adds θ, unbounded above, and the objective is very flat in θ: the two
//!   simplex searches stop at different θ. Bound: 15 % of the level (measured worst 11.5 %).
//! - ETS: statsforecast's optimiser often stops before the least-squares optimum (on
//!   20725 its ANN fit has SSE 1,446,221 where a grid finds 1,443,423), and it searches all
//!   initial seasonal states in its simplex, where restock solves them by least squares
//!   given the smoothing parameters and reruns the smoothing search once. Point forecasts
//!   from a flat likelihood are therefore not comparable to 1e-4. ETS is held to fit
//!   quality instead: restock's in-sample MSE may exceed statsforecast's by at most
//!   0.5 % (ANN; measured worst 0.12 %), 3 % (damped trend; measured 2.4 %) and 5 %
//!   (weekly seasonal; measured 4.6 %, was 9.5 % before the least-squares initial states).
//!   These are known gaps, not noise: held-out accuracy, which is what selection uses, is
//!   compared in benches/.

use chrono::NaiveDate;
use restock::config::ForecastCfg;
use restock::forecast::kernels::{EtsFit, EtsSpec, Trend};
use restock::forecast::{build, Forecaster};
use restock::panel::{from_date, SeriesView, TradingCalendar};

const EXACT: f64 = 1e-9;
const GOLDEN_SECTION: f64 = 1e-4;
const THETA: f64 = 1e-6;
const OTM: f64 = 0.15;
const ETS_MSE: f64 = 0.005;
const ETS_MSE_DAMPED: f64 = 0.03;
const ETS_MSE_SEASONAL: f64 = 0.05;

fn goldens() -> serde_json::Value {
    let p = crate::helpers::root().join("tests/fixtures/statsforecast_goldens.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn theirs_fc(row: &serde_json::Value, name: &str) -> Vec<f64> {
    f64s(&row["forecasts"][name])
}

/// Largest |ours − theirs| over the horizon, relative to the mean level of the series.
fn deviation(ours: &[f64], theirs: &[f64], y: &[f64]) -> f64 {
    let level = (y.iter().sum::<f64>() / y.len() as f64).abs().max(1e-9);
    ours.iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs() / level)
        .fold(0.0, f64::max)
}

fn forecast_plain(model: &str, y: &[f64], h: usize) -> Vec<f64> {
    // Every day open, nothing censored: the calendar wrapper must then be the identity.
    let start = from_date(NaiveDate::from_ymd_opt(2020, 1, 6).unwrap());
    let cal = TradingCalendar::with_weekdays(start, start + y.len() as i32 - 1, vec![]);
    let c = vec![false; y.len()];
    let s = SeriesView {
        start,
        y,
        censored: &c,
        calendar: &cal,
        prices: None,
        promos: &[],
        rivals: None,
    };
    let cfg = ForecastCfg {
        fit_window_days: 3650,
        // statsforecast's Croston family has no stall correction: compare the textbook method.
        stall_prior: 0.0,
        ..Default::default()
    };
    let m: Box<dyn Forecaster> = build(model, &cfg).unwrap();
    m.predict(&s, h).unwrap()
}

#[test]
fn models_agree_with_statsforecast() {
    let g = goldens();
    let h = g["h"].as_u64().unwrap() as usize;
    let mut worst: std::collections::BTreeMap<String, f64> = Default::default();
    let mut failures = Vec::new();
    for row in g["series"].as_array().unwrap() {
        let id = row["id"].as_str().unwrap();
        let y = f64s(&row["y"]);
        for (name, theirs) in row["forecasts"].as_object().unwrap() {
            if theirs.is_null() {
                continue;
            }
            let theirs = f64s(theirs);
            let (ours, tol) = match name.as_str() {
                "naive" | "seasonal_naive" | "moving_average" | "croston" | "sba" | "tsb" => {
                    (forecast_plain(name, &y, h), EXACT)
                }
                "ses" | "croston_optimized" | "adida" | "imapa" => {
                    (forecast_plain(name, &y, h), GOLDEN_SECTION)
                }
                "theta" => (forecast_plain(name, &y, h), THETA),
                "optimized_theta" => (forecast_plain(name, &y, h), OTM),
                "ets_ANN" | "ets_AAdN" | "ets_ANA" => {
                    let (trend, seasonal, m) = match name.as_str() {
                        "ets_ANN" => (Trend::None, false, 1),
                        "ets_AAdN" => (Trend::Damped, false, 1),
                        _ => (Trend::None, true, 7),
                    };
                    let f = EtsFit::fit(&y, EtsSpec { trend, seasonal }, m).unwrap();
                    let ours = f.sse / y.len() as f64;
                    let theirs = row["fit_mse"][name].as_f64().unwrap();
                    let slack = match (seasonal, trend) {
                        (true, _) => ETS_MSE_SEASONAL,
                        (false, Trend::Damped) => ETS_MSE_DAMPED,
                        _ => ETS_MSE,
                    };
                    let rel = ours / theirs - 1.0;
                    let w = worst
                        .entry(format!("{name} (fit MSE vs peer)"))
                        .or_insert(f64::MIN);
                    *w = w.max(rel);
                    if rel > slack {
                        failures.push(format!(
                            "{id} {name}: in-sample MSE {ours:.4} vs peer {theirs:.4}"
                        ));
                    }
                    let d = deviation(&f.forecast(&y, h), &theirs_fc(row, name), &y);
                    let w = worst
                        .entry(format!("{name} (forecast, reported)"))
                        .or_insert(0.0);
                    *w = w.max(d);
                    continue;
                }
                other => panic!("no mapping for golden model {other}"),
            };
            // statsforecast may forecast below zero (trend); restock clamps demand at zero.
            let theirs: Vec<f64> = theirs.iter().map(|v| v.max(0.0)).collect();
            let d = deviation(&ours, &theirs, &y);
            let w = worst.entry(name.clone()).or_insert(0.0);
            *w = w.max(d);
            if d > tol {
                failures.push(format!(
                    "{id} {name}: deviation {d:.2e} > {tol:.0e} (ours {:.4} vs {:.4})",
                    ours[0], theirs[0]
                ));
            }
        }
    }
    for (m, d) in &worst {
        eprintln!("{m:36} worst {d:.2e}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
