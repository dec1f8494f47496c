//! Policy backtest: replay history day by day with the production forecast and policies.
//!
//! Every `refit_days` the panel is rebuilt on the data known that morning (sales up to the
//! day before), forecasts and master data are resolved as in a nightly run, and each series'
//! policy decision is kept until the next refit. On each review day (the supplier's order
//! weekdays, else every `review_period_days`) the policy sees the simulated inventory
//! position and orders through the same MOQ/pack rounding as `run`; the order arrives after
//! the lead time (deterministic, or sampled from the supplier's lead-time sd with a fixed
//! seed). Demand is the recorded history (on days the shop was out of stock that is a lower
//! bound: censored), unmet demand is lost or backordered, and recorded restockable returns
//! come back to stock. A grid of policies × service targets is replayed on the same
//! forecasts, so the curves compare settings, not forecast noise.

use std::collections::BTreeMap;

use chrono::Datelike;
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{PackRounding, Pipeline, PolicyKind, ReturnsUse};
use crate::error::{Error, Result};
use crate::export::table::{ColData, OutTable};
use crate::forecast::{self, SeriesForecast};
use crate::ingest::{self, day_of, Dataset, Day};
use crate::panel::{self, from_date, to_date, Panel};
use crate::replenish::constraints::round_order;
use crate::replenish::dist::DemandDist;
use crate::replenish::policy::{self as pol, PolicyInput, Service};
use crate::replenish::{self, SeriesParams};

/// Options of one backtest.
#[derive(Debug, Clone)]
pub struct Options {
    pub from: Day,
    pub to: Day,
    pub refit_days: usize,
    /// Unmet demand is lost (true) or backordered.
    pub lost_sales: bool,
    /// Sample lead times from the supplier's sd with this seed (None: deterministic).
    pub lead_time_seed: Option<u64>,
    /// Starting stock: Some(x) = x units per series; None = the last stock snapshot on or
    /// before `from`, else the policy's level at the first refit (a steady state).
    pub start_units: Option<f64>,
    pub policies: Vec<PolicyKind>,
    pub service_levels: Vec<f64>,
    /// Fill rate a class must reach for a setting to be recommended.
    pub target_fill_rate: f64,
}

/// State and counters of one series under one setting.
#[derive(Debug, Clone, Default)]
pub struct SimState {
    pub on_hand: f64,
    pub backorders: f64,
    /// (arrival day, units)
    pub pipeline: Vec<(Day, f64)>,
    pub demand: f64,
    pub served: f64,
    pub lost: f64,
    pub stockout_days: usize,
    pub inventory_sum: f64,
    pub days: usize,
    /// Days an order line was placed (one entry per line; purchase orders group them by
    /// supplier and day).
    pub order_days: Vec<Day>,
    pub units_ordered: f64,
    /// Orders the plausibility guard held back (as `run` would).
    pub held_orders: usize,
    pub cycles: usize,
    pub cycles_with_stockout: usize,
    cycle_short: bool,
    pub abs_error: f64,
    pub forecast_days: usize,
    started: bool,
    /// Per day (demand, forecast, end-of-day stock) for the series the report draws.
    pub trace: Option<Vec<[f64; 3]>>,
}

/// What the simulation needs from the policy on a review day.
pub struct Review<'a, 'b> {
    pub kind: PolicyKind,
    pub service: Service,
    pub dist: &'b mut DemandDist<'a>,
    pub prm: &'b SeriesParams,
    pub review_mean: f64,
    pub annual_demand: f64,
    pub cfg: &'b crate::config::ReplenishCfg,
    pub rounding: PackRounding,
    /// Expected restockable returns counted in the position (not in physical stock).
    pub position_extra: f64,
    /// The nightly run's plausibility guard: larger orders are held for review, not placed.
    pub max_order: f64,
}

impl SimState {
    pub fn position(&self) -> f64 {
        self.on_hand - self.backorders + self.pipeline.iter().map(|p| p.1).sum::<f64>()
    }

    /// One day: arrivals, returns, then (on a review day) the order, then demand. Ordering
    /// before demand matches a morning order run; the order arrives `lead` days later.
    pub fn day(
        &mut self,
        t: Day,
        demand: f64,
        returns: f64,
        review: Option<(&mut Review, usize)>,
        lost_sales: bool,
    ) {
        let mut arrived = 0.0;
        self.pipeline.retain(|(d, q)| {
            if *d <= t {
                arrived += q;
                false
            } else {
                true
            }
        });
        self.on_hand += arrived + returns;
        if self.backorders > 0.0 {
            let b = self.backorders.min(self.on_hand);
            self.on_hand -= b;
            self.backorders -= b;
        }
        if let Some((r, lead)) = review {
            if self.started {
                self.cycles += 1;
                if self.cycle_short {
                    self.cycles_with_stockout += 1;
                }
            }
            self.started = true;
            self.cycle_short = false;
            let position = self.position() + r.position_extra;
            let dec = pol::policy(r.kind).decide(&mut PolicyInput {
                dist: r.dist,
                review_mean: r.review_mean,
                annual_demand: r.annual_demand,
                position,
                service: r.service,
                unit_cost: r.prm.unit_cost,
                price: r.prm.price,
                window_days: r.prm.window_days,
                cfg: r.cfg,
            });
            let need = (dec.raw_need - 1e-9).ceil().max(0.0);
            let (q, _, _) = round_order(need, r.prm.moq, r.prm.pack_size, r.rounding);
            if q > r.max_order {
                self.held_orders += 1;
            } else if q > 0.0 {
                self.pipeline.push((t + lead as Day, q));
                self.order_days.push(t);
                self.units_ordered += q;
            }
        }
        self.demand += demand;
        let served = demand.min(self.on_hand.max(0.0));
        self.on_hand -= served;
        self.served += served;
        let short = demand - served;
        if short > 1e-9 {
            self.stockout_days += 1;
            self.cycle_short = true;
            if lost_sales {
                self.lost += short;
            } else {
                self.backorders += short;
            }
        }
        self.inventory_sum += self.on_hand;
        self.days += 1;
    }
}

/// Lead time of an order: the supplier's mean, plus a normal deviation with its sd when
/// sampling (SplitMix64 + Box–Muller, seeded per series and order: reproducible, thread-free).
fn lead_days(prm: &SeriesParams, seed: Option<u64>, key: u64) -> usize {
    let base = prm.lead_time_days;
    let Some(s) = seed.filter(|_| prm.lead_time_sd_days > 0.0) else {
        return base.ceil().max(0.0) as usize;
    };
    let mut z = s ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((x ^ (x >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let (u1, u2) = (next().max(1e-12), next());
    let n = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (base + n * prm.lead_time_sd_days).round().max(0.0) as usize
}

/// One grid setting.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Setting {
    pub policy: PolicyKind,
    pub service_level: f64,
}

/// Per setting and class: the metrics analysts compare.
#[derive(Debug, Clone, Serialize)]
pub struct ClassMetrics {
    pub policy: &'static str,
    pub service_level: f64,
    pub class: String,
    pub series: usize,
    pub fill_rate: f64,
    pub cycle_service_level: f64,
    pub stockout_days: usize,
    pub lost_units: f64,
    pub lost_margin: f64,
    pub avg_inventory_units: f64,
    pub avg_inventory_value: f64,
    pub turns: f64,
    /// Order lines placed.
    pub orders: usize,
    /// Purchase orders: distinct (supplier, day) among the lines.
    pub purchase_orders: usize,
    pub held_orders: usize,
    pub units_ordered: f64,
    pub forecast_mae: f64,
}

/// Series drawn in the report.
const TRACED: usize = 6;

/// Daily demand, forecast and stock of one series under one setting.
#[derive(Debug, Clone)]
pub struct Trace {
    pub sku: String,
    pub location: String,
    pub setting: usize,
    pub days: Vec<[f64; 3]>,
}

pub struct PolicyBacktest {
    pub from: Day,
    pub lost_sales: bool,
    pub pipeline: String,
    pub target_fill_rate: f64,
    pub traces: Vec<Trace>,
    pub settings: Vec<Setting>,
    pub series: OutTable,
    pub classes: Vec<ClassMetrics>,
    pub recommendations: Vec<ClassMetrics>,
    pub reality: Option<ClassMetrics>,
    pub refits: usize,
    pub days: usize,
    pub seconds_forecast: f64,
    pub seconds_simulation: f64,
}

fn window_for(prm: &SeriesParams, kind: PolicyKind, as_of: Day) -> usize {
    replenish::protection_window(
        prm.order_date,
        as_of,
        prm.lead_time_days,
        prm.review_period_days,
        kind,
    )
}

/// Is `t` an order day for this series? The supplier's weekdays, else every R days from `from`.
fn is_review(prm: &SeriesParams, from: Day, t: Day) -> bool {
    if prm.order_weekdays.is_empty() {
        (t - from).rem_euclid(prm.review_period_days.max(1) as Day) == 0
    } else {
        prm.order_weekdays.contains(&to_date(t).weekday())
    }
}

pub fn run(p: &Pipeline, o: &Options) -> Result<PolicyBacktest> {
    if o.to < o.from {
        return Err(Error::Config(crate::error::ConfigError::Invalid {
            key: "--from/--to".into(),
            detail: "--to is before --from".into(),
        }));
    }
    let ds = ingest::load(p)?;
    let full = panel::build(p, &ds, o.to);
    let n = full.series.len();
    let value_at = |panel: &Panel, i: usize, t: Day| -> f64 {
        let s = &panel.series[i];
        if t < s.start {
            return 0.0;
        }
        panel
            .view(i)
            .y
            .get((t - s.start) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    // Recorded restockable returns per (sku, loc, day).
    let mut returns: BTreeMap<(u32, u32, Day), f64> = BTreeMap::new();
    for r in ds.returns.iter().filter(|r| r.restockable != Some(false)) {
        *returns.entry((r.sku, r.loc, day_of(r.at))).or_insert(0.0) += r.qty;
    }
    let settings: Vec<Setting> = o
        .policies
        .iter()
        .flat_map(|k| {
            o.service_levels.iter().map(move |s| Setting {
                policy: *k,
                service_level: *s,
            })
        })
        .collect();
    let ns = settings.len();
    // Starting stock from the last snapshot on or before the first day, where there is one.
    let mut start_snapshot: BTreeMap<(u32, u32), f64> = BTreeMap::new();
    let mut snap_day: BTreeMap<(u32, u32), Day> = BTreeMap::new();
    for r in ds.stock.iter().filter(|r| r.day <= o.from) {
        let d = snap_day.entry((r.sku, r.loc)).or_insert(r.day);
        if r.day >= *d {
            *d = r.day;
            start_snapshot.insert((r.sku, r.loc), (r.on_hand - r.reserved).max(0.0));
        }
    }
    let mut state: Vec<Vec<SimState>> = vec![vec![SimState::default(); n]; ns];
    // The report draws demand, forecast and stock of the biggest sellers of the period.
    let mut by_demand: Vec<(f64, usize)> = (0..n)
        .map(|i| {
            (
                (o.from..=o.to).map(|t| value_at(&full, i, t)).sum::<f64>(),
                i,
            )
        })
        .collect();
    by_demand.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let traced: Vec<usize> = by_demand.iter().take(TRACED).map(|x| x.1).collect();
    for k in 0..ns {
        for &i in &traced {
            state[k][i].trace = Some(Vec::new());
        }
    }
    let mut last_params: Vec<Option<SeriesParams>> = vec![None; n];
    let h = o.refit_days.max(1);
    let (mut t_fc, mut t_sim) = (0.0, 0.0);
    let mut refits = 0;
    let mut origin = o.from;
    let rc = &p.replenish;
    let bar = crate::progress::Progress::new(((o.to - o.from) as u64) / h as u64 + 1, "refits");
    while origin <= o.to {
        let end = (origin + h as Day - 1).min(o.to);
        let started = std::time::Instant::now();
        let panel_o = panel::build(p, &ds, origin - 1);
        let params = replenish::resolve(p, &ds, &panel_o);
        // One forecast per window type the grid needs (periodic: lead + review; else lead).
        let mut fcs: BTreeMap<bool, Vec<SeriesForecast>> = BTreeMap::new();
        for periodic in [true, false] {
            if o.policies
                .iter()
                .any(|k| pol::covers_review(*k) == periodic)
            {
                let kind = if periodic {
                    PolicyKind::OrderUpTo
                } else {
                    PolicyKind::Rq
                };
                let windows: Vec<usize> = params
                    .iter()
                    .map(|prm| window_for(prm, kind, panel_o.as_of))
                    .collect();
                let fc = forecast::run(
                    &panel_o,
                    &p.forecast,
                    h.max(p.horizon_days as usize),
                    &windows,
                );
                fcs.insert(periodic, fc);
            }
        }
        // Expected returns in the position, as the nightly run computes them.
        let any_fc = fcs.values().next().cloned().unwrap_or_default();
        let expected_returns: Vec<f64> = if p.returns.use_in_position == ReturnsUse::Off
            || any_fc.is_empty()
        {
            vec![0.0; panel_o.series.len()]
        } else {
            let (_, rets) = crate::pipeline::forecast_returns(p, &ds, &panel_o, &params, &any_fc);
            rets.iter().map(|r| r.in_position(&p.returns)).collect()
        };
        // Plausibility bound per series, as in `run`.
        let bounds: Vec<f64> = (0..panel_o.series.len())
            .map(|j| replenish::plausibility_bound(panel_o.view(j).y, p.guards.max_order_factor).0)
            .collect();
        t_fc += started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        // Panels are sorted by name, not by id: look series up by key.
        let at_origin: BTreeMap<(u32, u32), usize> = panel_o
            .series
            .iter()
            .enumerate()
            .map(|(j, m)| ((m.sku, m.loc), j))
            .collect();
        let map: Vec<Option<usize>> = full
            .series
            .iter()
            .map(|s| at_origin.get(&(s.sku, s.loc)).copied())
            .collect();
        // Series are independent: simulate them in parallel, settings inside.
        let results: Vec<(usize, Vec<SimState>, Option<SeriesParams>)> = (0..n)
            .into_par_iter()
            .map(|i| {
                let s = &full.series[i];
                let j = map[i];
                let mut local: Vec<SimState> = (0..ns).map(|k| state[k][i].clone()).collect();
                for (k, set) in settings.iter().enumerate() {
                    let st = &mut local[k];
                    let periodic = pol::covers_review(set.policy);
                    let f = j.and_then(|j| fcs.get(&periodic).map(|v| &v[j]));
                    let prm = j.map(|j| {
                        let mut prm = params[j].clone();
                        prm.window_days = window_for(&prm, set.policy, panel_o.as_of);
                        prm
                    });
                    // Per refit and setting: the demand distribution, the guard's limit,
                    // expected returns and the service target stay fixed between refits.
                    let mut dist = f
                        .zip(prm.as_ref())
                        .map(|(f, prm)| DemandDist::new(f, prm.lead_time_sd_days));
                    let bound = j.map(|j| bounds[j]).unwrap_or(f64::INFINITY);
                    let er = j.map(|j| expected_returns[j]).unwrap_or(0.0);
                    let service = Service::new(rc.service_measure, set.service_level);
                    for t in origin..=end {
                        let demand = value_at(&full, i, t);
                        let ret = returns.get(&(s.sku, s.loc, t)).copied().unwrap_or(0.0);
                        match (f, prm.as_ref(), dist.as_mut()) {
                            (Some(f), Some(prm), Some(dist)) => {
                                if t == o.from {
                                    st.on_hand = match (
                                        o.start_units,
                                        start_snapshot.get(&(s.sku, s.loc)),
                                    ) {
                                        (Some(u), _) => u,
                                        (None, Some(q)) => *q,
                                        (None, None) => {
                                            dist.quantile(set.service_level).ceil().min(bound)
                                        }
                                    };
                                }
                                let daily = f.window_mean / f.window_days.max(1) as f64;
                                let fcast =
                                    f.mean.get((t - origin) as usize).copied().unwrap_or(daily);
                                st.abs_error += (fcast - demand).abs();
                                st.forecast_days += 1;
                                let review = prm.active && is_review(prm, o.from, t);
                                let mut r = Review {
                                    kind: set.policy,
                                    service,
                                    dist,
                                    prm,
                                    review_mean: daily * prm.review_period_days as f64,
                                    annual_demand: daily * 365.0,
                                    cfg: rc,
                                    rounding: rc.pack_rounding,
                                    position_extra: er,
                                    max_order: bound,
                                };
                                let lead = lead_days(
                                    prm,
                                    o.lead_time_seed,
                                    ((i as u64) << 32) ^ (t as u64),
                                );
                                st.day(
                                    t,
                                    demand,
                                    ret,
                                    review.then_some((&mut r, lead)),
                                    o.lost_sales,
                                );
                                let oh = st.on_hand;
                                if let Some(tr) = st.trace.as_mut() {
                                    tr.push([demand, fcast, oh]);
                                }
                            }
                            _ => {
                                // Not sold before this refit: nothing to forecast or order yet.
                                st.day(t, demand, ret, None, o.lost_sales);
                                let oh = st.on_hand;
                                if let Some(tr) = st.trace.as_mut() {
                                    tr.push([demand, f64::NAN, oh]);
                                }
                            }
                        }
                    }
                }
                (i, local, j.map(|j| params[j].clone()))
            })
            .collect();
        for (i, local, prm) in results {
            for (k, st) in local.into_iter().enumerate() {
                state[k][i] = st;
            }
            if prm.is_some() {
                last_params[i] = prm;
            }
        }
        t_sim += started.elapsed().as_secs_f64();
        refits += 1;
        bar.inc();
        tracing::info!(origin = %to_date(origin), refit = refits, "policy backtest refit done");
        origin = end + 1;
    }
    bar.finish();
    let days = (o.to - o.from + 1) as usize;
    let class_of = |i: usize| -> (String, String) {
        last_params[i]
            .as_ref()
            .map(|p| (p.abc.to_string(), p.demand_class.to_string()))
            .unwrap_or_else(|| ("C".into(), "new".into()))
    };
    let cost_of = |i: usize| {
        last_params[i]
            .as_ref()
            .and_then(|p| p.unit_cost)
            .unwrap_or(0.0)
    };
    let supplier_of = |i: usize| {
        last_params[i]
            .as_ref()
            .map(|p| p.supplier_id.clone())
            .unwrap_or_default()
    };
    let margin_of = |i: usize| {
        last_params[i]
            .as_ref()
            .and_then(|p| Some(p.price? - p.unit_cost?))
            .unwrap_or(0.0)
            .max(0.0)
    };
    // Series table.
    let mut t = OutTable::default();
    let (mut c_pol, mut c_sl, mut c_sku, mut c_loc, mut c_abc, mut c_cls) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut nums: Vec<Vec<Option<f64>>> = vec![Vec::new(); 11];
    for (k, set) in settings.iter().enumerate() {
        for i in 0..n {
            let st = &state[k][i];
            let (abc, cls) = class_of(i);
            c_pol.push(Some(set.policy.as_str().to_string()));
            c_sl.push(Some(set.service_level));
            c_sku.push(Some(ds.skus.name(full.series[i].sku).to_string()));
            c_loc.push(Some(ds.locs.name(full.series[i].loc).to_string()));
            c_abc.push(Some(abc));
            c_cls.push(Some(cls));
            let avg_inv = st.inventory_sum / st.days.max(1) as f64;
            let vals = [
                st.demand,
                st.served,
                st.lost,
                st.stockout_days as f64,
                if st.demand > 0.0 {
                    st.served / st.demand
                } else {
                    1.0
                },
                avg_inv,
                avg_inv * cost_of(i),
                st.order_days.len() as f64,
                st.units_ordered,
                st.lost * margin_of(i),
                st.abs_error / st.forecast_days.max(1) as f64,
            ];
            for (c, v) in vals.iter().enumerate() {
                nums[c].push(Some((v * 1e4).round() / 1e4));
            }
        }
    }
    t.push("policy", ColData::Str(c_pol))
        .push("service_level", ColData::F64(c_sl))
        .push("sku", ColData::Str(c_sku))
        .push("location", ColData::Str(c_loc))
        .push("abc", ColData::Str(c_abc))
        .push("demand_class", ColData::Str(c_cls));
    for (c, name) in [
        "demand",
        "served",
        "lost_units",
        "stockout_days",
        "fill_rate",
        "avg_inventory_units",
        "avg_inventory_value",
        "orders",
        "units_ordered",
        "lost_margin",
        "forecast_mae",
    ]
    .iter()
    .enumerate()
    {
        t.push(*name, ColData::F64(std::mem::take(&mut nums[c])));
    }
    // Class metrics: total, per ABC and per demand class.
    let mut classes = Vec::new();
    for (k, set) in settings.iter().enumerate() {
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            let (abc, cls) = class_of(i);
            groups.entry("all".into()).or_default().push(i);
            groups.entry(format!("abc_{abc}")).or_default().push(i);
            groups.entry(format!("class_{cls}")).or_default().push(i);
        }
        for (g, idx) in groups {
            classes.push(aggregate(
                set,
                &g,
                &idx,
                &state[k],
                &cost_of,
                &margin_of,
                &supplier_of,
                days,
            ));
        }
    }
    // Recommendation per class: the least inventory value reaching the target fill rate,
    // else the highest fill rate.
    let mut recommendations = Vec::new();
    let mut by_class: BTreeMap<String, Vec<&ClassMetrics>> = BTreeMap::new();
    for c in &classes {
        by_class.entry(c.class.clone()).or_default().push(c);
    }
    for (_, v) in by_class {
        let ok: Vec<&&ClassMetrics> = v
            .iter()
            .filter(|c| c.fill_rate >= o.target_fill_rate)
            .collect();
        let best = if ok.is_empty() {
            v.iter().max_by(|a, b| a.fill_rate.total_cmp(&b.fill_rate))
        } else {
            ok.into_iter()
                .min_by(|a, b| a.avg_inventory_value.total_cmp(&b.avg_inventory_value))
        };
        if let Some(b) = best {
            recommendations.push((*b).clone());
        }
    }
    let reality = reality(&ds, &full, o, &cost_of);
    let mut traces = Vec::new();
    for (k, row) in state.iter_mut().enumerate() {
        for &i in &traced {
            if let Some(days) = row[i].trace.take() {
                traces.push(Trace {
                    sku: ds.skus.name(full.series[i].sku).to_string(),
                    location: ds.locs.name(full.series[i].loc).to_string(),
                    setting: k,
                    days,
                });
            }
        }
    }
    Ok(PolicyBacktest {
        from: o.from,
        lost_sales: o.lost_sales,
        pipeline: p.name.clone(),
        target_fill_rate: o.target_fill_rate,
        traces,
        settings,
        series: t,
        classes,
        recommendations,
        reality,
        refits,
        days,
        seconds_forecast: t_fc,
        seconds_simulation: t_sim,
    })
}

#[allow(clippy::too_many_arguments)]
fn aggregate(
    set: &Setting,
    class: &str,
    idx: &[usize],
    st: &[SimState],
    cost_of: &dyn Fn(usize) -> f64,
    margin_of: &dyn Fn(usize) -> f64,
    supplier_of: &dyn Fn(usize) -> String,
    days: usize,
) -> ClassMetrics {
    let sum = |f: &dyn Fn(usize) -> f64| idx.iter().map(|&i| f(i)).sum::<f64>();
    let demand = sum(&|i| st[i].demand);
    let served = sum(&|i| st[i].served);
    let cycles = sum(&|i| st[i].cycles as f64);
    let short_cycles = sum(&|i| st[i].cycles_with_stockout as f64);
    let inv_units = sum(&|i| st[i].inventory_sum / st[i].days.max(1) as f64);
    let inv_value = sum(&|i| st[i].inventory_sum / st[i].days.max(1) as f64 * cost_of(i));
    let cogs = sum(&|i| st[i].served * cost_of(i));
    let fd = sum(&|i| st[i].forecast_days as f64);
    ClassMetrics {
        policy: set.policy.as_str(),
        service_level: set.service_level,
        class: class.to_string(),
        series: idx.len(),
        fill_rate: if demand > 0.0 { served / demand } else { 1.0 },
        cycle_service_level: if cycles > 0.0 {
            1.0 - short_cycles / cycles
        } else {
            1.0
        },
        stockout_days: idx.iter().map(|&i| st[i].stockout_days).sum(),
        lost_units: sum(&|i| st[i].lost),
        lost_margin: sum(&|i| st[i].lost * margin_of(i)),
        avg_inventory_units: inv_units,
        avg_inventory_value: inv_value,
        // Annualised cost of goods sold over average inventory value.
        turns: if inv_value > 0.0 {
            cogs / inv_value * 365.0 / days.max(1) as f64
        } else {
            0.0
        },
        orders: idx.iter().map(|&i| st[i].order_days.len()).sum(),
        purchase_orders: {
            let mut po: std::collections::BTreeSet<(String, Day)> =
                std::collections::BTreeSet::new();
            for &i in idx {
                for d in &st[i].order_days {
                    po.insert((supplier_of(i), *d));
                }
            }
            po.len()
        },
        held_orders: idx.iter().map(|&i| st[i].held_orders).sum(),
        units_ordered: sum(&|i| st[i].units_ordered),
        forecast_mae: if fd > 0.0 {
            sum(&|i| st[i].abs_error) / fd
        } else {
            0.0
        },
    }
}

/// What the retailer actually held and missed over the period, where snapshots exist:
/// average on-hand value over snapshot days and stockout (censored) days of the panel.
fn reality(
    ds: &Dataset,
    full: &Panel,
    o: &Options,
    cost_of: &dyn Fn(usize) -> f64,
) -> Option<ClassMetrics> {
    let snaps: Vec<_> = ds
        .stock
        .iter()
        .filter(|r| r.day >= o.from && r.day <= o.to)
        .collect();
    if snaps.is_empty() {
        return None;
    }
    let index: BTreeMap<(u32, u32), usize> = full
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.sku, s.loc), i))
        .collect();
    let mut per: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for r in snaps {
        if let Some(&i) = index.get(&(r.sku, r.loc)) {
            let e = per.entry(i).or_insert((0.0, 0));
            e.0 += r.on_hand;
            e.1 += 1;
        }
    }
    let units: f64 = per.values().map(|(s, c)| s / *c as f64).sum();
    let value: f64 = per
        .iter()
        .map(|(i, (s, c))| s / *c as f64 * cost_of(*i))
        .sum();
    let mut stockout_days = 0;
    for i in 0..full.series.len() {
        let v = full.view(i);
        for (k, c) in v.censored.iter().enumerate() {
            let d = v.start + k as Day;
            if *c && d >= o.from && d <= o.to {
                stockout_days += 1;
            }
        }
    }
    Some(ClassMetrics {
        policy: "actual",
        service_level: f64::NAN,
        class: "all".into(),
        series: per.len(),
        fill_rate: f64::NAN,
        cycle_service_level: f64::NAN,
        stockout_days,
        lost_units: f64::NAN,
        lost_margin: f64::NAN,
        avg_inventory_units: units,
        avg_inventory_value: value,
        turns: f64::NAN,
        orders: 0,
        purchase_orders: 0,
        held_orders: 0,
        units_ordered: f64::NAN,
        forecast_mae: f64::NAN,
    })
}

pub fn classes_table(rows: &[ClassMetrics]) -> OutTable {
    let f = |g: &dyn Fn(&ClassMetrics) -> f64| {
        ColData::F64(
            rows.iter()
                .map(|r| {
                    Some(g(r))
                        .filter(|v| v.is_finite())
                        .map(|v| (v * 1e4).round() / 1e4)
                })
                .collect(),
        )
    };
    let mut t = OutTable::default();
    t.push(
        "policy",
        ColData::Str(rows.iter().map(|r| Some(r.policy.to_string())).collect()),
    )
    .push("service_level", f(&|r| r.service_level))
    .push(
        "class",
        ColData::Str(rows.iter().map(|r| Some(r.class.clone())).collect()),
    )
    .push(
        "series",
        ColData::I64(rows.iter().map(|r| Some(r.series as i64)).collect()),
    )
    .push("fill_rate", f(&|r| r.fill_rate))
    .push("cycle_service_level", f(&|r| r.cycle_service_level))
    .push(
        "stockout_days",
        ColData::I64(rows.iter().map(|r| Some(r.stockout_days as i64)).collect()),
    )
    .push("lost_units", f(&|r| r.lost_units))
    .push("lost_margin", f(&|r| r.lost_margin))
    .push("avg_inventory_units", f(&|r| r.avg_inventory_units))
    .push("avg_inventory_value", f(&|r| r.avg_inventory_value))
    .push("turns", f(&|r| r.turns))
    .push(
        "orders",
        ColData::I64(rows.iter().map(|r| Some(r.orders as i64)).collect()),
    )
    .push(
        "purchase_orders",
        ColData::I64(
            rows.iter()
                .map(|r| Some(r.purchase_orders as i64))
                .collect(),
        ),
    )
    .push(
        "held_orders",
        ColData::I64(rows.iter().map(|r| Some(r.held_orders as i64)).collect()),
    )
    .push("units_ordered", f(&|r| r.units_ordered))
    .push("forecast_mae", f(&|r| r.forecast_mae));
    t
}

/// Options from the command line, checked.
#[allow(clippy::too_many_arguments)]
pub fn options(
    p: &Pipeline,
    from: Option<&str>,
    to: Option<&str>,
    refit_days: usize,
    backorders: bool,
    lead_time_seed: Option<u64>,
    start_units: Option<f64>,
    policies: &[String],
    service_levels: &[f64],
    target_fill_rate: f64,
) -> Result<Options> {
    let bad = |key: &str, detail: String| {
        Error::Config(crate::error::ConfigError::Invalid {
            key: key.to_string(),
            detail,
        })
    };
    let to = match to {
        Some(s) => parse_day("--to", s)?,
        None => match p.as_of {
            Some(d) => from_date(d),
            None => return Err(bad("--to", "needed when the pipeline has no as_of".into())),
        },
    };
    let from = match from {
        Some(s) => parse_day("--from", s)?,
        None => to - 364,
    };
    if from > to {
        return Err(bad("--from", "is after --to".into()));
    }
    if refit_days == 0 || refit_days > 365 {
        return Err(bad("--refit-days", "must be 1..=365".into()));
    }
    let mut kinds = Vec::new();
    for s in policies {
        let k = PolicyKind::parse(s).ok_or_else(|| {
            bad(
                "--policies",
                format!("'{s}' is not a policy (order_up_to, rq, min_max, newsvendor)"),
            )
        })?;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    for v in service_levels.iter().chain([&target_fill_rate]) {
        crate::config::check_service_level("--service-levels", *v)?;
    }
    if let Some(u) = start_units {
        if !(u.is_finite() && u >= 0.0) {
            return Err(bad("--start-units", format!("{u} must be >= 0")));
        }
    }
    if kinds.is_empty() || service_levels.is_empty() {
        return Err(bad(
            "--policies",
            "need at least one policy and one service level".into(),
        ));
    }
    Ok(Options {
        from,
        to,
        refit_days,
        lost_sales: !backorders,
        lead_time_seed,
        start_units,
        policies: kinds,
        service_levels: service_levels.to_vec(),
        target_fill_rate,
    })
}

/// Writes the Parquet files and summary.json; returns the text summary.
pub fn write(b: &PolicyBacktest, dir: &std::path::Path) -> Result<String> {
    std::fs::create_dir_all(dir).map_err(|source| crate::error::OutputError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    b.series
        .write_parquet(&dir.join("policy_backtest_series.parquet"))?;
    classes_table(&b.classes).write_parquet(&dir.join("policy_backtest_classes.parquet"))?;
    classes_table(&b.recommendations)
        .write_parquet(&dir.join("policy_backtest_recommendations.parquet"))?;
    let v = serde_json::json!({
        "refits": b.refits,
        "days": b.days,
        "settings": b.settings,
        "seconds_forecast": b.seconds_forecast,
        "seconds_simulation": b.seconds_simulation,
        "total": b.classes.iter().filter(|c| c.class == "all").collect::<Vec<_>>(),
        "recommendations": b.recommendations,
        "actual": b.reality.as_ref().map(|r| serde_json::json!({
            "series_with_snapshots": r.series,
            "avg_inventory_units": r.avg_inventory_units,
            "avg_inventory_value": r.avg_inventory_value,
            "stockout_days": r.stockout_days,
        })),
    });
    crate::export::write_json(&dir.join("summary.json"), &v)?;
    let html = crate::report::policy_backtest_html(b);
    let path = dir.join("report.html");
    std::fs::write(&path, html).map_err(|source| crate::error::OutputError::Io { path, source })?;
    let mut s = format!(
        "policy backtest: {} days, {} refits (forecast {:.1} s, simulation {:.1} s)\n\n{:<12} {:>6} {:>9} {:>8} {:>10} {:>14} {:>10} {:>7}\n",
        b.days, b.refits, b.seconds_forecast, b.seconds_simulation,
        "policy", "target", "fill rate", "CSL", "lost units", "avg inv value", "stockout d", "lines"
    );
    for c in b.classes.iter().filter(|c| c.class == "all") {
        s += &format!(
            "{:<12} {:>6.2} {:>9.3} {:>8.3} {:>10.0} {:>14.0} {:>10} {:>7}\n",
            c.policy,
            c.service_level,
            c.fill_rate,
            c.cycle_service_level,
            c.lost_units,
            c.avg_inventory_value,
            c.stockout_days,
            c.orders
        );
    }
    s += "\nrecommended per class (least inventory value at the target fill rate):\n";
    for c in &b.recommendations {
        s += &format!(
            "  {:<20} {:<12} {:.2}  fill rate {:.3}, avg inventory value {:.0}\n",
            c.class, c.policy, c.service_level, c.fill_rate, c.avg_inventory_value
        );
    }
    if let Some(r) = &b.reality {
        s += &format!(
            "\nactual (stock snapshots): avg inventory {:.0} units / value {:.0}, {} stockout days\n",
            r.avg_inventory_units, r.avg_inventory_value, r.stockout_days
        );
    }
    Ok(s)
}

/// Parses `YYYY-MM-DD` for the CLI.
pub fn parse_day(key: &str, s: &str) -> Result<Day> {
    Ok(from_date(crate::config::parse_date_setting(key, s)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReplenishCfg;

    fn params(lead: f64, moq: f64, pack: f64) -> SeriesParams {
        SeriesParams {
            supplier_id: "S".into(),
            unit_cost: Some(2.0),
            price: Some(5.0),
            currency: "EUR".into(),
            lead_time_days: lead,
            lead_time_sd_days: 0.0,
            moq,
            pack_size: pack,
            service: Service::Cycle(0.5),
            service_source: "default".into(),
            policy: PolicyKind::OrderUpTo,
            policy_source: "default".into(),
            abc: 'A',
            xyz: 'X',
            demand_class: "smooth",
            order_date: 1,
            review_period_days: 3,
            order_weekdays: vec![],
            window_days: 5,
            shelf_life_days: None,
            max_stock: None,
            min_order_value: None,
            active: true,
            qty_override: None,
            service_override: None,
            defaulted: vec![],
        }
    }

    /// Five days of one SKU, worked by hand: demand 4/day known exactly (forecast 4/day with
    /// zero spread), (R, S) with R = 3, L = 2 → window 5 days → S = 20; reviews on days 0
    /// and 3; start stock 10; lost sales.
    ///
    /// day 0: review, position 10 → order 10 (arrives day 2); demand 4 → on hand 6
    /// day 1: demand 4 → 2
    /// day 2: +10 arrive → 12; demand 4 → 8
    /// day 3: review, position 8 → order 12 (arrives day 5); demand 4 → 4
    /// day 4: demand 9 (a spike) → 4 served, 5 lost, stockout → 0
    #[test]
    fn hand_computed_days() {
        let f = SeriesForecast::fixed(20.0, 5, "normal_approx", 0.0);
        let prm = params(2.0, 1.0, 1.0);
        let cfg = ReplenishCfg::default();
        let mut st = SimState {
            on_hand: 10.0,
            ..Default::default()
        };
        let demand = [4.0, 4.0, 4.0, 4.0, 9.0];
        for (t, d) in demand.iter().enumerate() {
            let mut dist = DemandDist::new(&f, 0.0);
            let mut r = Review {
                kind: PolicyKind::OrderUpTo,
                service: Service::Cycle(0.9),
                dist: &mut dist,
                prm: &prm,
                review_mean: 12.0,
                annual_demand: 4.0 * 365.0,
                cfg: &cfg,
                rounding: PackRounding::Up,
                position_extra: 0.0,
                max_order: f64::INFINITY,
            };
            let review = t % 3 == 0;
            st.day(t as Day, *d, 0.0, review.then_some((&mut r, 2)), true);
        }
        assert_eq!(st.order_days.len(), 2);
        assert_eq!(st.units_ordered, 22.0);
        assert_eq!(st.pipeline, vec![(5, 12.0)]);
        assert_eq!(st.on_hand, 0.0);
        assert_eq!((st.served, st.lost, st.stockout_days), (20.0, 5.0, 1));
        // End-of-day stock 6 + 2 + 8 + 4 + 0 = 20 over 5 days.
        assert_eq!(st.inventory_sum, 20.0);
        // One completed cycle (days 0–2) without a stockout; the open one has one.
        assert_eq!((st.cycles, st.cycles_with_stockout), (1, 0));
    }

    /// An order above the plausibility bound is held, as the nightly run would.
    #[test]
    fn guard_holds_implausible_orders() {
        let f = SeriesForecast::fixed(20.0, 5, "normal_approx", 0.0);
        let prm = params(2.0, 1.0, 1.0);
        let cfg = ReplenishCfg::default();
        let mut st = SimState::default();
        let mut dist = DemandDist::new(&f, 0.0);
        let mut r = Review {
            kind: PolicyKind::OrderUpTo,
            service: Service::Cycle(0.9),
            dist: &mut dist,
            prm: &prm,
            review_mean: 12.0,
            annual_demand: 4.0 * 365.0,
            cfg: &cfg,
            rounding: PackRounding::Up,
            position_extra: 0.0,
            max_order: 15.0,
        };
        st.day(0, 0.0, 0.0, Some((&mut r, 2)), true);
        assert_eq!((st.order_days.len(), st.held_orders), (0, 1));
        assert!(st.pipeline.is_empty());
    }

    /// Backorders are served first from the next arrival.
    #[test]
    fn backorders_are_filled_first() {
        let mut st = SimState {
            on_hand: 1.0,
            pipeline: vec![(1, 5.0)],
            ..Default::default()
        };
        st.day(0, 3.0, 0.0, None, false);
        assert_eq!((st.on_hand, st.backorders), (0.0, 2.0));
        st.day(1, 1.0, 0.0, None, false);
        assert_eq!((st.on_hand, st.backorders, st.served), (2.0, 0.0, 2.0));
        assert_eq!(st.lost, 0.0);
    }

    #[test]
    fn sampled_lead_times_are_reproducible_and_spread() {
        let mut prm = params(10.0, 1.0, 1.0);
        prm.lead_time_sd_days = 2.0;
        let a: Vec<usize> = (0..200).map(|k| lead_days(&prm, Some(7), k)).collect();
        let b: Vec<usize> = (0..200).map(|k| lead_days(&prm, Some(7), k)).collect();
        assert_eq!(a, b);
        let mean = a.iter().sum::<usize>() as f64 / 200.0;
        assert!((mean - 10.0).abs() < 0.5, "{mean}");
        assert!(a.iter().any(|l| *l != 10));
        assert_eq!(lead_days(&prm, None, 3), 10);
    }
}
