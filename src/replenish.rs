//! Replenishment: inventory position, order-up-to level from the forecast's window
//! quantile, MOQ and pack rounding, and a line-by-line explanation.
//!
//! Baseline policy (periodic review, order-up-to S):
//!   window      = days until the order date + lead time + review period
//!   S (target)  = quantile of total demand over the window at the SKU's service level
//!   position    = on hand + open POs due within the window − backorders
//!   raw need    = max(0, S − position), rounded up to whole units
//!   order       = 0 if raw need is 0, else max(raw need, MOQ) rounded to the pack size.
//! Rounding to MOQ and packs happens here and nowhere else.

use std::collections::BTreeMap;

use chrono::{Datelike, Weekday};
use serde::Serialize;

use crate::config::ReturnsUse;
use crate::config::{Language, PackRounding, Pipeline};
use crate::forecast::SeriesForecast;
use crate::ingest::{Dataset, Day};
use crate::panel::{to_date, Panel};
use crate::returns::SeriesReturns;

/// Master data resolved for one series, with the fields that fell back to defaults.
#[derive(Debug, Clone)]
pub struct SeriesParams {
    pub supplier_id: String,
    pub unit_cost: Option<f64>,
    pub currency: String,
    pub lead_time_days: f64,
    pub moq: f64,
    pub pack_size: f64,
    pub service_level: f64,
    pub order_date: Day,
    pub review_period_days: u32,
    pub window_days: usize,
    pub active: bool,
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

/// Looks up product → supplier → pipeline defaults for every series in the panel.
pub fn resolve(p: &Pipeline, ds: &Dataset, panel: &Panel) -> Vec<SeriesParams> {
    let d = &p.defaults;
    panel
        .series
        .iter()
        .map(|s| {
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
            let moq = prod.moq.unwrap_or_else(|| {
                defaulted.push("moq");
                d.moq
            });
            let pack = prod.pack_size.unwrap_or_else(|| {
                defaulted.push("pack_size");
                d.pack_size
            });
            let sl = prod.service_level.unwrap_or_else(|| {
                defaulted.push("service_level");
                d.service_level
            });
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
            let lead_days = lead.ceil() as usize;
            let window = (order_date - panel.as_of - 1) as usize + lead_days + review as usize;
            SeriesParams {
                supplier_id: sup_id.unwrap_or_else(|| d.supplier_id.clone()),
                unit_cost,
                currency: sup
                    .and_then(|s| s.currency)
                    .unwrap_or_else(|| d.currency.clone()),
                lead_time_days: lead,
                moq,
                pack_size: pack,
                service_level: sl,
                order_date,
                review_period_days: review,
                window_days: window.max(1),
                active: prod.active.unwrap_or(true),
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
    /// Quantity computed but held back by the plausibility guard (order_qty is then 0).
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
    pub backorders: f64,
    /// Restockable returns expected within the window, as added to the position.
    pub expected_returns: f64,
    /// Their expected value (shown even when the position uses a lower quantile or none).
    pub expected_returns_mean: f64,
    pub inventory_position: f64,
    pub window_days: usize,
    pub lead_time_days: f64,
    pub review_period_days: u32,
    pub demand_mean: f64,
    pub demand_quantile: f64,
    pub service_level: f64,
    pub safety_stock: f64,
    pub target_level: f64,
    pub raw_need: f64,
    pub moq: f64,
    pub pack_size: f64,
    pub moq_adjustment: f64,
    pub pack_adjustment: f64,
    pub model: String,
    pub quantile_method: String,
    pub policy: &'static str,
    pub reason_code: &'static str,
    pub reason_text: String,
    pub defaulted: String,
}

/// MOQ, then pack rounding. Returns (final qty, MOQ adjustment, pack adjustment).
pub fn round_order(
    need_units: f64,
    moq: f64,
    pack: f64,
    rounding: PackRounding,
) -> (f64, f64, f64) {
    if need_units <= 0.0 {
        return (0.0, 0.0, 0.0);
    }
    let after_moq = need_units.max(moq);
    let packs = after_moq / pack;
    let mut n = match rounding {
        PackRounding::Up => (packs - 1e-9).ceil(),
        PackRounding::Nearest => packs.round().max(1.0),
    };
    // Nearest may fall below the MOQ: add packs until it doesn't.
    while n * pack < moq - 1e-9 {
        n += 1.0;
    }
    let q = n * pack;
    (q, after_moq - need_units, q - after_moq)
}

fn fmt(v: f64, lang: Language) -> String {
    let s = if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    };
    match lang {
        Language::De => s.replace('.', ","),
        Language::En => s,
    }
}

pub fn propose(
    p: &Pipeline,
    ds: &Dataset,
    panel: &Panel,
    params: &[SeriesParams],
    forecasts: &[SeriesForecast],
    returns: &[SeriesReturns],
) -> Vec<Proposal> {
    let span = tracing::info_span!("replenish");
    let _g = span.enter();
    let as_of = panel.as_of;
    // Latest snapshot on or before as-of per (sku, loc).
    let mut snap: BTreeMap<(u32, u32), (Day, f64)> = BTreeMap::new();
    for r in ds.stock.iter().filter(|r| r.day <= as_of) {
        let e = snap.entry((r.sku, r.loc)).or_insert((r.day, r.on_hand));
        if r.day >= e.0 {
            *e = (r.day, r.on_hand);
        }
    }
    let mut pos: BTreeMap<(u32, u32), Vec<(Day, f64)>> = BTreeMap::new();
    for po in &ds.open_pos {
        pos.entry((po.sku, po.loc))
            .or_default()
            .push((po.expected_day, po.qty));
    }
    let lang = p.export.language;
    let mut out = Vec::with_capacity(panel.series.len());
    for (i, (((s, prm), f), ret)) in panel
        .series
        .iter()
        .zip(params)
        .zip(forecasts)
        .zip(returns)
        .enumerate()
    {
        let y = panel.view(i).y;
        // Plausibility bound: the larger of the biggest day and the last 90 days of demand.
        let biggest_day = y.iter().copied().fold(0.0, f64::max);
        let last_90: f64 = y[y.len().saturating_sub(90)..].iter().sum();
        let bound = p.guards.max_order_factor * biggest_day.max(last_90);
        let mut defaulted = prm.defaulted.clone();
        let (snapshot_date, on_hand) = match snap.get(&(s.sku, s.loc)) {
            Some((d, q)) => (Some(*d), *q),
            None => {
                defaulted.push("on_hand");
                (None, 0.0)
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
        let backorders = 0.0;
        let expected_returns = match p.returns.use_in_position {
            ReturnsUse::Off => 0.0,
            ReturnsUse::Mean => ret.window_mean,
            ReturnsUse::Quantile => ret.window_quantile(p.returns.position_quantile),
        };
        let position = on_hand + on_order - backorders + expected_returns;
        let q = f.window_quantile(prm.service_level);
        let mean = f.window_mean;
        let target = q;
        let raw_need = (target - position).max(0.0);
        let need_units = (raw_need - 1e-9).ceil().max(0.0);
        let (mut qty, mut moq_adj, mut pack_adj) = round_order(
            need_units,
            prm.moq,
            prm.pack_size,
            p.replenish.pack_rounding,
        );

        // Stockout date without a new order: walk the daily means against stock + arrivals.
        let mut stock = on_hand
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
        let receipt = prm.order_date + prm.lead_time_days.ceil() as Day;
        let (mut reason_code, mut reason_text);
        let mut held_qty = 0.0;
        let sl_pct = fmt(prm.service_level * 100.0, lang);
        let basis = match lang {
            Language::En => format!(
                "target {} = {}% quantile of demand over {} days (mean {}, model {}); position {} = on hand {} + on order {} + expected returns {}",
                fmt(target, lang), sl_pct, prm.window_days, fmt(mean, lang), f.model, fmt(position, lang), fmt(on_hand, lang), fmt(on_order, lang),
                fmt(expected_returns, lang)
            ),
            Language::De => format!(
                "Zielbestand {} = {}%-Quantil des Bedarfs über {} Tage (Mittel {}, Modell {}); Bestandsposition {} = Lager {} + Bestellt {} + erwartete Retouren {}",
                fmt(target, lang), sl_pct, prm.window_days, fmt(mean, lang), f.model, fmt(position, lang), fmt(on_hand, lang), fmt(on_order, lang),
                fmt(expected_returns, lang)
            ),
        };
        if !prm.active {
            (qty, moq_adj, pack_adj) = (0.0, 0.0, 0.0);
            reason_code = "INACTIVE";
            reason_text = match lang {
                Language::En => format!("product is inactive in the master: no order; {basis}"),
                Language::De => format!("Artikel im Stamm inaktiv: keine Bestellung; {basis}"),
            };
        } else if qty > 0.0 {
            reason_code = "BELOW_TARGET";
            reason_text = match lang {
                Language::En => format!(
                    "order {}: {basis}; need {}",
                    fmt(qty, lang),
                    fmt(need_units, lang)
                ),
                Language::De => format!(
                    "Bestellen {}: {basis}; Bedarf {}",
                    fmt(qty, lang),
                    fmt(need_units, lang)
                ),
            };
            if moq_adj > 0.0 {
                reason_text += &match lang {
                    Language::En => format!(
                        "; raised by {} to MOQ {}",
                        fmt(moq_adj, lang),
                        fmt(prm.moq, lang)
                    ),
                    Language::De => format!(
                        "; um {} auf Mindestmenge {} erhöht",
                        fmt(moq_adj, lang),
                        fmt(prm.moq, lang)
                    ),
                };
            }
            if pack_adj.abs() > 0.0 {
                reason_text += &match lang {
                    Language::En => format!(
                        "; {} by {} to packs of {}",
                        if pack_adj > 0.0 {
                            "rounded up"
                        } else {
                            "rounded down"
                        },
                        fmt(pack_adj.abs(), lang),
                        fmt(prm.pack_size, lang)
                    ),
                    Language::De => format!(
                        "; um {} auf Verpackungseinheit {} gerundet",
                        fmt(pack_adj, lang),
                        fmt(prm.pack_size, lang)
                    ),
                };
            }
            if qty > bound {
                held_qty = qty;
                qty = 0.0;
                reason_code = "HELD_FOR_REVIEW";
                reason_text = match lang {
                    Language::En => format!(
                        "held for review: {} is more than {}× the larger of the biggest day ({}) and the last 90 days ({}) of demand; {reason_text}",
                        fmt(held_qty, lang), fmt(p.guards.max_order_factor, lang), fmt(biggest_day, lang), fmt(last_90, lang)
                    ),
                    Language::De => format!(
                        "zur Prüfung zurückgehalten: {} ist mehr als das {}-fache des größeren Werts aus stärkstem Tag ({}) und letzten 90 Tagen ({}); {reason_text}",
                        fmt(held_qty, lang), fmt(p.guards.max_order_factor, lang), fmt(biggest_day, lang), fmt(last_90, lang)
                    ),
                };
            }
        } else if target <= 0.0 {
            reason_code = "NO_DEMAND";
            reason_text = match lang {
                Language::En => format!("no demand expected: {basis}"),
                Language::De => format!("kein Bedarf erwartet: {basis}"),
            };
        } else {
            reason_code = "COVERED";
            reason_text = match lang {
                Language::En => format!("position covers the target: {basis}"),
                Language::De => format!("Bestandsposition deckt den Zielbestand: {basis}"),
            };
        }
        let priority = match stockout {
            Some(d) if d < receipt => 1,
            Some(d) if d <= window_end => 2,
            _ => 3,
        };
        let line_value = prm.unit_cost.map(|c| ((c * qty) * 100.0).round() / 100.0);
        defaulted.sort();
        out.push(Proposal {
            sku: ds.skus.name(s.sku).to_string(),
            location: ds.locs.name(s.loc).to_string(),
            supplier_id: prm.supplier_id.clone(),
            order_qty: qty,
            held_qty,
            order_date: prm.order_date,
            expected_receipt_date: receipt,
            unit_cost: prm.unit_cost,
            line_value,
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
            lead_time_days: prm.lead_time_days,
            review_period_days: prm.review_period_days,
            demand_mean: mean,
            demand_quantile: q,
            service_level: prm.service_level,
            safety_stock: q - mean,
            target_level: target,
            raw_need,
            moq: prm.moq,
            pack_size: prm.pack_size,
            moq_adjustment: moq_adj,
            pack_adjustment: pack_adj,
            model: f.model.to_string(),
            quantile_method: f.window_method.to_string(),
            policy: "order_up_to",
            reason_code,
            reason_text,
            defaulted: defaulted.join(","),
        });
    }
    tracing::info!(
        lines = out.iter().filter(|l| l.order_qty > 0.0).count(),
        "replenish done"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moq_then_pack_up() {
        assert_eq!(
            round_order(0.0, 10.0, 6.0, PackRounding::Up),
            (0.0, 0.0, 0.0)
        );
        // need 3 → MOQ 10 (+7) → packs of 6 → 12 (+2)
        assert_eq!(
            round_order(3.0, 10.0, 6.0, PackRounding::Up),
            (12.0, 7.0, 2.0)
        );
        assert_eq!(
            round_order(13.0, 1.0, 6.0, PackRounding::Up),
            (18.0, 0.0, 5.0)
        );
        assert_eq!(
            round_order(12.0, 1.0, 6.0, PackRounding::Up),
            (12.0, 0.0, 0.0)
        );
    }

    #[test]
    fn nearest_pack_never_below_moq() {
        let (q, _, adj) = round_order(13.0, 1.0, 6.0, PackRounding::Nearest);
        assert_eq!((q, adj), (12.0, -1.0));
        let (q, _, _) = round_order(2.0, 10.0, 6.0, PackRounding::Nearest);
        assert_eq!(q, 12.0);
    }

    #[test]
    fn order_weekday_calendar() {
        // 2024-01-03 is a Wednesday; next Mon/Thu is Thursday 2024-01-04.
        let wed = crate::panel::from_date(chrono::NaiveDate::from_ymd_opt(2024, 1, 3).unwrap());
        assert_eq!(next_order_day(wed, &[Weekday::Mon, Weekday::Thu]), wed + 1);
        assert_eq!(next_order_day(wed, &[]), wed);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Order quantity ≥ 0, a multiple of the pack, 0 or ≥ MOQ, never below the need
        /// when rounding up, and non-decreasing in the need (hence in the service level,
        /// since the window quantile is non-decreasing in it).
        #[test]
        fn rounding_invariants(need in 0.0..10_000.0f64, extra in 0.0..500.0f64, moq in 1.0..500.0f64, pack in 1u32..50, nearest in any::<bool>()) {
            let need = need.ceil();
            let pack = pack as f64;
            let mode = if nearest { PackRounding::Nearest } else { PackRounding::Up };
            let (q, _, _) = round_order(need, moq, pack, mode);
            prop_assert!(q >= 0.0);
            prop_assert!(((q / pack) - (q / pack).round()).abs() < 1e-9);
            prop_assert!(q == 0.0 || q + 1e-9 >= moq);
            prop_assert_eq!(q == 0.0, need == 0.0);
            if !nearest {
                prop_assert!(q + 1e-9 >= need);
            }
            let (q2, _, _) = round_order((need + extra).ceil(), moq, pack, mode);
            prop_assert!(q2 + 1e-9 >= q, "more need never orders less: {} -> {}", q, q2);
        }
    }
}
