//! Do covariates predict which sale lines come back better than the shrunk SKU rate alone?
//!
//! A logistic regression (linfa) on line-level features — the logit of the SKU's shrunk
//! rate, line size, price relative to the SKU's median, channel, country, category — is
//! trained on sale lines of the first half of the rate window and scored on the second
//! half against the SKU rate alone (log loss, Brier score). The rate model for the
//! comparison is fitted with data known at the split, so neither side sees the test labels'
//! sales. The pipeline uses covariates only if they help; see README ("Returns").

use std::collections::BTreeMap;

use linfa::traits::Fit;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use crate::config::Pipeline;
use crate::ingest::{day_of, Dataset, Day};

#[derive(Debug, Clone, Serialize)]
pub struct CovariateReport {
    pub train_lines: usize,
    pub test_lines: usize,
    pub test_return_share: f64,
    pub features: Vec<String>,
    /// The shrunk SKU unit rate used as the line's return probability.
    pub logloss_rate_only: f64,
    /// Logistic on the SKU rate's logit and line size only: recalibrates the rate to lines.
    pub logloss_rate_calibrated: f64,
    /// Logistic with the covariates as well.
    pub logloss_logistic: f64,
    pub brier_rate_only: f64,
    pub brier_rate_calibrated: f64,
    pub brier_logistic: f64,
    /// Log-loss reduction of the covariate model over the calibrated rate, in percent: what
    /// the covariates themselves add (positive = better).
    pub logloss_gain_pct: f64,
    /// Whether the gain clears the 1 % bar to be worth using.
    pub helps: bool,
}

fn top_values(v: impl Iterator<Item = u32>, k: usize) -> Vec<u32> {
    let mut c: BTreeMap<u32, usize> = BTreeMap::new();
    for x in v {
        *c.entry(x).or_insert(0) += 1;
    }
    let mut c: Vec<(u32, usize)> = c.into_iter().collect();
    c.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    c.into_iter().take(k).map(|x| x.0).collect()
}

/// Indices of sale lines that came back (linked by order id, else the customer's latest
/// earlier purchase of the SKU).
fn returned_lines(ds: &Dataset, as_of: Day) -> Vec<bool> {
    let sales = super::SaleIndex::build(ds, |_| true);
    let mut out = vec![false; ds.demand.len()];
    for r in ds.returns.iter().filter(|r| day_of(r.at) <= as_of) {
        if let Some(i) = sales.by_order(ds, r).or_else(|| sales.by_customer(r)) {
            out[i] = true;
        }
    }
    out
}

fn logloss(p: &[f64], y: &[bool]) -> f64 {
    p.iter()
        .zip(y)
        .map(|(p, y)| {
            let p = p.clamp(1e-6, 1.0 - 1e-6);
            if *y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum::<f64>()
        / p.len().max(1) as f64
}

fn brier(p: &[f64], y: &[bool]) -> f64 {
    p.iter()
        .zip(y)
        .map(|(p, y)| (p - if *y { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        / p.len().max(1) as f64
}

/// Returns None when there are too few lines or returns to say anything.
pub fn evaluate(p: &Pipeline, ds: &Dataset, as_of: Day) -> Option<CovariateReport> {
    let w = p.returns.window_days as Day;
    let hi = as_of - w;
    let lo = as_of - p.returns.history_days as Day;
    let mid = lo + (hi - lo) / 2;
    let base = super::fit(p, ds, mid + w);
    let returned = returned_lines(ds, as_of);
    let idx: Vec<usize> = (0..ds.demand.len())
        .filter(|&i| {
            let d = day_of(ds.demand[i].at);
            d >= lo && d <= hi
        })
        .collect();
    let channels = top_values(idx.iter().filter_map(|&i| ds.demand[i].channel()), 5);
    let countries = top_values(idx.iter().filter_map(|&i| ds.demand[i].country()), 8);
    let cat_ids: Dict = Dict::build(ds);
    let cats = top_values(idx.iter().filter_map(|&i| cat_ids.of(ds.demand[i].sku)), 8);
    let has_price = idx.iter().any(|&i| ds.demand[i].price().is_some());
    let mut names = vec!["logit_sku_rate".to_string(), "log_qty".to_string()];
    if has_price {
        names.push("log_price_vs_median".into());
    }
    names.extend(
        channels
            .iter()
            .map(|c| format!("channel={}", ds.channels.name(*c))),
    );
    names.extend(
        countries
            .iter()
            .map(|c| format!("country={}", ds.countries.name(*c))),
    );
    names.extend(
        cats.iter()
            .map(|c| format!("category={}", cat_ids.names[*c as usize])),
    );
    let nf = names.len();
    let mut x = Vec::with_capacity(idx.len() * nf);
    let mut y = Vec::with_capacity(idx.len());
    let mut base_p = Vec::with_capacity(idx.len());
    let mut is_train = Vec::with_capacity(idx.len());
    for &i in &idx {
        let d = &ds.demand[i];
        let rate = base
            .per_sku
            .get(&d.sku)
            .map(|s| s.rate)
            .unwrap_or(base.global_rate)
            .clamp(1e-4, 1.0 - 1e-4);
        base_p.push(rate);
        x.push((rate / (1.0 - rate)).ln());
        x.push(d.qty.max(1.0).ln());
        if has_price {
            let med = ds
                .median_price
                .get(&d.sku)
                .copied()
                .unwrap_or(1.0)
                .max(1e-9);
            x.push(
                (d.price().unwrap_or(med).max(1e-9) / med)
                    .ln()
                    .clamp(-5.0, 5.0),
            );
        }
        x.extend(
            channels
                .iter()
                .map(|c| f64::from(u8::from(d.channel() == Some(*c)))),
        );
        x.extend(
            countries
                .iter()
                .map(|c| f64::from(u8::from(d.country() == Some(*c)))),
        );
        let cat = cat_ids.of(d.sku);
        x.extend(cats.iter().map(|c| f64::from(u8::from(cat == Some(*c)))));
        y.push(returned[i]);
        is_train.push(day_of(d.at) <= mid);
    }
    let n = idx.len();
    let train: Vec<usize> = (0..n).filter(|&k| is_train[k]).collect();
    let test: Vec<usize> = (0..n).filter(|&k| !is_train[k]).collect();
    let pos = train.iter().filter(|&&k| y[k]).count();
    if train.len() < 200 || test.len() < 200 || pos < 20 || pos == train.len() {
        return None;
    }
    // Standardise the continuous columns on the training rows.
    let ncont = if has_price { 3 } else { 2 };
    let mut mean = vec![0.0; ncont];
    let mut sd = vec![0.0; ncont];
    for &k in &train {
        for j in 0..ncont {
            mean[j] += x[k * nf + j];
        }
    }
    mean.iter_mut().for_each(|m| *m /= train.len() as f64);
    for &k in &train {
        for j in 0..ncont {
            sd[j] += (x[k * nf + j] - mean[j]).powi(2);
        }
    }
    sd.iter_mut()
        .for_each(|s| *s = (*s / train.len() as f64).sqrt().max(1e-9));
    let row = |k: usize, cols: usize| -> Vec<f64> {
        (0..cols)
            .map(|j| {
                if j < ncont {
                    (x[k * nf + j] - mean[j]) / sd[j]
                } else {
                    x[k * nf + j]
                }
            })
            .collect()
    };
    let to_matrix = |rows: &[usize], cols: usize| -> Option<Array2<f64>> {
        Array2::from_shape_vec(
            (rows.len(), cols),
            rows.iter().flat_map(|&k| row(k, cols)).collect(),
        )
        .ok()
    };
    let ytr: Array1<bool> = train.iter().map(|&k| y[k]).collect();
    // Fits on the first `cols` features and returns P(returned) on the test rows.
    let fit_predict = |cols: usize| -> Option<Vec<f64>> {
        let model = LogisticRegression::default()
            .alpha(1e-3)
            .max_iterations(200)
            .fit(&linfa::Dataset::new(to_matrix(&train, cols)?, ytr.clone()))
            .ok()?;
        // predict_probabilities gives P(the class linfa labels positive); map it to P(returned).
        let pos_is_true = model.labels().pos.class;
        Some(
            model
                .predict_probabilities(&to_matrix(&test, cols)?)
                .iter()
                .map(|p| if pos_is_true { *p } else { 1.0 - p })
                .collect(),
        )
    };
    let p_cal = fit_predict(2)?;
    let p_log = fit_predict(nf)?;
    let yte: Vec<bool> = test.iter().map(|&k| y[k]).collect();
    let p_base: Vec<f64> = test.iter().map(|&k| base_p[k]).collect();
    let (ll_b, ll_c, ll_l) = (
        logloss(&p_base, &yte),
        logloss(&p_cal, &yte),
        logloss(&p_log, &yte),
    );
    let gain = 100.0 * (ll_c - ll_l) / ll_c.max(1e-12);
    Some(CovariateReport {
        train_lines: train.len(),
        test_lines: test.len(),
        test_return_share: yte.iter().filter(|v| **v).count() as f64 / yte.len() as f64,
        features: names,
        logloss_rate_only: ll_b,
        logloss_rate_calibrated: ll_c,
        logloss_logistic: ll_l,
        brier_rate_only: brier(&p_base, &yte),
        brier_rate_calibrated: brier(&p_cal, &yte),
        brier_logistic: brier(&p_log, &yte),
        logloss_gain_pct: gain,
        helps: gain >= 1.0,
    })
}

/// Category ids of SKUs from the product master.
struct Dict {
    names: Vec<String>,
    by_sku: HashMap<u32, u32>,
}

impl Dict {
    fn build(ds: &Dataset) -> Dict {
        let mut names: Vec<String> = ds
            .products
            .values()
            .filter_map(|p| p.category.clone())
            .collect();
        names.sort();
        names.dedup();
        let by_sku = ds
            .products
            .iter()
            .filter_map(|(s, p)| {
                let c = p.category.as_ref()?;
                names.binary_search(c).ok().map(|i| (*s, i as u32))
            })
            .collect();
        Dict { names, by_sku }
    }
    fn of(&self, sku: u32) -> Option<u32> {
        self.by_sku.get(&sku).copied()
    }
}
