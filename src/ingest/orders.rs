//! Order lines → demand, returns, rejects.
//!
//! The order of the rules matters and is documented in the README ("What counts as
//! demand"): invalid → duplicate → cancelled status → non-product → excluded order id →
//! return → adjustment/zero/negative price → cancellation matching → implausible size.

use rustc_hash::FxHashMap as HashMap;

use crate::config::{NegativeLines, Pipeline, ZeroPrice};
use crate::error::{InputError, Result};

use super::{col, row_problem, Dataset, DemandLine, Reject, ReturnLine, Secs, Table};

struct Cols {
    at: Vec<Option<Secs>>,
    sku: Vec<Option<String>>,
    qty: Vec<Option<f64>>,
    order_id: Option<Vec<Option<String>>>,
    loc: Option<Vec<Option<String>>>,
    price: Option<Vec<Option<f64>>>,
    status: Option<Vec<Option<String>>>,
    customer: Option<Vec<Option<String>>>,
    channel: Option<Vec<Option<String>>>,
    country: Option<Vec<Option<String>>>,
}

fn read_cols(p: &Pipeline, t: &Table) -> Result<Cols> {
    let m = &p.inputs.orders.columns;
    Ok(Cols {
        at: t
            .datetimes(col(m, "order_date"), "order_date", true)?
            .unwrap_or_default(),
        sku: t.strings(col(m, "sku"), "sku", true)?.unwrap_or_default(),
        qty: t
            .f64s(col(m, "quantity"), "quantity", true)?
            .unwrap_or_default(),
        order_id: t.strings(col(m, "order_id"), "order_id", false)?,
        loc: t.strings(col(m, "location"), "location", false)?,
        price: t.f64s(col(m, "unit_price"), "unit_price", false)?,
        status: t.strings(col(m, "status"), "status", false)?,
        customer: t.strings(col(m, "customer_id"), "customer_id", false)?,
        channel: t.strings(col(m, "channel"), "channel", false)?,
        country: t.strings(col(m, "country"), "country", false)?,
    })
}

/// Every mapped column of a line: (order id, sku, time, qty bits, price bits, customer,
/// location, status). Lines equal in all of them are duplicates.
type DupKey<'a> = (
    Option<&'a str>,
    &'a str,
    Secs,
    u64,
    Option<u64>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Demand,
    Return,
    Rejected,
}

/// Borrowed text of an optional column (no per-row allocation).
fn sref(v: &Option<Vec<Option<String>>>, i: usize) -> Option<&str> {
    v.as_ref().and_then(|c| c[i].as_deref())
}

fn opt<T: Clone>(v: &Option<Vec<Option<T>>>, i: usize) -> Option<T> {
    v.as_ref().and_then(|c| c[i].clone())
}

pub(super) fn classify(p: &Pipeline, t: &Table, ds: &mut Dataset) -> Result<()> {
    let rules = &p.inputs.orders.rules;
    let m = &p.inputs.orders.columns;
    let c = read_cols(p, t)?;
    let n = t.rows;
    ds.orders_rows = n;
    let cancel_status: Vec<String> = rules
        .cancel_status_values
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    let return_status: Vec<String> = rules
        .return_status_values
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    let non_product = |sku: &str| {
        rules.non_product_skus.iter().any(|s| s == sku)
            || rules
                .non_product_sku_prefixes
                .iter()
                .any(|pre| sku.starts_with(pre.as_str()))
    };

    let mut class = vec![Class::Rejected; n];
    let mut rejects: Vec<Reject> = Vec::new();
    let mut seen: HashMap<DupKey, usize> = HashMap::default();
    let mut count = |code: &'static str| *ds.order_classes.entry(code).or_insert(0) += 1;

    for i in 0..n {
        let sku = c.sku[i].as_deref().map(str::trim).filter(|s| !s.is_empty());
        let order_id = opt(&c.order_id, i);
        let mk = |code: &'static str, reason: String| Reject {
            input: "orders",
            row: (i + 1) as u32,
            reason_code: code,
            reason,
            sku: sku.map(str::to_string),
            at: c.at[i],
            quantity: c.qty[i],
            order_id: order_id.clone(),
        };
        let missing = if sku.is_none() {
            Some(("sku", col(m, "sku")))
        } else if c.at[i].is_none() {
            Some(("order_date", col(m, "order_date")))
        } else if c.qty[i].is_none() {
            Some(("quantity", col(m, "quantity")))
        } else {
            None
        };
        if let Some((canon, name)) = missing {
            let err = InputError::BadValue {
                input: "orders",
                path: t.path.clone(),
                column: name.to_string(),
                row: i + 1,
                detail: format!("{canon} is empty"),
            };
            row_problem(
                rules.invalid_rows,
                &mut rejects,
                err,
                mk("invalid_row", format!("{canon} is empty")),
            )?;
            count("invalid_row");
            continue;
        }
        let (Some(sku), Some(at), Some(qty)) = (sku, c.at[i], c.qty[i]) else {
            continue;
        };
        if rules.drop_duplicates {
            let key = (
                c.order_id.as_ref().and_then(|v| v[i].as_deref()),
                sku,
                at,
                qty.to_bits(),
                opt(&c.price, i).map(f64::to_bits),
                c.customer.as_ref().and_then(|v| v[i].as_deref()),
                c.loc.as_ref().and_then(|v| v[i].as_deref()),
                c.status.as_ref().and_then(|v| v[i].as_deref()),
            );
            if let Some(first) = seen.get(&key) {
                rejects.push(mk(
                    "duplicate",
                    format!("exact duplicate of row {}", first + 1),
                ));
                count("duplicate");
                continue;
            }
            seen.insert(key, i);
        }
        let status = opt(&c.status, i).map(|s| s.trim().to_lowercase());
        let price = opt(&c.price, i);
        if let Some(s) = &status {
            if cancel_status.contains(s) {
                rejects.push(mk(
                    "cancelled_status",
                    format!("status '{s}' means cancelled: not demand"),
                ));
                count("cancelled_status");
                continue;
            }
        }
        if non_product(sku) {
            rejects.push(mk(
                "non_product",
                format!("'{sku}' is configured as a non-product code (fee, postage, discount)"),
            ));
            count("non_product");
            continue;
        }
        if let Some(oid) = &order_id {
            if let Some(pre) = rules
                .exclude_order_id_prefixes
                .iter()
                .find(|pre| oid.starts_with(pre.as_str()))
            {
                rejects.push(mk(
                    "excluded_order",
                    format!("order id starts with '{pre}' (configured as not demand)"),
                ));
                count("excluded_order");
                continue;
            }
        }
        let is_return = rules.return_order_id_prefix.as_ref().is_some_and(|pre| {
            order_id
                .as_deref()
                .is_some_and(|o| o.starts_with(pre.as_str()))
        }) || status.as_ref().is_some_and(|s| return_status.contains(s))
            || (qty < 0.0 && rules.negative_lines == NegativeLines::Return);
        if is_return {
            if qty > 0.0 && status.is_none() {
                rejects.push(mk(
                    "return_positive_qty",
                    "return line with a positive quantity: sign unclear".into(),
                ));
                count("return_positive_qty");
                continue;
            }
            class[i] = Class::Return;
            continue;
        }
        if qty < 0.0 {
            rejects.push(mk(
                "stock_adjustment",
                "negative quantity that is not a customer return: stock correction, not demand"
                    .into(),
            ));
            count("stock_adjustment");
            continue;
        }
        if qty == 0.0 {
            rejects.push(mk("zero_quantity", "quantity is 0".into()));
            count("zero_quantity");
            continue;
        }
        if let Some(pr) = price {
            if pr < 0.0 {
                rejects.push(mk("negative_price", format!("unit price {pr} is negative")));
                count("negative_price");
                continue;
            }
            if pr == 0.0 && rules.zero_price_lines == ZeroPrice::Reject {
                rejects.push(mk(
                    "zero_price",
                    "unit price 0: not a sale (sample, correction)".into(),
                ));
                count("zero_price");
                continue;
            }
        }
        class[i] = Class::Demand;
    }

    // Cancellation matching: a return of the whole line by the same customer soon after
    // the sale undoes it (e.g. the 80,995-unit order cancelled 12 minutes later).
    let window = (rules.cancel_match_hours * 3600.0) as i64;
    let cust = |i: usize| {
        c.customer
            .as_ref()
            .and_then(|v| v[i].as_deref())
            .unwrap_or("")
    };
    let mut open_sales: HashMap<(&str, &str, u64), Vec<usize>> = HashMap::default();
    if window > 0 {
        for i in 0..n {
            if class[i] == Class::Demand {
                let (Some(s), Some(q)) = (c.sku[i].as_deref(), c.qty[i]) else {
                    continue;
                };
                open_sales
                    .entry((s.trim(), cust(i), q.abs().to_bits()))
                    .or_default()
                    .push(i);
            }
        }
        for v in open_sales.values_mut() {
            v.sort_by_key(|&i| (c.at[i], i));
        }
        let mut returns: Vec<usize> = (0..n).filter(|&i| class[i] == Class::Return).collect();
        returns.sort_by_key(|&i| (c.at[i], i));
        for r in returns {
            let (Some(s), Some(q), Some(rat)) = (c.sku[r].as_deref(), c.qty[r], c.at[r]) else {
                continue;
            };
            let Some(cands) = open_sales.get_mut(&(s.trim(), cust(r), q.abs().to_bits())) else {
                continue;
            };
            let pos = cands
                .iter()
                .position(|&d| c.at[d].is_some_and(|dat| dat <= rat && rat - dat <= window));
            if let Some(k) = pos {
                let d = cands.remove(k);
                class[d] = Class::Rejected;
                class[r] = Class::Rejected;
                let minutes = (rat - c.at[d].unwrap_or(rat)) / 60;
                for (row, other, what) in [(d, r, "cancelled by"), (r, d, "cancels")] {
                    rejects.push(Reject {
                        input: "orders",
                        row: (row + 1) as u32,
                        reason_code: "cancelled_order",
                        reason: format!(
                            "{what} row {} ({minutes} min apart, same quantity): not demand",
                            other + 1
                        ),
                        sku: c.sku[row].clone(),
                        at: c.at[row],
                        quantity: c.qty[row],
                        order_id: opt(&c.order_id, row),
                    });
                }
                count("cancelled_order");
                count("cancelled_order");
            }
        }
    }

    let default_loc = ds.locs.intern(&p.defaults.location);
    let mut prices: HashMap<u32, Vec<f64>> = HashMap::default();
    for i in 0..n {
        let (Some(s), Some(at), Some(q)) = (c.sku[i].as_deref(), c.at[i], c.qty[i]) else {
            continue;
        };
        let loc = match sref(&c.loc, i).map(str::trim).filter(|l| !l.is_empty()) {
            Some(l) => ds.locs.intern(l),
            None => default_loc,
        };
        match class[i] {
            Class::Demand => {
                if let Some(max) = rules.max_line_quantity {
                    if q > max {
                        rejects.push(Reject {
                            input: "orders",
                            row: (i + 1) as u32,
                            reason_code: "above_max_line_quantity",
                            reason: format!("quantity {q} exceeds max_line_quantity {max}"),
                            sku: Some(s.trim().to_string()),
                            at: Some(at),
                            quantity: Some(q),
                            order_id: opt(&c.order_id, i),
                        });
                        count("above_max_line_quantity");
                        continue;
                    }
                }
                let sku = ds.skus.intern(s.trim());
                let price = opt(&c.price, i);
                if let Some(pr) = price.filter(|p| *p > 0.0) {
                    prices.entry(sku).or_default().push(pr);
                }
                let order = sref(&c.order_id, i).map(|o| ds.orders.intern(o));
                let customer = sref(&c.customer, i).map(|o| ds.customers.intern(o));
                let channel = sref(&c.channel, i).map(|o| ds.channels.intern(o.trim()));
                let country = sref(&c.country, i).map(|o| ds.countries.intern(o.trim()));
                ds.demand.push(DemandLine {
                    order,
                    customer,
                    channel,
                    country,
                    row: (i + 1) as u32,
                    at,
                    sku,
                    loc,
                    qty: q,
                    price,
                });
                count("demand");
            }
            Class::Return => {
                let sku = ds.skus.intern(s.trim());
                ds.returns.push(ReturnLine {
                    input: "orders",
                    row: (i + 1) as u32,
                    at,
                    sku,
                    loc,
                    qty: q.abs(),
                    order_id: opt(&c.order_id, i),
                    order_at: None,
                    customer: sref(&c.customer, i).map(|o| ds.customers.intern(o)),
                    restockable: None,
                });
                count("return");
            }
            Class::Rejected => {}
        }
    }
    for (sku, mut v) in prices {
        v.sort_by(f64::total_cmp);
        ds.median_price.insert(sku, v[v.len() / 2]);
    }
    // Absurd lines: far above the SKU's typical line (reported by `check`, kept as demand).
    let mut per_sku: HashMap<u32, Vec<f64>> = HashMap::default();
    for d in &ds.demand {
        per_sku.entry(d.sku).or_default().push(d.qty);
    }
    let factor = p.check.absurd_quantity_factor;
    ds.absurd_lines = per_sku
        .values_mut()
        .map(|v| {
            v.sort_by(f64::total_cmp);
            let med = v[v.len() / 2].max(1.0);
            v.iter()
                .filter(|&&q| q > factor * med && q >= 100.0)
                .count()
        })
        .sum();
    ds.absurd_price_lines = ds
        .demand
        .iter()
        .filter(|d| match (d.price, ds.median_price.get(&d.sku)) {
            (Some(p), Some(m)) if p > 0.0 => p > factor * m || p * factor < *m,
            _ => false,
        })
        .count();
    ds.rejects.extend(rejects);
    Ok(())
}
