//! Replenishment policies behind one seam. Each turns the demand distribution over its
//! protection window, the inventory position and a service target into a reorder point, a
//! target level and a raw need (before MOQ, packs and the other constraints).
//!
//! | policy | protection window | reorder point | target | order when |
//! |---|---|---|---|---|
//! | `order_up_to` (R, S) | order lead + L + R | = S | S = service level of window demand | position < S |
//! | `rq` (r, Q) | order lead + L | r = service level of window demand | r + Q, Q = EOQ | position ≤ r (n·Q, n ≥ 1, until above r) |
//! | `min_max` | order lead + L | min = service level of window demand | max = min + mean demand over R | position ≤ min |
//! | `newsvendor` | order lead + L + R | = target | critical-ratio quantile of window demand | position < target |

use super::dist::DemandDist;
use super::math;
use crate::config::{PolicyKind, ReplenishCfg};

/// A service target as resolved for one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Service {
    /// α: P(no stockout in a cycle).
    Cycle(f64),
    /// β: share of demand met from stock.
    FillRate(f64),
}

impl Service {
    pub fn new(measure: crate::config::ServiceMeasure, level: f64) -> Service {
        match measure {
            crate::config::ServiceMeasure::Cycle => Service::Cycle(level),
            crate::config::ServiceMeasure::FillRate => Service::FillRate(level),
        }
    }

    pub fn value(self) -> f64 {
        match self {
            Service::Cycle(v) | Service::FillRate(v) => v,
        }
    }
}

/// What a policy knows about one series.
pub struct PolicyInput<'a, 'b> {
    pub dist: &'b mut DemandDist<'a>,
    /// Mean demand over one review period (between two order opportunities).
    pub review_mean: f64,
    /// Mean demand per year (EOQ).
    pub annual_demand: f64,
    pub position: f64,
    pub service: Service,
    pub unit_cost: Option<f64>,
    pub price: Option<f64>,
    pub window_days: usize,
    pub cfg: &'b ReplenishCfg,
}

/// A policy's verdict, before MOQ, packs and constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// s / r / min; for (R, S) and newsvendor the target itself.
    pub reorder_point: f64,
    /// S / r + Q / max / newsvendor level.
    pub target: f64,
    /// Probability of the window-demand quantile that set the reorder point or target.
    pub quantile_level: f64,
    pub demand_quantile: f64,
    /// (r, Q): the lot size Q and how it was obtained.
    pub lot_size: Option<f64>,
    pub lot_source: Option<&'static str>,
    pub raw_need: f64,
    /// "cycle", "fill_rate" or "critical_ratio".
    pub service_measure: &'static str,
    pub service_target: f64,
    /// Newsvendor inputs (underage, overage) when it could use them.
    pub costs: Option<(f64, f64)>,
}

/// The policy seam.
pub trait Policy: Sync {
    fn kind(&self) -> PolicyKind;
    fn decide(&self, x: &mut PolicyInput) -> Decision;
}

/// Level meeting the service target: the α-quantile, or the smallest level whose expected
/// shortage is at most (1 − β) × the demand of one cycle.
fn service_level_point(x: &mut PolicyInput, cycle_demand: f64) -> (f64, f64, &'static str) {
    match x.service {
        Service::Cycle(a) => (x.dist.quantile(a), a, "cycle"),
        Service::FillRate(b) => {
            let allowed = (1.0 - b) * cycle_demand.max(0.0);
            let lvl = x.dist.level_for_shortage(allowed);
            (lvl, x.dist.cdf(lvl), "fill_rate")
        }
    }
}

pub struct OrderUpTo;
pub struct Rq;
pub struct MinMax;
pub struct Newsvendor;

impl Policy for OrderUpTo {
    fn kind(&self) -> PolicyKind {
        PolicyKind::OrderUpTo
    }
    /// β for (R, S) drops the E[(D_L − S)⁺] term (Silver–Pyke–Peterson): it overstates the
    /// shortage per cycle, so the level errs on the safe side.
    fn decide(&self, x: &mut PolicyInput) -> Decision {
        let (s, p, m) = service_level_point(x, x.review_mean);
        Decision {
            reorder_point: s,
            target: s,
            quantile_level: p,
            demand_quantile: s,
            lot_size: None,
            lot_source: None,
            raw_need: (s - x.position).max(0.0),
            service_measure: m,
            service_target: x.service.value(),
            costs: None,
        }
    }
}

impl Policy for Rq {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Rq
    }
    fn decide(&self, x: &mut PolicyInput) -> Decision {
        let holding = x.unit_cost.map(|c| c * x.cfg.holding_cost_rate);
        let (q, src) = match holding {
            Some(h) if h > 0.0 && x.annual_demand > 0.0 => {
                (math::eoq(x.cfg.order_cost, h, x.annual_demand).0, "eoq")
            }
            // Without a cost EOQ is undefined: one review period of demand.
            _ => (x.review_mean, "review_period_demand"),
        };
        let q = q.max(1.0);
        let (r, p, m) = service_level_point(x, q);
        let need = if x.position <= r + 1e-9 {
            let n = ((r - x.position) / q).floor() + 1.0;
            n * q
        } else {
            0.0
        };
        Decision {
            reorder_point: r,
            target: r + q,
            quantile_level: p,
            demand_quantile: r,
            lot_size: Some(q),
            lot_source: Some(src),
            raw_need: need,
            service_measure: m,
            service_target: x.service.value(),
            costs: None,
        }
    }
}

impl Policy for MinMax {
    fn kind(&self) -> PolicyKind {
        PolicyKind::MinMax
    }
    fn decide(&self, x: &mut PolicyInput) -> Decision {
        let (min, p, m) = service_level_point(x, x.review_mean);
        let max = min + x.review_mean.max(0.0);
        let need = if x.position <= min + 1e-9 && max > 0.0 {
            (max - x.position).max(0.0)
        } else {
            0.0
        };
        Decision {
            reorder_point: min,
            target: max,
            quantile_level: p,
            demand_quantile: min,
            lot_size: None,
            lot_source: None,
            raw_need: need,
            service_measure: m,
            service_target: x.service.value(),
            costs: None,
        }
    }
}

impl Policy for Newsvendor {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Newsvendor
    }
    /// Underage = price − cost (margin lost per unit short); overage = cost − salvage +
    /// holding over the window. Without both prices it falls back to the service target.
    fn decide(&self, x: &mut PolicyInput) -> Decision {
        let costs = match (x.price, x.unit_cost) {
            (Some(pr), Some(c)) if pr > c && c > 0.0 => {
                let under = pr - c;
                let over = c * (1.0 - x.cfg.salvage_share)
                    + c * x.cfg.holding_cost_rate * x.window_days as f64 / 365.0;
                Some((under, over))
            }
            _ => None,
        };
        let (level, p, measure, target_value) = match costs {
            Some((u, o)) => {
                let cr = u / (u + o);
                (x.dist.quantile(cr), cr, "critical_ratio", cr)
            }
            None => {
                let (l, p, m) = service_level_point(x, x.review_mean);
                (l, p, m, x.service.value())
            }
        };
        Decision {
            reorder_point: level,
            target: level,
            quantile_level: p,
            demand_quantile: level,
            lot_size: None,
            lot_source: None,
            raw_need: (level - x.position).max(0.0),
            service_measure: measure,
            service_target: target_value,
            costs,
        }
    }
}

pub fn policy(kind: PolicyKind) -> &'static dyn Policy {
    match kind {
        PolicyKind::OrderUpTo => &OrderUpTo,
        PolicyKind::Rq => &Rq,
        PolicyKind::MinMax => &MinMax,
        PolicyKind::Newsvendor => &Newsvendor,
    }
}

/// Whether the policy protects lead time + review period (periodic) or lead time only.
pub fn covers_review(kind: PolicyKind) -> bool {
    matches!(kind, PolicyKind::OrderUpTo | PolicyKind::Newsvendor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::SeriesForecast;

    fn input<'a, 'b>(
        d: &'b mut DemandDist<'a>,
        cfg: &'b ReplenishCfg,
        position: f64,
        service: Service,
    ) -> PolicyInput<'a, 'b> {
        PolicyInput {
            dist: d,
            review_mean: 70.0,
            annual_demand: 3650.0,
            position,
            service,
            unit_cost: Some(4.0),
            price: Some(10.0),
            window_days: 21,
            cfg,
        }
    }

    #[test]
    fn order_up_to_is_the_alpha_quantile() {
        let f = SeriesForecast::fixed(210.0, 21, "normal_approx", 4.0);
        let mut d = DemandDist::new(&f, 0.0);
        let cfg = ReplenishCfg::default();
        let dec = OrderUpTo.decide(&mut input(&mut d, &cfg, 100.0, Service::Cycle(0.95)));
        let want = 210.0 + math::norm_ppf(0.95) * 4.0 * 21f64.sqrt();
        assert!((dec.target - want).abs() < 1e-6, "{}", dec.target);
        assert!((dec.raw_need - (want - 100.0)).abs() < 1e-6);
    }

    #[test]
    fn more_service_never_orders_less() {
        let f = SeriesForecast::fixed(50.0, 14, "negative_binomial", 3.0);
        let cfg = ReplenishCfg::default();
        for kind in [PolicyKind::OrderUpTo, PolicyKind::Rq, PolicyKind::MinMax] {
            for fill in [false, true] {
                let mut last = 0.0;
                for sl in [0.5, 0.8, 0.9, 0.95, 0.99] {
                    let svc = if fill {
                        Service::FillRate(sl)
                    } else {
                        Service::Cycle(sl)
                    };
                    let mut d = DemandDist::new(&f, 0.0);
                    let dec = policy(kind).decide(&mut input(&mut d, &cfg, 10.0, svc));
                    assert!(dec.raw_need + 1e-9 >= last, "{kind:?} fill={fill} {sl}");
                    assert!(dec.reorder_point <= dec.target + 1e-9);
                    last = dec.raw_need;
                }
            }
        }
    }

    #[test]
    fn rq_orders_whole_lots_until_above_r() {
        let f = SeriesForecast::fixed(70.0, 7, "poisson", 0.0);
        let mut d = DemandDist::new(&f, 0.0);
        let cfg = ReplenishCfg::default();
        let dec = Rq.decide(&mut input(&mut d, &cfg, -500.0, Service::Cycle(0.9)));
        // EOQ = √(2·25·3650 / (0.25·4)) = √182500 ≈ 427.2.
        let q = dec.lot_size.unwrap();
        assert!((q - 182_500f64.sqrt()).abs() < 1e-9);
        let n = dec.raw_need / q;
        assert!((n - n.round()).abs() < 1e-9 && -500.0 + dec.raw_need > dec.reorder_point);
        assert!(-500.0 + dec.raw_need - q <= dec.reorder_point);
    }

    #[test]
    fn newsvendor_uses_the_critical_ratio() {
        let f = SeriesForecast::fixed(100.0, 10, "normal_approx", 5.0);
        let mut d = DemandDist::new(&f, 0.0);
        let cfg = ReplenishCfg {
            holding_cost_rate: 1e-12,
            ..Default::default()
        };
        let dec = Newsvendor.decide(&mut input(&mut d, &cfg, 0.0, Service::Cycle(0.95)));
        // underage 6, overage 4 → CR 0.6.
        assert!((dec.quantile_level - 0.6).abs() < 1e-9);
        let sd = 5.0 * 10f64.sqrt();
        let (s, _) = math::newsvendor_normal(4.0, 6.0, 100.0, sd);
        assert!((dec.target - s).abs() < 1e-6);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::config::PackRounding;
    use crate::forecast::SeriesForecast;
    use crate::replenish::constraints::round_order;
    use proptest::prelude::*;

    proptest! {
        /// For every policy and both service measures: the final order quantity (after MOQ
        /// and packs) is ≥ 0, whole packs, 0 or ≥ MOQ, and never falls when the target rises.
        #[test]
        fn order_is_orderable_and_monotone_in_service(
            mean in 0.0..500.0f64,
            days in 1usize..60,
            sd in 0.0..20.0f64,
            method in 0usize..3,
            position in -50.0..400.0f64,
            lt_sd in 0.0..5.0f64,
            moq in 1.0..50.0f64,
            pack in 1u32..24,
            kind in 0usize..4,
            fill in any::<bool>(),
            lo in 0.5..0.99f64,
            step in 0.0..0.0099f64,
        ) {
            let methods = ["normal_approx", "negative_binomial", "poisson"];
            let f = SeriesForecast::fixed(mean, days, methods[method], sd);
            let cfg = ReplenishCfg::default();
            let kinds = [PolicyKind::OrderUpTo, PolicyKind::Rq, PolicyKind::MinMax, PolicyKind::Newsvendor];
            let pack = pack as f64;
            let mut last = -1.0;
            for k in 0..5 {
                let level = (lo + step * k as f64 * 2.0).min(0.999);
                let svc = if fill { Service::FillRate(level) } else { Service::Cycle(level) };
                let mut d = DemandDist::new(&f, lt_sd);
                let dec = policy(kinds[kind]).decide(&mut PolicyInput {
                    dist: &mut d,
                    review_mean: mean / days as f64 * 7.0,
                    annual_demand: mean / days as f64 * 365.0,
                    position,
                    service: svc,
                    unit_cost: Some(3.0),
                    price: None,
                    window_days: days,
                    cfg: &cfg,
                });
                prop_assert!(dec.raw_need.is_finite() && dec.raw_need >= 0.0);
                let need = (dec.raw_need - 1e-9).ceil().max(0.0);
                let (q, _, _) = round_order(need, moq, pack, PackRounding::Up);
                prop_assert!(q >= 0.0);
                prop_assert!(((q / pack) - (q / pack).round()).abs() < 1e-9);
                prop_assert!(q == 0.0 || q + 1e-9 >= moq);
                prop_assert!(q + 1e-9 >= last, "{:?} fill={} level {}: {} after {}", kinds[kind], fill, level, q, last);
                last = q;
            }
        }
    }
}
