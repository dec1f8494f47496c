//! Order constraints: MOQ and packs, capacity and shelf-life caps, supplier minimum order
//! value and budgets. Pure functions on numbers, so the invariants can be property-tested.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::config::PackRounding;

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

/// Smallest quantity a supplier accepts: the MOQ rounded up to whole packs.
pub fn min_orderable(moq: f64, pack: f64) -> f64 {
    round_order(1.0, moq, pack, PackRounding::Up).0
}

/// Largest orderable quantity ≤ `cap` (whole packs, 0 or ≥ MOQ), and whether it changed `qty`.
pub fn cap_order(qty: f64, cap: f64, moq: f64, pack: f64) -> f64 {
    if qty <= cap + 1e-9 {
        return qty;
    }
    let n = ((cap.max(0.0) + 1e-9) / pack).floor();
    let q = n * pack;
    if q + 1e-9 < moq || q <= 0.0 {
        0.0
    } else {
        q
    }
}

/// One line as the budget allocator sees it.
#[derive(Debug, Clone)]
pub struct BudgetLine {
    pub qty: f64,
    pub unit_cost: f64,
    pub moq: f64,
    pub pack: f64,
    /// Index into the per-group (supplier) budgets.
    pub group: usize,
    /// Planner-fixed quantities are taken as they are and charged first.
    pub mandatory: bool,
}

#[derive(PartialEq)]
struct Step {
    ratio: f64,
    line: usize,
}
impl Eq for Step {}
impl PartialOrd for Step {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Step {
    fn cmp(&self, o: &Self) -> Ordering {
        // Highest ratio first; ties to the lower line index (determinism).
        self.ratio
            .total_cmp(&o.ratio)
            .then_with(|| o.line.cmp(&self.line))
    }
}

/// Spends the budgets on the most valuable increments first. Each line is built from its
/// smallest orderable quantity and then whole packs up to its proposed quantity; `value`
/// (line, from, to) is what the increment buys (e.g. expected units short avoided).
/// Returns the allocated quantity per line; never more than proposed, never over a budget
/// (apart from mandatory lines, which are charged but never cut).
pub fn allocate_budget(
    lines: &[BudgetLine],
    run_budget: Option<f64>,
    group_budgets: &[Option<f64>],
    mut value: impl FnMut(usize, f64, f64) -> f64,
) -> Vec<f64> {
    let mut alloc = vec![0.0; lines.len()];
    let mut run_left = run_budget.unwrap_or(f64::INFINITY);
    let mut group_left: Vec<f64> = group_budgets
        .iter()
        .map(|b| b.unwrap_or(f64::INFINITY))
        .collect();
    for (i, l) in lines.iter().enumerate() {
        if l.mandatory {
            alloc[i] = l.qty;
            let c = l.qty * l.unit_cost;
            run_left -= c;
            if let Some(g) = group_left.get_mut(l.group) {
                *g -= c;
            }
        }
    }
    let next_step = |l: &BudgetLine, have: f64| -> Option<f64> {
        if have + 1e-9 >= l.qty {
            return None;
        }
        let to = if have <= 0.0 {
            min_orderable(l.moq, l.pack).min(l.qty)
        } else {
            (have + l.pack).min(l.qty)
        };
        Some(to)
    };
    let mut heap = BinaryHeap::new();
    let ratio = |i: usize, from: f64, to: f64, value: &mut dyn FnMut(usize, f64, f64) -> f64| {
        let cost = (to - from) * lines[i].unit_cost;
        let v = value(i, from, to);
        if cost > 0.0 {
            v / cost
        } else {
            f64::INFINITY
        }
    };
    for (i, l) in lines.iter().enumerate() {
        if l.mandatory || l.qty <= 0.0 {
            continue;
        }
        if let Some(to) = next_step(l, 0.0) {
            heap.push(Step {
                ratio: ratio(i, 0.0, to, &mut value),
                line: i,
            });
        }
    }
    while let Some(Step { line, .. }) = heap.pop() {
        let l = &lines[line];
        let Some(to) = next_step(l, alloc[line]) else {
            continue;
        };
        let cost = (to - alloc[line]) * l.unit_cost;
        let g_left = group_left.get(l.group).copied().unwrap_or(f64::INFINITY);
        if cost > run_left + 1e-9 || cost > g_left + 1e-9 {
            // Later steps of this line only come after this one: the line stops here.
            continue;
        }
        run_left -= cost;
        if let Some(g) = group_left.get_mut(l.group) {
            *g -= cost;
        }
        alloc[line] = to;
        if let Some(next) = next_step(l, to) {
            heap.push(Step {
                ratio: ratio(line, to, next, &mut value),
                line,
            });
        }
    }
    alloc
}

/// Tops a supplier's order up to its minimum order value: one pack at a time to the line
/// with the fewest days of cover, respecting each line's cap. Returns the added units per
/// line, or None when the caps make the minimum unreachable.
pub fn top_up_to_mov(
    qty: &[f64],
    unit_cost: &[f64],
    pack: &[f64],
    cap: &[f64],
    cover_base: &[f64],
    daily_mean: &[f64],
    mov: f64,
) -> Option<Vec<f64>> {
    let mut add = vec![0.0; qty.len()];
    let value = |add: &[f64]| -> f64 {
        (0..qty.len())
            .map(|i| (qty[i] + add[i]) * unit_cost[i])
            .sum()
    };
    let mut guard = 0;
    while value(&add) + 1e-9 < mov {
        guard += 1;
        if guard > 100_000 {
            return None;
        }
        let best = (0..qty.len())
            .filter(|&i| {
                qty[i] > 0.0 && unit_cost[i] > 0.0 && qty[i] + add[i] + pack[i] <= cap[i] + 1e-9
            })
            .min_by(|&a, &b| {
                let ca = (cover_base[a] + qty[a] + add[a]) / daily_mean[a].max(1e-9);
                let cb = (cover_base[b] + qty[b] + add[b]) / daily_mean[b].max(1e-9);
                ca.total_cmp(&cb).then(a.cmp(&b))
            })?;
        add[best] += pack[best];
    }
    Some(add)
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
    fn caps_keep_packs_and_moq() {
        assert_eq!(cap_order(24.0, 100.0, 10.0, 6.0), 24.0);
        assert_eq!(cap_order(24.0, 17.0, 10.0, 6.0), 12.0);
        assert_eq!(cap_order(24.0, 9.0, 10.0, 6.0), 0.0);
        assert_eq!(cap_order(24.0, -3.0, 1.0, 1.0), 0.0);
    }

    #[test]
    fn budget_prefers_value_per_euro() {
        let lines = vec![
            BudgetLine {
                qty: 10.0,
                unit_cost: 1.0,
                moq: 1.0,
                pack: 1.0,
                group: 0,
                mandatory: false,
            },
            BudgetLine {
                qty: 10.0,
                unit_cost: 1.0,
                moq: 1.0,
                pack: 1.0,
                group: 0,
                mandatory: false,
            },
        ];
        // Line 1's units are worth twice line 0's: it fills first.
        let a = allocate_budget(&lines, Some(12.0), &[None], |i, f, t| {
            (t - f) * if i == 1 { 2.0 } else { 1.0 }
        });
        assert_eq!(a, vec![2.0, 10.0]);
        // Supplier budget binds before the run budget.
        let a = allocate_budget(&lines, Some(100.0), &[Some(5.0)], |_, f, t| t - f);
        assert_eq!(a.iter().sum::<f64>(), 5.0);
    }

    #[test]
    fn mov_top_up_goes_to_the_thinnest_cover() {
        let add = top_up_to_mov(
            &[10.0, 10.0],
            &[2.0, 2.0],
            &[5.0, 5.0],
            &[f64::INFINITY, f64::INFINITY],
            &[0.0, 50.0],
            &[1.0, 1.0],
            50.0,
        )
        .unwrap();
        // 40 € ordered, 10 € short: one pack of 5 (10 €) to line 0 (10 days of cover vs 60).
        assert_eq!(add, vec![5.0, 0.0]);
        assert!(top_up_to_mov(&[10.0], &[2.0], &[5.0], &[10.0], &[0.0], &[1.0], 50.0).is_none());
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

        /// Caps keep whole packs and the MOQ, and never exceed the cap.
        #[test]
        fn cap_invariants(packs in 0u32..200, cap in -10.0..2_000.0f64, moq in 1.0..100.0f64, pack in 1u32..20) {
            let pack = pack as f64;
            let q0 = round_order(packs as f64 * pack, moq, pack, PackRounding::Up).0;
            let q = cap_order(q0, cap, moq, pack);
            prop_assert!(q <= q0 + 1e-9);
            prop_assert!(q == q0 || q <= cap.max(0.0) + 1e-9);
            prop_assert!(((q / pack) - (q / pack).round()).abs() < 1e-9);
            prop_assert!(q == 0.0 || q + 1e-9 >= moq);
        }

        /// The budget is never exceeded; allocations stay orderable and ≤ the proposal.
        #[test]
        fn budget_never_exceeded(
            raw in proptest::collection::vec((1u32..40, 0.5..80.0f64, 1u32..12, 1u32..6, 0usize..3, 0.0..5.0f64), 1..25),
            run in 0.0..3_000.0f64,
            sup in proptest::collection::vec(proptest::option::of(0.0..1_500.0f64), 3),
        ) {
            let lines: Vec<BudgetLine> = raw.iter().map(|&(packs, cost, moq, pack, group, _)| {
                let pack = pack as f64;
                let moq = moq as f64;
                let qty = round_order(packs as f64 * pack, moq, pack, PackRounding::Up).0;
                BudgetLine { qty, unit_cost: cost, moq, pack, group, mandatory: false }
            }).collect();
            let weights: Vec<f64> = raw.iter().map(|r| r.5).collect();
            let a = allocate_budget(&lines, Some(run), &sup, |i, f, t| weights[i] * (t - f) / (1.0 + f));
            let spent: f64 = a.iter().zip(&lines).map(|(q, l)| q * l.unit_cost).sum();
            prop_assert!(spent <= run + 1e-6, "spent {} of {}", spent, run);
            for g in 0..3 {
                let s: f64 = a.iter().zip(&lines).filter(|(_, l)| l.group == g).map(|(q, l)| q * l.unit_cost).sum();
                if let Some(b) = sup[g] { prop_assert!(s <= b + 1e-6); }
            }
            for (q, l) in a.iter().zip(&lines) {
                prop_assert!(*q <= l.qty + 1e-9);
                prop_assert!(*q == 0.0 || *q + 1e-9 >= l.moq);
                prop_assert!(((q / l.pack) - (q / l.pack).round()).abs() < 1e-9);
            }
        }
    }
}
