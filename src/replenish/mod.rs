//! Replenishment: inventory position, a policy per series (periodic order-up-to,
//! continuous (r, Q), ERP-style min/max, newsvendor), service targets (cycle or fill rate,
//! per SKU, class or default), constraints (MOQ, packs, capacity, shelf life, supplier
//! minimum order value, budgets), planner overrides, and a line-by-line explanation.
//!
//! Order of operations for one line (each step is a column in the output):
//!   window      = days until the order date + lead time (+ review period for periodic
//!                 policies), demand over it from the forecast (widened for lead-time sd)
//!   position    = on hand − reserved + open POs due within the window + expected returns
//!   policy      → reorder point, target, raw need
//!   need        = raw need rounded up to whole units → MOQ → packs
//!   caps        = shelf life (never more than sells before expiry) and max stock
//!   override    = a planner's fixed quantity or block replaces the result
//!   MOV         = supplier minimum order value topped up (or held) across its lines
//!   budget      = run/supplier caps, increments ranked by shortage avoided per euro
//!   guard       = implausible quantities are held for review.

pub mod abc;
pub mod constraints;
pub mod dist;
mod explain;
pub mod math;
pub mod overrides;
pub mod policy;

use std::collections::BTreeMap;

use chrono::{Datelike, Weekday};
use serde::Serialize;

use crate::config::{MovRule, Pipeline, PolicyKind, ReturnsUse};
use crate::forecast::SeriesForecast;
use crate::ingest::{Dataset, Day, OverrideAction};
use crate::panel::{to_date, Panel};
use crate::returns::SeriesReturns;
pub use constraints::round_order;
use dist::DemandDist;
pub use overrides::OverrideStatus;
use policy::{PolicyInput, Service};

/// Master data resolved for one series, with the fields that fell back to defaults.
#[derive(Debug, Clone)]
pub struct SeriesParams {
    pub supplier_id: String,
    pub unit_cost: Option<f64>,
    pub price: Option<f64>,
    pub currency: String,
    pub lead_time_days: f64,
    pub lead_time_sd_days: f64,
    pub moq: f64,
    pub pack_size: f64,
    pub service: Service,
    pub service_source: String,
    pub policy: PolicyKind,
    pub policy_source: String,
    pub abc: char,
    pub xyz: char,
    pub demand_class: &'static str,
    pub order_date: Day,
    pub review_period_days: u32,
    /// The supplier's order weekdays (empty: every `review_period_days`).
    pub order_weekdays: Vec<Weekday>,
    /// Protection window of the series' policy (the forecast's window).
    pub window_days: usize,
    pub shelf_life_days: Option<f64>,
    pub max_stock: Option<f64>,
    pub min_order_value: Option<f64>,
    pub active: bool,
    /// Planner override of the quantity (fixed or block), index into the dataset's list.
    pub qty_override: Option<usize>,
    pub service_override: Option<usize>,
    pub defaulted: Vec<&'static str>,
}

fn next_order_day(from: Day, weekdays: &[Weekday]) -> Day {
    if weekdays.is_empty() {
        return from;
    }
    (0..7)
        .map(|k| from + k)
        .find(|d| weekdays.contains(&to_date(*d).weekday()))
        .unwrap_or(from)
}

/// Days a policy's decision must cover: until the order date, the lead time, and for
/// periodic policies the review period.
pub fn protection_window(
    order_date: Day,
    as_of: Day,
    lead_days: f64,
    review: u32,
    kind: PolicyKind,
) -> usize {
    let mut w = (order_date - as_of - 1).max(0) as usize + lead_days.ceil() as usize;
    if policy::covers_review(kind) {
        w += review as usize;
    }
    w.max(1)
}

/// The plausibility guard's limit for a series with daily history `y`: `factor` × the
/// larger of its biggest day and its last 90 days. Returns (limit, biggest day, last 90).
pub fn plausibility_bound(y: &[f64], factor: f64) -> (f64, f64, f64) {
    let biggest_day = y.iter().copied().fold(0.0, f64::max);
    let last_90: f64 = y[y.len().saturating_sub(90)..].iter().sum();
    (factor * biggest_day.max(last_90), biggest_day, last_90)
}

/// Looks up class map entries: ABC×XYZ, then ABC, then XYZ, then the demand class.
fn by_class<T: Copy>(
    map: &BTreeMap<String, T>,
    abc: char,
    xyz: char,
    class: &str,
) -> Option<(T, String)> {
    let keys = [
        format!("{abc}{xyz}"),
        abc.to_string(),
        xyz.to_string(),
        class.to_string(),
    ];
    keys.into_iter()
        .find_map(|k| map.get(&k).map(|v| (*v, format!("class {k}"))))
}

/// Looks up product → supplier → pipeline defaults for every series in the panel, and
/// decides each series' policy and service target.
pub fn resolve(p: &Pipeline, ds: &Dataset, panel: &Panel) -> Vec<SeriesParams> {
    let d = &p.defaults;
    let rc = &p.replenish;
    let ovr = overrides::match_series(ds, panel);
    // ABC value: units of the last 365 days × cost (else price, else 1).
    let values: Vec<f64> = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = panel.view(i).y;
            let units: f64 = y[y.len().saturating_sub(365)..].iter().sum();
            let prod = ds.products.get(&s.sku);
            let unit = prod
                .and_then(|p| p.unit_cost.or(p.price))
                .or_else(|| ds.median_price.get(&s.sku).copied())
                .unwrap_or(1.0);
            units * unit
        })
        .collect();
    let abc_class = abc::abc(&values, rc);
    panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let view = panel.view(i);
            let xyz = abc::xyz(abc::weekly_cv(view.y), rc);
            let dclass = crate::forecast::class::classify(
                &view,
                p.forecast.class_window_days,
                p.forecast.new_days,
                p.forecast.dead_days,
            )
            .class
            .as_str();
            let mut defaulted = Vec::new();
            let prod = ds.products.get(&s.sku);
            if prod.is_none() {
                defaulted.push("product_master");
            }
            let prod = prod.cloned().unwrap_or_default();
            let sup_id = prod.supplier_id.clone();
            let sup = sup_id.as_ref().and_then(|id| ds.suppliers.get(id)).cloned();
            if sup_id.is_none() {
                defaulted.push("supplier");
            }
            let lead = match (
                prod.lead_time_days,
                sup.as_ref().and_then(|s| s.lead_time_days),
            ) {
                (Some(l), _) | (None, Some(l)) => l,
                _ => {
                    defaulted.push("lead_time_days");
                    d.lead_time_days
                }
            };
            let lead_sd = sup
                .as_ref()
                .and_then(|s| s.lead_time_sd_days)
                .unwrap_or(d.lead_time_sd_days);
            let moq = prod.moq.unwrap_or_else(|| {
                defaulted.push("moq");
                d.moq
            });
            let pack = prod.pack_size.unwrap_or_else(|| {
                defaulted.push("pack_size");
                d.pack_size
            });
            let (ov_qty, ov_sl) = ovr.get(i).copied().unwrap_or((None, None));
            let (level, service_source) = if let Some(k) = ov_sl {
                let o = &ds.planner_overrides[k];
                (
                    o.value.unwrap_or(d.service_level),
                    format!("override row {}", o.row),
                )
            } else if let Some(v) = prod.service_level {
                (v, "product".to_string())
            } else if let Some((v, src)) = by_class(&rc.service_by_class, abc_class[i], xyz, dclass)
            {
                (v, src)
            } else {
                defaulted.push("service_level");
                (d.service_level, "default".to_string())
            };
            let service = Service::new(rc.service_measure, level);
            let (policy, policy_source) = if let Some(k) = prod.policy {
                (k, "product".to_string())
            } else if let Some((k, src)) = by_class(&rc.policy_by_class, abc_class[i], xyz, dclass)
            {
                (k, src)
            } else {
                (rc.policy, "default".to_string())
            };
            let price = prod.price.or_else(|| ds.median_price.get(&s.sku).copied());
            let unit_cost = match prod.unit_cost {
                Some(c) => Some(c),
                None => {
                    defaulted.push("unit_cost");
                    d.unit_cost_share_of_price.and_then(|share| {
                        ds.median_price
                            .get(&s.sku)
                            .map(|p| (p * share * 100.0).round() / 100.0)
                    })
                }
            };
            let weekdays: &[Weekday] = sup
                .as_ref()
                .map(|s| s.order_weekdays.as_slice())
                .unwrap_or(&[]);
            // Without a supplier calendar, order on the next day the business trades.
            let order_date = if weekdays.is_empty() {
                (panel.as_of + 1..panel.as_of + 15)
                    .find(|d| !panel.calendar.is_closed(*d))
                    .unwrap_or(panel.as_of + 1)
            } else {
                next_order_day(panel.as_of + 1, weekdays)
            };
            let review = if weekdays.is_empty() {
                d.review_period_days
            } else {
                (next_order_day(order_date + 1, weekdays) - order_date) as u32
            };
            let window = protection_window(order_date, panel.as_of, lead, review, policy);
            SeriesParams {
                supplier_id: sup_id.unwrap_or_else(|| d.supplier_id.clone()),
                unit_cost,
                price,
                currency: sup
                    .as_ref()
                    .and_then(|s| s.currency.clone())
                    .unwrap_or_else(|| d.currency.clone()),
                lead_time_days: lead,
                lead_time_sd_days: if rc.lead_time_variability {
                    lead_sd
                } else {
                    0.0
                },
                moq,
                pack_size: pack,
                service,
                service_source,
                policy,
                policy_source,
                abc: abc_class[i],
                xyz,
                demand_class: dclass,
                order_date,
                review_period_days: review,
                order_weekdays: weekdays.to_vec(),
                window_days: window,
                shelf_life_days: prod.shelf_life_days,
                max_stock: prod.max_stock,
                min_order_value: sup.as_ref().and_then(|s| s.min_order_value),
                active: prod.active.unwrap_or(true),
                qty_override: ov_qty,
                service_override: ov_sl,
                defaulted,
            }
        })
        .collect()
}

/// One decision per series; lines with `order_qty > 0` are the proposals.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub sku: String,
    pub location: String,
    pub supplier_id: String,
    pub order_qty: f64,
    /// Quantity computed but held back (plausibility guard, MOV hold); order_qty is then 0.
    pub held_qty: f64,
    pub order_date: Day,
    pub expected_receipt_date: Day,
    pub unit_cost: Option<f64>,
    pub line_value: Option<f64>,
    pub currency: String,
    pub priority: u8,
    pub stockout_date_if_not_ordered: Option<Day>,
    pub on_hand: f64,
    pub stock_snapshot_date: Option<Day>,
    pub on_order: f64,
    pub on_order_later: f64,
    /// Reserved for customers / backordered (from the stock snapshot).
    pub backorders: f64,
    /// Restockable returns expected within the window, as added to the position.
    pub expected_returns: f64,
    /// Their expected value (shown even when the position uses a lower quantile or none).
    pub expected_returns_mean: f64,
    pub inventory_position: f64,
    pub window_days: usize,
    pub lead_time_days: f64,
    pub lead_time_sd_days: f64,
    pub review_period_days: u32,
    pub demand_mean: f64,
    pub demand_quantile: f64,
    /// Probability of the window-demand quantile used (α, the β-equivalent, or the CR).
    pub quantile_level: f64,
    pub policy: &'static str,
    pub policy_source: String,
    pub abc: String,
    pub xyz: String,
    pub demand_class: &'static str,
    pub service_measure: &'static str,
    pub service_target: f64,
    pub service_source: String,
    pub reorder_point: f64,
    pub safety_stock: f64,
    pub target_level: f64,
    pub lot_size: Option<f64>,
    pub lot_source: Option<&'static str>,
    pub raw_need: f64,
    pub moq: f64,
    pub pack_size: f64,
    pub moq_adjustment: f64,
    pub pack_adjustment: f64,
    /// Reduction by shelf life or max stock (≤ 0) and which one bound.
    pub cap_adjustment: f64,
    pub cap_reason: Option<&'static str>,
    pub mov_adjustment: f64,
    /// Supplier order value vs minimum ("412.50 of 500.00") when a minimum exists.
    pub mov_status: Option<String>,
    pub budget_adjustment: f64,
    pub override_action: Option<&'static str>,
    pub override_value: Option<f64>,
    pub override_by: Option<String>,
    pub override_reason: Option<String>,
    pub price: Option<f64>,
    pub newsvendor_underage: Option<f64>,
    pub newsvendor_overage: Option<f64>,
    pub model: String,
    pub quantile_method: String,
    pub reason_code: &'static str,
    pub reason_text: String,
    pub defaulted: String,
    /// Quantity before the plausibility guard / MOV hold (for the explanation).
    #[serde(skip)]
    pub(crate) pre_guard_qty: f64,
    #[serde(skip)]
    pub(crate) mov_held: bool,
    #[serde(skip)]
    pub(crate) guard_bound: (f64, f64, f64),
    /// Most units the caps allow (∞ without caps); MOV top-ups respect it.
    #[serde(skip)]
    pub(crate) cap_units: f64,
    #[serde(skip)]
    pub(crate) inactive: bool,
    /// Planned promotion days inside the protection window (named in the explanation).
    #[serde(skip)]
    pub(crate) promo_days: usize,
    /// Kinds of the shop's planned event days inside the protection window, one per day.
    #[serde(skip)]
    pub(crate) event_days: Vec<String>,
    /// The forecast's stopped-item correction (zero days at the end, P(still sells)).
    #[serde(skip)]
    pub(crate) stall: Option<(usize, f64)>,
    /// Last year's move the forecast was multiplied by (named in the explanation).
    #[serde(skip)]
    pub(crate) yearly_move: Option<f64>,
}

/// Everything `propose` produced besides the lines.
pub struct Replenishment {
    pub lines: Vec<Proposal>,
    pub overrides: Vec<OverrideStatus>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn propose(
    p: &Pipeline,
    ds: &Dataset,
    panel: &Panel,
    params: &[SeriesParams],
    forecasts: &[SeriesForecast],
    returns: &[SeriesReturns],
) -> Replenishment {
    let span = tracing::info_span!("replenish");
    let _g = span.enter();
    let as_of = panel.as_of;
    // Latest snapshot on or before as-of per (sku, loc).
    let mut snap: BTreeMap<(u32, u32), (Day, f64, f64)> = BTreeMap::new();
    for r in ds.stock.iter().filter(|r| r.day <= as_of) {
        let e = snap
            .entry((r.sku, r.loc))
            .or_insert((r.day, r.on_hand, r.reserved));
        if r.day >= e.0 {
            *e = (r.day, r.on_hand, r.reserved);
        }
    }
    let mut pos: BTreeMap<(u32, u32), Vec<(Day, f64)>> = BTreeMap::new();
    for po in &ds.open_pos {
        pos.entry((po.sku, po.loc))
            .or_default()
            .push((po.expected_day, po.qty));
    }
    let rc = &p.replenish;
    let mut out = Vec::with_capacity(panel.series.len());
    for (i, (((s, prm), f), ret)) in panel
        .series
        .iter()
        .zip(params)
        .zip(forecasts)
        .zip(returns)
        .enumerate()
    {
        let (bound, biggest_day, last_90) =
            plausibility_bound(panel.view(i).y, p.guards.max_order_factor);
        let mut defaulted = prm.defaulted.clone();
        let (snapshot_date, on_hand, reserved) = match snap.get(&(s.sku, s.loc)) {
            Some((d, q, r)) => (Some(*d), *q, *r),
            None => {
                defaulted.push("on_hand");
                (None, 0.0, 0.0)
            }
        };
        let window_end = as_of + prm.window_days as Day;
        let empty = Vec::new();
        let my_pos = pos.get(&(s.sku, s.loc)).unwrap_or(&empty);
        let on_order: f64 = my_pos
            .iter()
            .filter(|(d, _)| *d <= window_end)
            .map(|(_, q)| q)
            .fold(0.0, |a, b| a + b);
        let on_order_later: f64 = my_pos
            .iter()
            .filter(|(d, _)| *d > window_end)
            .map(|(_, q)| q)
            .fold(0.0, |a, b| a + b);
        let backorders = reserved;
        let expected_returns = ret.in_position(&p.returns);
        let position = on_hand + on_order - backorders + expected_returns;
        let daily_mean = f.window_mean / f.window_days.max(1) as f64;
        let review_mean = daily_mean * prm.review_period_days as f64;
        let mut dd = DemandDist::new(f, prm.lead_time_sd_days);
        let dec = policy::policy(prm.policy).decide(&mut PolicyInput {
            dist: &mut dd,
            review_mean,
            annual_demand: daily_mean * 365.0,
            position,
            service: prm.service,
            unit_cost: prm.unit_cost,
            price: prm.price,
            window_days: prm.window_days,
            cfg: rc,
        });
        let need_units = (dec.raw_need - 1e-9).ceil().max(0.0);
        let (mut qty, mut moq_adj, mut pack_adj) =
            round_order(need_units, prm.moq, prm.pack_size, rc.pack_rounding);

        // Caps: shelf life (FIFO: stock on hand sells first, so at most what sells from
        // today until the receipt's expiry, minus the position) and max stock.
        let receipt = prm.order_date + prm.lead_time_days.ceil() as Day;
        let mut cap = f64::INFINITY;
        let mut cap_reason = None;
        if let Some(life) = prm.shelf_life_days {
            let days = (receipt - as_of) as usize + life.floor() as usize;
            let sells = demand_over(&f.mean, days);
            let c = (sells - position).max(0.0);
            if c < cap {
                cap = c;
                cap_reason = Some("shelf_life");
            }
        }
        if let Some(m) = prm.max_stock {
            let c = (m - position).max(0.0);
            if c < cap {
                cap = c;
                cap_reason = Some("max_stock");
            }
        }
        let capped = constraints::cap_order(qty, cap, prm.moq, prm.pack_size);
        let cap_adjustment = capped - qty;
        if cap_adjustment == 0.0 {
            cap_reason = None;
        }
        qty = capped;
        if !prm.active {
            (qty, moq_adj, pack_adj) = (0.0, 0.0, 0.0);
        }
        let (mut ov_action, mut ov_value, mut ov_by, mut ov_reason) = (None, None, None, None);
        for k in [prm.qty_override, prm.service_override]
            .into_iter()
            .flatten()
        {
            let o = &ds.planner_overrides[k];
            ov_action = Some(o.action.as_str());
            ov_value = o.value;
            ov_by = Some(o.who.clone());
            ov_reason = Some(o.reason.clone());
            match o.action {
                OverrideAction::FixedQty => qty = o.value.unwrap_or(0.0),
                OverrideAction::Block => qty = 0.0,
                OverrideAction::ServiceLevel => {}
            }
            if prm.qty_override.is_some() {
                break; // the quantity override is what the line shows
            }
        }

        // Stockout date without a new order: walk the daily means against stock + arrivals.
        let mut stock = on_hand - backorders
            + my_pos
                .iter()
                .filter(|(d, _)| *d <= as_of)
                .map(|(_, q)| q)
                .sum::<f64>();
        let mut stockout = None;
        if stock <= 0.0 && f.mean.first().is_some_and(|m| *m > 0.0) {
            stockout = Some(as_of + 1);
        } else {
            for (j, m) in f.mean.iter().enumerate() {
                let day = as_of + 1 + j as Day;
                stock += my_pos
                    .iter()
                    .filter(|(d, _)| *d == day)
                    .map(|(_, q)| q)
                    .sum::<f64>();
                stock -= m;
                if p.returns.use_in_position != ReturnsUse::Off {
                    stock += ret.daily_mean.get(j).copied().unwrap_or(0.0);
                }
                if stock < -1e-9 {
                    stockout = Some(day);
                    break;
                }
            }
        }
        let priority = match stockout {
            Some(d) if d < receipt => 1,
            Some(d) if d <= window_end => 2,
            _ => 3,
        };
        let quantile = dec.demand_quantile;
        defaulted.sort();
        out.push(Proposal {
            sku: ds.skus.name(s.sku).to_string(),
            location: ds.locs.name(s.loc).to_string(),
            supplier_id: prm.supplier_id.clone(),
            order_qty: qty,
            held_qty: 0.0,
            order_date: prm.order_date,
            expected_receipt_date: receipt,
            unit_cost: prm.unit_cost,
            line_value: None,
            currency: prm.currency.clone(),
            priority,
            stockout_date_if_not_ordered: stockout,
            on_hand,
            stock_snapshot_date: snapshot_date,
            on_order,
            on_order_later,
            backorders,
            expected_returns: (expected_returns * 1e4).round() / 1e4,
            expected_returns_mean: (ret.window_mean * 1e4).round() / 1e4,
            inventory_position: position,
            window_days: prm.window_days,
            promo_days: {
                let v = panel.view(i);
                (1..=prm.window_days)
                    .filter(|k| v.promo(v.y.len() - 1 + k))
                    .count()
            },
            event_days: {
                let v = panel.view(i);
                (1..=prm.window_days)
                    .filter_map(|k| v.event_kind(v.y.len() - 1 + k))
                    .filter_map(|k| panel.calendar.events.get(k).map(|e| e.0.clone()))
                    .collect()
            },
            stall: f.stall,
            yearly_move: f.yearly_move,
            lead_time_days: prm.lead_time_days,
            lead_time_sd_days: prm.lead_time_sd_days,
            review_period_days: prm.review_period_days,
            demand_mean: f.window_mean,
            demand_quantile: quantile,
            quantile_level: dec.quantile_level,
            policy: prm.policy.as_str(),
            policy_source: prm.policy_source.clone(),
            abc: prm.abc.to_string(),
            xyz: prm.xyz.to_string(),
            demand_class: prm.demand_class,
            service_measure: dec.service_measure,
            service_target: dec.service_target,
            service_source: if dec.service_measure == "critical_ratio" {
                "costs".to_string()
            } else {
                prm.service_source.clone()
            },
            reorder_point: dec.reorder_point,
            safety_stock: dec.demand_quantile - f.window_mean,
            target_level: dec.target,
            lot_size: dec.lot_size,
            lot_source: dec.lot_source,
            raw_need: dec.raw_need,
            moq: prm.moq,
            pack_size: prm.pack_size,
            moq_adjustment: moq_adj,
            pack_adjustment: pack_adj,
            cap_adjustment,
            cap_reason,
            mov_adjustment: 0.0,
            mov_status: None,
            budget_adjustment: 0.0,
            override_action: ov_action,
            override_value: ov_value,
            override_by: ov_by,
            override_reason: ov_reason,
            price: prm.price,
            newsvendor_underage: dec.costs.map(|c| round2(c.0)),
            newsvendor_overage: dec.costs.map(|c| round2(c.1)),
            model: f.model.to_string(),
            quantile_method: f.window_method.to_string(),
            reason_code: "",
            reason_text: String::new(),
            defaulted: defaulted.join(","),
            pre_guard_qty: 0.0,
            mov_held: false,
            guard_bound: (bound, biggest_day, last_90),
            cap_units: cap,
            inactive: !prm.active,
        });
    }
    apply_mov(p, params, forecasts, &mut out);
    apply_budget(p, params, forecasts, &mut out);
    // Plausibility guard, values and the explanation come last: they describe the result.
    for l in out.iter_mut() {
        let (bound, _, _) = l.guard_bound;
        l.pre_guard_qty = l.order_qty;
        let implausible = l.order_qty > bound && l.override_action != Some("fixed_qty");
        if l.mov_held || implausible {
            l.held_qty = l.order_qty;
            l.order_qty = 0.0;
        }
        l.line_value = l.unit_cost.map(|c| round2(c * l.order_qty));
        explain::explain(l, p);
    }
    let statuses = overrides::statuses(ds, panel, params);
    tracing::info!(
        lines = out.iter().filter(|l| l.order_qty > 0.0).count(),
        held = out.iter().filter(|l| l.held_qty > 0.0).count(),
        "replenish done"
    );
    Replenishment {
        lines: out,
        overrides: statuses,
    }
}

/// Mean demand over the next `days` days; beyond the forecast horizon the last week's mean
/// continues.
fn demand_over(mean: &[f64], days: usize) -> f64 {
    let inside: f64 = mean.iter().take(days).sum();
    if days <= mean.len() {
        return inside;
    }
    let tail = &mean[mean.len().saturating_sub(7)..];
    let per_day = if tail.is_empty() {
        0.0
    } else {
        tail.iter().sum::<f64>() / tail.len() as f64
    };
    inside + per_day * (days - mean.len()) as f64
}

/// Lines ordering from one supplier on one day in one currency share its minimum order value.
fn supplier_groups(lines: &[Proposal]) -> BTreeMap<(String, Day, String), Vec<usize>> {
    let mut g: BTreeMap<(String, Day, String), Vec<usize>> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        if l.order_qty > 0.0 {
            g.entry((l.supplier_id.clone(), l.order_date, l.currency.clone()))
                .or_default()
                .push(i);
        }
    }
    g
}

fn apply_mov(p: &Pipeline, params: &[SeriesParams], fc: &[SeriesForecast], lines: &mut [Proposal]) {
    for (_, idx) in supplier_groups(lines) {
        let Some(mov) = params[idx[0]].min_order_value.filter(|m| *m > 0.0) else {
            continue;
        };
        if idx.iter().any(|&i| lines[i].unit_cost.is_none()) {
            for &i in &idx {
                lines[i].mov_status = Some(format!("unchecked (no unit cost); minimum {mov:.2}"));
            }
            continue;
        }
        let qty: Vec<f64> = idx.iter().map(|&i| lines[i].order_qty).collect();
        let cost: Vec<f64> = idx
            .iter()
            .map(|&i| lines[i].unit_cost.unwrap_or(0.0))
            .collect();
        let value: f64 = qty.iter().zip(&cost).map(|(q, c)| q * c).sum();
        if value + 1e-9 >= mov {
            for &i in &idx {
                lines[i].mov_status = Some(format!("{value:.2} of {mov:.2}"));
            }
            continue;
        }
        // A fixed planner quantity is never changed: it takes no top-up.
        let pack: Vec<f64> = idx.iter().map(|&i| lines[i].pack_size).collect();
        let cap: Vec<f64> = idx
            .iter()
            .map(|&i| {
                if lines[i].override_action == Some("fixed_qty") {
                    lines[i].order_qty
                } else {
                    lines[i].cap_units
                }
            })
            .collect();
        let base: Vec<f64> = idx.iter().map(|&i| lines[i].inventory_position).collect();
        let daily: Vec<f64> = idx
            .iter()
            .map(|&i| fc[i].window_mean / fc[i].window_days.max(1) as f64)
            .collect();
        let topped = match p.replenish.mov_rule {
            MovRule::TopUp => {
                constraints::top_up_to_mov(&qty, &cost, &pack, &cap, &base, &daily, mov)
            }
            MovRule::Hold => None,
        };
        match topped {
            Some(add) => {
                let new_value: f64 = (0..idx.len()).map(|k| (qty[k] + add[k]) * cost[k]).sum();
                for (k, &i) in idx.iter().enumerate() {
                    lines[i].order_qty += add[k];
                    lines[i].mov_adjustment = add[k];
                    lines[i].mov_status =
                        Some(format!("{new_value:.2} of {mov:.2} (was {value:.2})"));
                }
            }
            None => {
                for &i in &idx {
                    lines[i].mov_held = lines[i].override_action != Some("fixed_qty");
                    lines[i].mov_status = Some(format!("{value:.2} of {mov:.2}: not reached"));
                }
            }
        }
    }
}

fn apply_budget(
    p: &Pipeline,
    params: &[SeriesParams],
    fc: &[SeriesForecast],
    lines: &mut [Proposal],
) {
    let rc = &p.replenish;
    if rc.budget.is_none() && rc.supplier_budgets.is_empty() {
        return;
    }
    // Lines without a unit cost cannot be priced: they are not charged (reported in the text).
    let idx: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].order_qty > 0.0 && !lines[i].mov_held && lines[i].unit_cost.is_some())
        .collect();
    let mut groups: Vec<Option<f64>> = Vec::new();
    let mut group_of: BTreeMap<String, usize> = BTreeMap::new();
    let blines: Vec<constraints::BudgetLine> = idx
        .iter()
        .map(|&i| {
            let l = &lines[i];
            let g = *group_of.entry(l.supplier_id.clone()).or_insert_with(|| {
                groups.push(rc.supplier_budgets.get(&l.supplier_id).copied());
                groups.len() - 1
            });
            constraints::BudgetLine {
                qty: l.order_qty,
                unit_cost: l.unit_cost.unwrap_or(0.0),
                moq: l.moq,
                pack: l.pack_size,
                group: g,
                mandatory: l.override_action == Some("fixed_qty"),
            }
        })
        .collect();
    let mut dists: Vec<DemandDist> = idx
        .iter()
        .map(|&i| DemandDist::new(&fc[i], params[i].lead_time_sd_days))
        .collect();
    let positions: Vec<f64> = idx.iter().map(|&i| lines[i].inventory_position).collect();
    let alloc = constraints::allocate_budget(&blines, rc.budget, &groups, |k, from, to| {
        let x = positions[k];
        (dists[k].shortage(x + from) - dists[k].shortage(x + to)).max(0.0)
    });
    for (k, &i) in idx.iter().enumerate() {
        let cut = alloc[k] - lines[i].order_qty;
        if cut < 0.0 {
            lines[i].budget_adjustment = cut;
            lines[i].order_qty = alloc[k];
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_weekday_calendar() {
        // 2024-01-03 is a Wednesday; next Mon/Thu is Thursday 2024-01-04.
        let wed = crate::panel::from_date(chrono::NaiveDate::from_ymd_opt(2024, 1, 3).unwrap());
        assert_eq!(next_order_day(wed, &[Weekday::Mon, Weekday::Thu]), wed + 1);
        assert_eq!(next_order_day(wed, &[]), wed);
    }

    #[test]
    fn demand_beyond_the_horizon_continues_the_last_week() {
        let m = vec![1.0; 7]
            .into_iter()
            .chain(vec![2.0; 7])
            .collect::<Vec<_>>();
        assert_eq!(demand_over(&m, 10), 7.0 + 6.0);
        assert_eq!(demand_over(&m, 20), 7.0 + 14.0 + 12.0);
    }
}
