//! Returns: how many sold units come back to stock, and when.
//!
//! Per SKU: a return rate r (returned units / sold units, for sales whose return window has
//! closed), a lag pmf f(k) (days from sale to arrival, k = 0..=W), and a restockable share s.
//! Sparse SKUs borrow strength by beta-binomial empirical Bayes, SKU → category → all:
//!   κ (prior strength) by the method of moments over SKUs, m_all = ΣR/ΣN,
//!   m_cat = (R_cat + κ m_all)/(N_cat + κ),  r_sku = (R + κ m_cat)/(N + κ),
//! so three sales never give a 0 % or 100 % rate. R and N are effective units: sold and
//! returned units divided by the design effect Σq²/Σq of the SKU's sale lines, because a
//! line comes back whole and a few big lines are a few trials, not hundreds. The lag pmf of a SKU is its own counts plus
//! `lag_prior_weight` pseudo-returns spread like the pooled pmf.
//!
//! Forecast: every sale line is a Bernoulli trial — customers send a line back whole — so a
//! line of q units sold on day d comes back on day t with p = r·s·f(t−d), adding q·p to the
//! mean and q²·p(1−p) to the variance (a weighted Poisson-binomial sum, not a Poisson).
//! Forecast sales use the series' lumpiness k = Σq²/Σq: Var ≈ m·k·p(1−p) + p²·Var(sales).
//! Lines already back are not subtracted and p is not conditioned on "not back yet": we do
//! not know per series which units came back, and the unconditional form is exact in
//! expectation (conditioning without subtracting over-predicted the sample by 8 %).
//! The rate's own posterior variance and its drift between periods add mean²·(Var(r)/r² + c)
//! (they move all lines of a SKU together).
//! Quantiles treat the sum as a count with that mean and variance (Poisson, negative
//! binomial if overdispersed, normal if large).

pub mod covariates;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use serde::Serialize;

use crate::config::Pipeline;
use crate::forecast::quantile::count_quantile;
use crate::forecast::SeriesForecast;
use crate::ingest::{day_of, Dataset, Day, DemandLine, ReturnLine, Secs};

/// Fitted return parameters of one SKU.
#[derive(Debug, Clone, Serialize)]
pub struct SkuReturns {
    pub category: String,
    pub sold_units: f64,
    pub returned_units: f64,
    pub raw_rate: Option<f64>,
    pub rate: f64,
    /// N_eff/(N_eff+κ): how much of the rate is the SKU's own data (1) vs. the prior (0).
    pub shrinkage_weight: f64,
    /// Variance of the rate under its beta posterior, r(1−r)/(N_eff+κ+1): the rate is an
    /// estimate, and its uncertainty hits every line of the SKU at once.
    pub rate_var: f64,
    /// Sold units in the rate window divided by the design effect Σq²/Σq of their lines:
    /// the number of independent unit trials they are worth.
    pub effective_units: f64,
    pub lag_pmf: Vec<f64>,
    pub lag_mean_days: f64,
    pub lag_p50_days: usize,
    pub lag_p90_days: usize,
    pub restockable_share: f64,
    pub linked_returns: usize,
    /// Days (≤ as-of) on which restockable returns of the SKU arrived, sorted, distinct.
    pub return_days: Vec<Day>,
    /// First sale of the SKU (≤ as-of).
    pub first_sale_day: Day,
}

/// Counts that `check` reports as return data quality.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReturnQuality {
    pub returns: usize,
    pub linked_by: BTreeMap<&'static str, usize>,
    pub without_sale: usize,
    pub before_sale: usize,
    pub rate_above_one: usize,
    pub after_as_of: usize,
    /// Return lines above `outlier_factor` × the SKU's median sale line (fitted as that size).
    pub outliers: usize,
}

#[derive(Debug, Clone)]
pub struct ReturnModel {
    pub window: usize,
    pub global_rate: f64,
    pub kappa: f64,
    /// Squared coefficient of variation of a SKU's rate from one half-year to the next,
    /// beyond sampling noise: returns come in waves (a customer, a faulty batch), so the
    /// coming weeks' rate is uncertain even when the long-run rate is well known.
    pub rate_drift: f64,
    pub global_lag: Vec<f64>,
    pub lag_source: &'static str,
    pub restockable_source: &'static str,
    pub global_restockable: f64,
    pub per_sku: BTreeMap<u32, SkuReturns>,
    pub quality: ReturnQuality,
    pub as_of: Day,
}

/// Past windows an occurrence estimate looks back on, and the fewest it needs.
const OCCURRENCE_BLOCKS: usize = 26;
const OCCURRENCE_MIN_BLOCKS: usize = 4;

impl ReturnModel {
    /// Probability that no restockable return of the SKU arrives in the next `window` days,
    /// from how often that happened in the last 26 windows of the same length since its first
    /// sale (Jeffreys estimate 1 − (k + ½)/(n + 1)). `None` with fewer than 4 such windows.
    ///
    /// Returns come in events — a customer sends back a line or cancels an order — and events
    /// are rarer than the line-level model makes them when lines cluster by customer. Like the
    /// occurrence probability of TSB for demand, this calibrates the zero class on history.
    pub fn occurrence_p0(&self, s: &SkuReturns, window: usize) -> Option<f64> {
        let l = window.max(1) as Day;
        let (mut n, mut k) = (0usize, 0usize);
        for b in 0..OCCURRENCE_BLOCKS as Day {
            let end = self.as_of - b * l;
            let start = end - l; // block = (start, end]
            if start < s.first_sale_day {
                break;
            }
            n += 1;
            let i = s.return_days.partition_point(|d| *d <= start);
            if s.return_days.get(i).is_some_and(|d| *d <= end) {
                k += 1;
            }
        }
        (n >= OCCURRENCE_MIN_BLOCKS).then(|| 1.0 - (k as f64 + 0.5) / (n as f64 + 1.0))
    }
}

/// Quantile of a return count with a calibrated zero class: 0 while p ≤ P(no return), else
/// the count model's quantile — the CDF is max(F_model, p0), still a distribution.
pub fn hurdle_quantile(mean: f64, var: f64, p0: Option<f64>, p: f64) -> f64 {
    if p0.is_some_and(|z| p <= z) {
        return 0.0;
    }
    count_quantile(mean, var, p)
}

struct Linked {
    sku: u32,
    sale_day: Option<Day>,
    ret_day: Day,
    qty: f64,
    restockable: Option<bool>,
}

fn poisson_pmf(mean: f64, w: usize) -> Vec<f64> {
    let mut v = Vec::with_capacity(w + 1);
    let mut p = (-mean).exp();
    for k in 0..=w {
        if k > 0 {
            p *= mean / k as f64;
        }
        v.push(p);
    }
    v
}

fn pmf_stats(pmf: &[f64]) -> (f64, usize, usize) {
    let total: f64 = pmf.iter().sum();
    if total <= 0.0 {
        return (0.0, 0, 0);
    }
    let mean = pmf
        .iter()
        .enumerate()
        .map(|(k, p)| k as f64 * p)
        .sum::<f64>()
        / total;
    let mut c = 0.0;
    let (mut p50, mut p90) = (None, None);
    for (k, p) in pmf.iter().enumerate() {
        c += p / total;
        if p50.is_none() && c >= 0.5 {
            p50 = Some(k);
        }
        if p90.is_none() && c >= 0.9 {
            p90 = Some(k);
        }
    }
    (mean, p50.unwrap_or(0), p90.unwrap_or(pmf.len() - 1))
}

/// Method-of-moments prior strength κ of a beta-binomial from per-SKU (R, N).
pub fn beta_binomial_kappa(data: &[(f64, f64)]) -> f64 {
    let n_tot: f64 = data.iter().map(|d| d.1).sum();
    let r_tot: f64 = data.iter().map(|d| d.0).sum();
    if n_tot <= 0.0 || data.len() < 3 {
        return 1e6; // not enough SKUs to see between-SKU variation: pool fully
    }
    let m = (r_tot / n_tot).clamp(1e-9, 1.0 - 1e-9);
    let s2 = data
        .iter()
        .filter(|d| d.1 > 0.0)
        .map(|d| d.1 * (d.0 / d.1 - m).powi(2))
        .sum::<f64>()
        / n_tot;
    // Expected binomial noise part of s2: m(1−m)·(number of SKUs)/N_tot.
    let k = data.iter().filter(|d| d.1 > 0.0).count() as f64;
    let tau2 = s2 - m * (1.0 - m) * k / n_tot;
    if tau2 <= 0.0 {
        return 1e6;
    }
    (m * (1.0 - m) / tau2 - 1.0).clamp(1.0, 1e6)
}

/// Relative drift c of SKU return rates between two periods, by the method of moments:
/// E[(r₁−r₂)²] = r(1−r)(1/N₁+1/N₂) + 2c·r² for a SKU with rate r, so
/// c = Σw[(r₁−r₂)² − r̂(1−r̂)(1/N₁+1/N₂)] / Σw·2r̂² with precision weights w = 1/(1/N₁+1/N₂).
/// Input per SKU: [(sold, returned); 2] in effective units. 0 when rates are stable.
pub fn rate_drift(halves: impl Iterator<Item = [(f64, f64); 2]>) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for [(n1, r1), (n2, r2)] in halves {
        if n1 < 1.0 || n2 < 1.0 || r1 + r2 <= 0.0 {
            continue;
        }
        let inv = 1.0 / n1 + 1.0 / n2;
        let w = 1.0 / inv;
        let pooled = (r1 + r2) / (n1 + n2);
        num += w * ((r1 / n1 - r2 / n2).powi(2) - pooled * (1.0 - pooled) * inv);
        den += w * 2.0 * pooled * pooled;
    }
    if den > 0.0 {
        (num / den).clamp(0.0, 4.0)
    } else {
        0.0
    }
}

/// The sale lines returns can link to: the first line of each (order, SKU), and each
/// (customer, SKU)'s lines in time order. Only keys some return carries are indexed: on an
/// M5-size history a full index held 17 M entries for 0.5 M returns.
pub(crate) struct SaleIndex {
    by_order: HashMap<(u32, u32), usize>,
    by_customer: HashMap<(u32, u32), Vec<(Secs, usize)>>,
}

impl SaleIndex {
    pub(crate) fn build(ds: &Dataset, keep: impl Fn(&DemandLine) -> bool) -> SaleIndex {
        const UNSET: usize = usize::MAX;
        let mut by_order: HashMap<(u32, u32), usize> = HashMap::default();
        let mut by_customer: HashMap<(u32, u32), Vec<(Secs, usize)>> = HashMap::default();
        for r in &ds.returns {
            if let Some(o) = r.order_id.as_deref().and_then(|o| ds.orders.get(o)) {
                by_order.insert((o, r.sku), UNSET);
            }
            if let Some(c) = r.customer {
                by_customer.insert((c, r.sku), Vec::new());
            }
        }
        for (i, d) in ds.demand.iter().enumerate().filter(|(_, d)| keep(d)) {
            if let Some(first) = d.order().and_then(|o| by_order.get_mut(&(o, d.sku))) {
                if *first == UNSET {
                    *first = i;
                }
            }
            if let Some(v) = d.customer().and_then(|c| by_customer.get_mut(&(c, d.sku))) {
                v.push((d.at, i));
            }
        }
        by_order.retain(|_, i| *i != UNSET);
        for v in by_customer.values_mut() {
            v.sort_unstable();
        }
        SaleIndex {
            by_order,
            by_customer,
        }
    }

    /// The sale line with the return's order id and SKU.
    pub(crate) fn by_order(&self, ds: &Dataset, r: &ReturnLine) -> Option<usize> {
        let o = ds.orders.get(r.order_id.as_deref()?)?;
        self.by_order.get(&(o, r.sku)).copied()
    }

    /// The customer's latest purchase of the SKU at or before the return.
    pub(crate) fn by_customer(&self, r: &ReturnLine) -> Option<usize> {
        let v = self.by_customer.get(&(r.customer?, r.sku))?;
        v.iter().rev().find(|(at, _)| *at <= r.at).map(|x| x.1)
    }
}

/// Fits the return model on data known at `as_of`.
pub fn fit(p: &Pipeline, ds: &Dataset, as_of: Day) -> ReturnModel {
    let cfg = &p.returns;
    let w = cfg.window_days;
    let mut q = ReturnQuality::default();
    // Sales indexes for linking.
    let sales = SaleIndex::build(ds, |d| day_of(d.at) <= as_of);
    // First sale per SKU; its keys are the SKUs sold up to as-of.
    let mut first_sale: HashMap<u32, Day> = HashMap::default();
    for d in ds.demand.iter().filter(|d| day_of(d.at) <= as_of) {
        let f = first_sale.entry(d.sku).or_insert(Day::MAX);
        *f = (*f).min(day_of(d.at));
    }
    let mut lines: HashMap<u32, Vec<f64>> = HashMap::default();
    for d in ds.demand.iter().filter(|d| day_of(d.at) <= as_of) {
        lines.entry(d.sku).or_default().push(d.qty);
    }
    let median_line: HashMap<u32, f64> = lines
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            (k, v[v.len() / 2])
        })
        .collect();
    let mut linked = Vec::new();
    for r in &ds.returns {
        let ret_day = day_of(r.at);
        if ret_day > as_of {
            q.after_as_of += 1;
            continue;
        }
        q.returns += 1;
        if !first_sale.contains_key(&r.sku) {
            q.without_sale += 1;
            continue;
        }
        // Bulk take-backs are real events but their size is no guide to the next one: they
        // count as a return of `outlier_factor` × the SKU's median sale line (winsorised).
        let cap = median_line
            .get(&r.sku)
            .map_or(f64::INFINITY, |m| cfg.outlier_factor * m.max(1.0));
        if r.qty > cap {
            q.outliers += 1;
        }
        let qty = r.qty.min(cap);
        let sale_day = |i: usize| day_of(ds.demand[i].at);
        let (sale, how) = if let Some(i) = sales.by_order(ds, r) {
            (Some(sale_day(i)), "order_id")
        } else if let Some(a) = r.order_at {
            (Some(day_of(a)), "order_date")
        } else if r.customer.is_some() {
            let s = sales.by_customer(r).map(sale_day);
            (s, if s.is_some() { "customer" } else { "unlinked" })
        } else {
            (None, "unlinked")
        };
        let sale = match sale {
            Some(d) if d > ret_day => {
                q.before_sale += 1;
                None
            }
            s => s,
        };
        *q.linked_by
            .entry(if sale.is_some() { how } else { "unlinked" })
            .or_insert(0) += 1;
        linked.push(Linked {
            sku: r.sku,
            sale_day: sale,
            ret_day,
            qty,
            restockable: r.restockable,
        });
    }

    // Pooled lag pmf from linked returns (mass beyond W is left out: those arrive too late).
    let mut lag_counts = vec![0.0; w + 1];
    let mut lag_total = 0.0;
    for l in linked.iter().filter(|l| l.sale_day.is_some()) {
        let lag = (l.ret_day - l.sale_day.unwrap_or(l.ret_day)) as usize;
        lag_total += l.qty;
        if lag <= w {
            lag_counts[lag] += l.qty;
        }
    }
    let (global_lag, lag_source) = if lag_total >= 20.0 {
        (
            lag_counts.iter().map(|c| c / lag_total).collect::<Vec<_>>(),
            "linked_returns",
        )
    } else {
        (poisson_pmf(cfg.default_lag_days, w), "default")
    };
    let median_lag = pmf_stats(&global_lag).1 as Day;

    // Rate estimation window: sales old enough for their returns to have come back.
    let (lo, hi) = (as_of - cfg.history_days as Day, as_of - w as Day);
    let mid = lo + (hi - lo) / 2;
    let mut sold: BTreeMap<u32, f64> = BTreeMap::new();
    let mut sold_sq: BTreeMap<u32, f64> = BTreeMap::new();
    // (sold, returned) per half of the rate window, to see how much rates drift over time.
    let mut halves: BTreeMap<u32, [(f64, f64); 2]> = BTreeMap::new();
    for d in &ds.demand {
        let day = day_of(d.at);
        if day >= lo && day <= hi {
            *sold.entry(d.sku).or_insert(0.0) += d.qty;
            *sold_sq.entry(d.sku).or_insert(0.0) += d.qty * d.qty;
            halves.entry(d.sku).or_default()[usize::from(day > mid)].0 += d.qty;
        }
    }
    // Kish design effect: a line comes back whole, so units are clustered in lines and a
    // SKU's evidence is (Σq)²/Σq² effective units, not Σq. 96 units back from one line of a
    // SKU that sold 270 units in 40 lines is one event, not 96 independent trials.
    let deff = |s: &u32| -> f64 {
        match (sold.get(s), sold_sq.get(s)) {
            (Some(&n), Some(&n2)) if n > 0.0 => (n2 / n).max(1.0),
            _ => 1.0,
        }
    };
    let mut ret: BTreeMap<u32, f64> = BTreeMap::new();
    let mut sku_lags: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    let mut restock: BTreeMap<u32, (f64, f64)> = BTreeMap::new();
    let mut linked_n: BTreeMap<u32, usize> = BTreeMap::new();
    let mut ret_days: BTreeMap<u32, Vec<Day>> = BTreeMap::new();
    for l in linked.iter().filter(|l| l.restockable != Some(false)) {
        ret_days.entry(l.sku).or_default().push(l.ret_day);
    }
    for v in ret_days.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    let mut sku_all: BTreeMap<u32, f64> = BTreeMap::new();
    for l in &linked {
        let sale = l.sale_day.unwrap_or(l.ret_day - median_lag);
        if sale >= lo && sale <= hi {
            *ret.entry(l.sku).or_insert(0.0) += l.qty;
            halves.entry(l.sku).or_default()[usize::from(sale > mid)].1 += l.qty;
        }
        if let Some(s) = l.sale_day {
            let lag = (l.ret_day - s) as usize;
            let v = sku_lags.entry(l.sku).or_insert_with(|| vec![0.0; w + 1]);
            if lag <= w {
                v[lag] += l.qty;
            }
            *linked_n.entry(l.sku).or_insert(0) += 1;
            *sku_all.entry(l.sku).or_insert(0.0) += l.qty;
        }
        if let Some(b) = l.restockable {
            let e = restock.entry(l.sku).or_insert((0.0, 0.0));
            e.0 += if b { l.qty } else { 0.0 };
            e.1 += l.qty;
        }
    }
    let category = |sku: u32| -> String {
        ds.products
            .get(&sku)
            .and_then(|p| p.category.clone())
            .unwrap_or_else(|| "all".into())
    };
    let skus: Vec<u32> = first_sale
        .keys()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // (returned, sold) in effective units per SKU.
    let eff = |s: &u32| -> (f64, f64) {
        let n = sold.get(s).copied().unwrap_or(0.0);
        let r = ret.get(s).copied().unwrap_or(0.0).min(n);
        let k = deff(s);
        (r / k, n / k)
    };
    let data: Vec<(f64, f64)> = skus.iter().map(eff).filter(|d| d.1 > 0.0).collect();
    let kappa = beta_binomial_kappa(&data);
    let drift = rate_drift(halves.iter().map(|(s, h)| {
        let k = deff(s);
        [
            (h[0].0 / k, h[0].1.min(h[0].0) / k),
            (h[1].0 / k, h[1].1.min(h[1].0) / k),
        ]
    }));
    let (r_all, n_all) = data.iter().fold((0.0, 0.0), |a, d| (a.0 + d.0, a.1 + d.1));
    let global_rate = if n_all > 0.0 { r_all / n_all } else { 0.0 };
    let mut cat_rn: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for s in &skus {
        let (r, n) = eff(s);
        let e = cat_rn.entry(category(*s)).or_insert((0.0, 0.0));
        e.0 += r;
        e.1 += n;
    }
    let cat_rate = |c: &str| {
        let (r, n) = cat_rn.get(c).copied().unwrap_or((0.0, 0.0));
        (r + kappa * global_rate) / (n + kappa)
    };
    let (rs_k, rs_n) = restock
        .values()
        .fold((0.0, 0.0), |a, v| (a.0 + v.0, a.1 + v.1));
    let (global_restockable, restockable_source) = if rs_n > 0.0 {
        (rs_k / rs_n, "returns_data")
    } else {
        (cfg.restockable_share, "default")
    };
    let mut per_sku = BTreeMap::new();
    for s in skus {
        let n = sold.get(&s).copied().unwrap_or(0.0);
        let r_raw = ret.get(&s).copied().unwrap_or(0.0);
        if n > 0.0 && r_raw > n {
            q.rate_above_one += 1;
        }
        let (r_eff, n_eff) = eff(&s);
        let cat = category(s);
        let rate = (r_eff + kappa * cat_rate(&cat)) / (n_eff + kappa);
        let own = sku_lags.get(&s);
        let own_all = sku_all.get(&s).copied().unwrap_or(0.0);
        let wgt = cfg.lag_prior_weight;
        // Own lag counts + `wgt` pseudo-returns shaped like the pooled pmf, as a share of all
        // linked returns (the mass missing to 1 arrives after the window).
        let lag_pmf: Vec<f64> = (0..=w)
            .map(|k| {
                let c = own.map(|v| v[k]).unwrap_or(0.0);
                if own_all + wgt > 0.0 {
                    (c + wgt * global_lag[k]) / (own_all + wgt)
                } else {
                    global_lag[k]
                }
            })
            .collect();
        let (lag_mean, p50, p90) = pmf_stats(&lag_pmf);
        let restockable_share = match restock.get(&s) {
            Some((k, m)) => (k + 10.0 * global_restockable) / (m + 10.0),
            None => global_restockable,
        };
        per_sku.insert(
            s,
            SkuReturns {
                category: cat,
                sold_units: n,
                returned_units: r_raw,
                raw_rate: (n > 0.0).then(|| r_raw / n),
                rate,
                shrinkage_weight: n_eff / (n_eff + kappa),
                rate_var: rate * (1.0 - rate) / (n_eff + kappa + 1.0),
                effective_units: n_eff,
                lag_pmf,
                lag_mean_days: lag_mean,
                lag_p50_days: p50,
                lag_p90_days: p90,
                restockable_share,
                linked_returns: linked_n.get(&s).copied().unwrap_or(0),
                return_days: ret_days.remove(&s).unwrap_or_default(),
                first_sale_day: first_sale.get(&s).copied().unwrap_or(as_of),
            },
        );
    }
    tracing::debug!(
        kappa,
        rate_drift = drift,
        global_rate,
        "return model fitted"
    );
    ReturnModel {
        window: w,
        global_rate,
        kappa,
        rate_drift: drift,
        global_lag,
        lag_source,
        restockable_source,
        global_restockable,
        per_sku,
        quality: q,
        as_of,
    }
}

/// Expected restockable returns of one series over the days after as-of.
#[derive(Debug, Clone, Default)]
pub struct SeriesReturns {
    pub daily_mean: Vec<f64>,
    pub daily_var: Vec<f64>,
    pub window_mean: f64,
    pub window_var: f64,
    /// Calibrated probability of no return at all in the window (see
    /// [`ReturnModel::occurrence_p0`]); `None` leaves the zero class to the count model.
    pub window_p0: Option<f64>,
}

impl SeriesReturns {
    /// Units the inventory position counts, as `returns.use_in_position` says.
    pub fn in_position(&self, cfg: &crate::config::ReturnsCfg) -> f64 {
        match cfg.use_in_position {
            crate::config::ReturnsUse::Off => 0.0,
            crate::config::ReturnsUse::Mean => self.window_mean,
            crate::config::ReturnsUse::Quantile => self.window_quantile(cfg.position_quantile),
        }
    }

    /// Window total (whole units) at cumulative probability `p`.
    pub fn window_quantile(&self, p: f64) -> f64 {
        hurdle_quantile(self.window_mean, self.window_var, self.window_p0, p)
    }
    pub fn daily_quantile(&self, j: usize, p: f64) -> f64 {
        count_quantile(self.daily_mean[j], self.daily_var[j], p)
    }
}

/// Recent sale lines of one series and how lumpy its lines are.
#[derive(Debug, Clone, Default)]
pub struct SeriesLines {
    /// (age in days before as-of, units) of every sale line in the last `window_days`.
    pub recent: Vec<(usize, f64)>,
    /// Σq²/Σq over all its sale lines: expected units per returned line, ≥ 1. A whole line
    /// comes back at once, so the variance scales with q², not q.
    pub lumpiness: f64,
}

/// Groups demand lines by panel series: recent lines for the forecast, lumpiness for the
/// variance of returns from forecast sales.
pub fn series_lines(ds: &Dataset, panel: &crate::panel::Panel, window: usize) -> Vec<SeriesLines> {
    let index = panel.index();
    let mut out = vec![SeriesLines::default(); panel.series.len()];
    let mut sq = vec![(0.0f64, 0.0f64); panel.series.len()];
    for d in &ds.demand {
        let day = day_of(d.at);
        if day > panel.as_of {
            continue;
        }
        let Some(&i) = index.get(&(d.sku, d.loc)) else {
            continue;
        };
        sq[i].0 += d.qty * d.qty;
        sq[i].1 += d.qty;
        let age = (panel.as_of - day) as usize;
        if age <= window {
            out[i].recent.push((age, d.qty));
        }
    }
    for (o, (q2, q)) in out.iter_mut().zip(sq) {
        o.lumpiness = if q > 0.0 { (q2 / q).max(1.0) } else { 1.0 };
        o.recent
            .sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    }
    out
}

/// Restockable returns of one series over the days after as-of: from its recent sale lines
/// (each line returns whole, with probability rate·share·f(lag)) and from forecast sales.
pub fn forecast_series(
    m: &ReturnModel,
    sku: u32,
    lines: &SeriesLines,
    fc: &SeriesForecast,
    window: usize,
) -> SeriesReturns {
    let len = fc.mean.len();
    let mut out = SeriesReturns {
        daily_mean: vec![0.0; len],
        daily_var: vec![0.0; len],
        ..Default::default()
    };
    let Some(s) = m.per_sku.get(&sku) else {
        return out;
    };
    out.window_p0 = m.occurrence_p0(s, window);
    let w = m.window;
    let f = &s.lag_pmf;
    let rs = s.rate * s.restockable_share;
    let win = window.min(len);
    for &(a, q) in &lines.recent {
        if q <= 0.0 || a > w {
            continue;
        }
        let mut p_win = 0.0;
        for j in 0..len {
            let lag = a + j + 1;
            if lag > w {
                break;
            }
            let p = (rs * f[lag]).min(1.0);
            out.daily_mean[j] += q * p;
            out.daily_var[j] += q * q * p * (1.0 - p);
            if j < win {
                p_win += p;
            }
        }
        let p_win = p_win.min(1.0);
        out.window_mean += q * p_win;
        out.window_var += q * q * p_win * (1.0 - p_win);
    }
    // Forecast sales: day j (0-based, j = 0 is as-of + 1) returns on day j + k. Lines of
    // `lumpiness` units on average: Var ≈ m·k·p(1−p) + p²·Var(sales).
    let k_l = lines.lumpiness.max(1.0);
    for j in 0..len {
        let mj = fc.mean[j];
        if mj <= 0.0 {
            continue;
        }
        let var_j = fc
            .quantiles
            .get(j.min(fc.quantiles.len().saturating_sub(1)))
            .map(|q| ((q[5] - q[1]) / 2.5631).powi(2))
            .unwrap_or(mj);
        let mut p_win = 0.0;
        for k in 0..=w {
            let t = j + k;
            if t >= len {
                break;
            }
            let p = rs * f[k];
            out.daily_mean[t] += mj * p;
            out.daily_var[t] += mj * k_l * p * (1.0 - p) + p * p * var_j;
            if t < win {
                p_win += p;
            }
        }
        if j < win {
            let p_win = p_win.min(1.0);
            out.window_mean += mj * p_win;
            out.window_var += mj * k_l * p_win * (1.0 - p_win) + p_win * p_win * var_j;
        }
    }
    // The lines are independent given the rate, but the rate is estimated: every mean moves
    // with it, Var(E[Y|r]) = mean²·Var(r)/r² (law of total variance).
    if s.rate > 0.0 {
        let rel = s.rate_var / (s.rate * s.rate) + m.rate_drift;
        for (v, m) in out.daily_var.iter_mut().zip(&out.daily_mean) {
            *v += m * m * rel;
        }
        out.window_var += out.window_mean * out.window_mean * rel;
    }
    out
}

#[cfg(test)]
mod tests;
