//! Order lines → demand, returns, rejects.
//!
//! The order of the rules matters and is documented in the README ("What counts as
//! demand"): invalid → duplicate → cancelled status → non-product → excluded order id →
//! return → adjustment/zero/negative price → cancellation matching → implausible size.

use rustc_hash::FxHashMap as HashMap;

use crate::config::{NegativeLines, Pipeline, ZeroPrice};
use crate::error::{InputError, Result};

use std::path::Path;

use super::table::{Codes, Limits};
use super::{col, row_problem, Dataset, DemandLine, Dict, Reject, ReturnLine, Secs, Table};

/// The columns classification reads. Text columns are dictionary codes: an order file is
/// the one input with tens of millions of rows, and a `String` per cell was most of the
/// memory of an M5-size run.
struct Cols {
    /// `NO_TIME`, NaN: empty cell (input numbers are finite, ingest refuses others).
    at: Vec<Secs>,
    sku: Codes,
    qty: Vec<f64>,
    order_id: Option<Codes>,
    loc: Option<Codes>,
    price: Option<Vec<f64>>,
    status: Option<Codes>,
    customer: Option<Codes>,
    channel: Option<Codes>,
    country: Option<Codes>,
}

const NO_TIME: Secs = Secs::MIN;

impl Cols {
    fn at(&self, i: usize) -> Option<Secs> {
        let v = self.at[i];
        (v != NO_TIME).then_some(v)
    }
    fn qty(&self, i: usize) -> Option<f64> {
        let v = self.qty[i];
        (!v.is_nan()).then_some(v)
    }
    fn price(&self, i: usize) -> Option<f64> {
        let v = self.price.as_ref()?[i];
        (!v.is_nan()).then_some(v)
    }
}

/// Canonical columns of the order file, for decoding only those.
pub(super) const COLUMNS: [&str; 10] = [
    "order_date",
    "sku",
    "quantity",
    "order_id",
    "location",
    "unit_price",
    "status",
    "customer_id",
    "channel",
    "country",
];

/// Reads the order file batch by batch into compact columns, so the decoded Arrow arrays
/// of only one batch are in memory at a time (the whole file decoded was the peak of an
/// M5-size run). Returns the file's facts and the columns.
fn read_cols(p: &Pipeline, path: &Path, limits: Limits) -> Result<(Table, Cols)> {
    let m = &p.inputs.orders.columns;
    let wanted: Vec<&str> = COLUMNS.iter().map(|c| col(m, c)).collect();
    let mut c = Cols {
        at: Vec::new(),
        sku: Codes::default(),
        qty: Vec::new(),
        order_id: None,
        loc: None,
        price: None,
        status: None,
        customer: None,
        channel: None,
        country: None,
    };
    let mut first = true;
    let t = Table::read_batches("orders", path, limits, Some(&wanted), |b| {
        let codes = |canon: &'static str, into: &mut Option<Codes>| -> Result<(), InputError> {
            if first {
                *into = b.has(col(m, canon)).then(Codes::default);
            }
            if let Some(into) = into {
                b.interned_into(col(m, canon), canon, true, into)?;
            }
            Ok(())
        };
        if first {
            // Exact sizes: doubling growth would leave up to half of 17 M rows unused.
            let n = b.file_rows();
            c.at.reserve_exact(n);
            c.qty.reserve_exact(n);
        }
        b.interned_into(col(m, "sku"), "sku", true, &mut c.sku)?;
        codes("order_id", &mut c.order_id)?;
        codes("location", &mut c.loc)?;
        codes("status", &mut c.status)?;
        codes("customer_id", &mut c.customer)?;
        codes("channel", &mut c.channel)?;
        codes("country", &mut c.country)?;
        let at = b.datetimes(col(m, "order_date"), "order_date", true)?;
        c.at.extend(
            at.unwrap_or_default()
                .into_iter()
                .map(|v| v.unwrap_or(NO_TIME)),
        );
        let qty = b.f64s(col(m, "quantity"), "quantity", true)?;
        c.qty.extend(
            qty.unwrap_or_default()
                .into_iter()
                .map(|v| v.unwrap_or(f64::NAN)),
        );
        if first && b.has(col(m, "unit_price")) {
            c.price = Some(Vec::with_capacity(b.file_rows()));
        }
        if let Some(price) = &mut c.price {
            let v = b.f64s(col(m, "unit_price"), "unit_price", true)?;
            price.extend(
                v.unwrap_or_default()
                    .into_iter()
                    .map(|v| v.unwrap_or(f64::NAN)),
            );
        }
        first = false;
        Ok(())
    })?;
    Ok((t, c))
}

/// Every mapped column of a line: (order id, sku, time, qty bits, price bits, customer,
/// location, status), text as codes. Lines equal in all of them are duplicates.
type DupKey = (u32, u32, Secs, u64, Option<u64>, u32, u32, u32);

#[derive(Clone, Copy, PartialEq)]
enum Class {
    Demand,
    Return,
    Rejected,
}

fn code(v: &Option<Codes>, i: usize) -> u32 {
    v.as_ref().map_or(Codes::NULL, |c| c.codes[i])
}

/// Text of an optional column (no per-row allocation).
fn sref(v: &Option<Codes>, i: usize) -> Option<&str> {
    v.as_ref().and_then(|c| c.get(i))
}

/// Distinct values of a column, trimmed, as codes of a second dictionary (None: blank).
fn trimmed(c: &Codes) -> (Vec<Option<u32>>, Dict) {
    let mut d = Dict::default();
    let map = (0..c.dict.len() as u32)
        .map(|k| {
            let s = c.dict.name(k).trim();
            (!s.is_empty()).then(|| d.intern(s))
        })
        .collect();
    (map, d)
}

/// Row → first earlier valid row with the same key, for every duplicate. Sorting
/// (hash, row) pairs keeps the memory at 16 bytes a row where a map of keys took ~70.
fn duplicates(n: usize, valid: &[bool], key: impl Fn(usize) -> DupKey + Sync) -> HashMap<u32, u32> {
    use rayon::prelude::*;
    use std::hash::BuildHasher;
    let h = rustc_hash::FxBuildHasher;
    let mut pairs: Vec<(u64, u32)> = (0..n)
        .into_par_iter()
        .filter(|&i| valid[i])
        .map(|i| (h.hash_one(key(i)), i as u32))
        .collect();
    pairs.par_sort_unstable();
    let mut dup = HashMap::default();
    let mut s = 0;
    while s < pairs.len() {
        let mut e = s + 1;
        while e < pairs.len() && pairs[e].0 == pairs[s].0 {
            e += 1;
        }
        // Rows of one hash in row order; equal hashes of unequal keys are compared out.
        for a in s + 1..e {
            let ra = pairs[a].1;
            let ka = key(ra as usize);
            if let Some(b) = (s..a).find(|&b| key(pairs[b].1 as usize) == ka) {
                let rb = pairs[b].1;
                dup.insert(ra, *dup.get(&rb).unwrap_or(&rb));
            }
        }
        s = e;
    }
    dup
}

/// Reads and classifies the order file; returns its facts for the manifest.
pub(super) fn classify(
    p: &Pipeline,
    path: &Path,
    limits: Limits,
    ds: &mut Dataset,
) -> Result<Table> {
    let rules = &p.inputs.orders.rules;
    let m = &p.inputs.orders.columns;
    let (t, c) = read_cols(p, path, limits)?;
    let n = t.rows;
    ds.orders_rows = n;
    let (sku_trim, skus_t) = trimmed(&c.sku);
    let sku_of = |i: usize| c.sku.code(i).and_then(|k| sku_trim[k as usize]);
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
    // Per distinct status and SKU, not per row.
    let status_norm: Vec<String> = c.status.as_ref().map_or(Vec::new(), |s| {
        (0..s.dict.len() as u32)
            .map(|k| s.dict.name(k).trim().to_lowercase())
            .collect()
    });
    let non_product: Vec<bool> = (0..skus_t.len() as u32)
        .map(|k| {
            let sku = skus_t.name(k);
            rules.non_product_skus.iter().any(|s| s == sku)
                || rules
                    .non_product_sku_prefixes
                    .iter()
                    .any(|pre| sku.starts_with(pre.as_str()))
        })
        .collect();

    let valid: Vec<bool> = (0..n)
        .map(|i| sku_of(i).is_some() && c.at(i).is_some() && c.qty(i).is_some())
        .collect();
    let dup_of = if rules.drop_duplicates {
        duplicates(n, &valid, |i| {
            (
                code(&c.order_id, i),
                sku_of(i).unwrap_or(Codes::NULL),
                c.at(i).unwrap_or_default(),
                c.qty(i).unwrap_or_default().to_bits(),
                c.price(i).map(f64::to_bits),
                code(&c.customer, i),
                code(&c.loc, i),
                code(&c.status, i),
            )
        })
    } else {
        HashMap::default()
    };

    let mut class = vec![Class::Rejected; n];
    let mut rejects: Vec<Reject> = Vec::new();
    let mut count = |code: &'static str| *ds.order_classes.entry(code).or_insert(0) += 1;

    for i in 0..n {
        let sku = sku_of(i).map(|k| skus_t.name(k));
        let order_id = || sref(&c.order_id, i).map(str::to_string);
        let mk = |code: &'static str, reason: String| Reject {
            input: "orders",
            row: (i + 1) as u32,
            reason_code: code,
            reason,
            sku: sku.map(str::to_string),
            at: c.at(i),
            quantity: c.qty(i),
            order_id: order_id(),
        };
        let missing = if sku.is_none() {
            Some(("sku", col(m, "sku")))
        } else if c.at(i).is_none() {
            Some(("order_date", col(m, "order_date")))
        } else if c.qty(i).is_none() {
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
        let (Some(sku_code), Some(qty)) = (sku_of(i), c.qty(i)) else {
            continue;
        };
        if let Some(first) = dup_of.get(&(i as u32)) {
            rejects.push(mk(
                "duplicate",
                format!("exact duplicate of row {}", first + 1),
            ));
            count("duplicate");
            continue;
        }
        let status = c
            .status
            .as_ref()
            .and_then(|s| s.code(i))
            .map(|k| status_norm[k as usize].as_str());
        let price = c.price(i);
        if let Some(s) = status {
            if cancel_status.iter().any(|x| x == s) {
                rejects.push(mk(
                    "cancelled_status",
                    format!("status '{s}' means cancelled: not demand"),
                ));
                count("cancelled_status");
                continue;
            }
        }
        if non_product[sku_code as usize] {
            let sku = skus_t.name(sku_code);
            rejects.push(mk(
                "non_product",
                format!("'{sku}' is configured as a non-product code (fee, postage, discount)"),
            ));
            count("non_product");
            continue;
        }
        let oid = sref(&c.order_id, i);
        if let Some(oid) = oid {
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
        let is_return = rules
            .return_order_id_prefix
            .as_ref()
            .is_some_and(|pre| oid.is_some_and(|o| o.starts_with(pre.as_str())))
            || status.is_some_and(|s| return_status.iter().any(|x| x == s))
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
    drop(dup_of);
    drop(valid);

    // Cancellation matching: a return of the whole line by the same customer soon after
    // the sale undoes it (e.g. the 80,995-unit order cancelled 12 minutes later). Only sales
    // whose (SKU, customer, quantity) some return has are candidates.
    let window = (rules.cancel_match_hours * 3600.0) as i64;
    let empty_customer = c.customer.as_ref().and_then(|v| v.dict.get(""));
    let key = |i: usize| {
        let cust = c
            .customer
            .as_ref()
            .and_then(|v| v.code(i))
            .or(empty_customer)
            .unwrap_or(Codes::NULL);
        (
            sku_of(i).unwrap_or(Codes::NULL),
            cust,
            c.qty(i).unwrap_or_default().abs().to_bits(),
        )
    };
    if window > 0 {
        let mut returns: Vec<usize> = (0..n).filter(|&i| class[i] == Class::Return).collect();
        let mut open_sales: HashMap<(u32, u32, u64), Vec<usize>> =
            returns.iter().map(|&r| (key(r), Vec::new())).collect();
        if !open_sales.is_empty() {
            for i in 0..n {
                if class[i] == Class::Demand {
                    if let Some(v) = open_sales.get_mut(&key(i)) {
                        v.push(i);
                    }
                }
            }
        }
        for v in open_sales.values_mut() {
            v.sort_by_key(|&i| (c.at(i), i));
        }
        returns.sort_by_key(|&i| (c.at(i), i));
        for r in returns {
            let Some(rat) = c.at(r) else {
                continue;
            };
            let Some(cands) = open_sales.get_mut(&key(r)) else {
                continue;
            };
            let pos = cands
                .iter()
                .position(|&d| c.at(d).is_some_and(|dat| dat <= rat && rat - dat <= window));
            if let Some(k) = pos {
                let d = cands.remove(k);
                class[d] = Class::Rejected;
                class[r] = Class::Rejected;
                let minutes = (rat - c.at(d).unwrap_or(rat)) / 60;
                for (row, other, what) in [(d, r, "cancelled by"), (r, d, "cancels")] {
                    rejects.push(Reject {
                        input: "orders",
                        row: (row + 1) as u32,
                        reason_code: "cancelled_order",
                        reason: format!(
                            "{what} row {} ({minutes} min apart, same quantity): not demand",
                            other + 1
                        ),
                        sku: c.sku.get(row).map(str::to_string),
                        at: c.at(row),
                        quantity: c.qty(row),
                        order_id: sref(&c.order_id, row).map(str::to_string),
                    });
                }
                count("cancelled_order");
                count("cancelled_order");
            }
        }
    }

    let default_loc = ds.locs.intern(&p.defaults.location);
    // Dataset codes per column code, filled in row order so first-seen order is kept.
    const UNSET: u32 = u32::MAX;
    let mut loc_of = vec![UNSET; c.loc.as_ref().map_or(0, |l| l.dict.len())];
    let mut sku_ds = vec![UNSET; skus_t.len()];
    let mut channel_of = vec![UNSET; c.channel.as_ref().map_or(0, |l| l.dict.len())];
    let mut country_of = vec![UNSET; c.country.as_ref().map_or(0, |l| l.dict.len())];
    fn cached(cache: &mut [u32], k: u32, dict: &mut Dict, name: &str) -> u32 {
        let slot = &mut cache[k as usize];
        if *slot == UNSET {
            *slot = dict.intern(name);
        }
        *slot
    }
    // Order ids and customers are only compared, never listed: the column's own
    // dictionary serves as the dataset's (no second copy of 17 M order ids).
    let order_dict = ds.orders.is_empty() && ds.customers.is_empty();
    let n_demand = class.iter().filter(|&&k| k == Class::Demand).count();
    ds.demand.reserve_exact(n_demand);
    let mut prices: HashMap<u32, Vec<f64>> = HashMap::default();
    for i in 0..n {
        let (Some(_), Some(at), Some(q)) = (c.sku.code(i), c.at(i), c.qty(i)) else {
            continue;
        };
        let loc = match (&c.loc, c.loc.as_ref().and_then(|l| l.code(i))) {
            (Some(l), Some(k)) if !l.dict.name(k).trim().is_empty() => {
                cached(&mut loc_of, k, &mut ds.locs, l.dict.name(k).trim())
            }
            _ => default_loc,
        };
        if class[i] == Class::Rejected {
            continue;
        }
        let Some(st) = sku_of(i) else {
            continue;
        };
        let sku_name = skus_t.name(st);
        let customer = c.customer.as_ref().and_then(|v| {
            v.code(i).map(|k| {
                if order_dict {
                    k
                } else {
                    ds.customers.intern(v.dict.name(k))
                }
            })
        });
        match class[i] {
            Class::Demand => {
                if let Some(max) = rules.max_line_quantity {
                    if q > max {
                        rejects.push(Reject {
                            input: "orders",
                            row: (i + 1) as u32,
                            reason_code: "above_max_line_quantity",
                            reason: format!("quantity {q} exceeds max_line_quantity {max}"),
                            sku: Some(sku_name.to_string()),
                            at: Some(at),
                            quantity: Some(q),
                            order_id: sref(&c.order_id, i).map(str::to_string),
                        });
                        count("above_max_line_quantity");
                        continue;
                    }
                }
                let sku = cached(&mut sku_ds, st, &mut ds.skus, sku_name);
                let price = c.price(i);
                if let Some(pr) = price.filter(|p| *p > 0.0) {
                    prices.entry(sku).or_default().push(pr);
                }
                let order = c.order_id.as_ref().and_then(|v| {
                    v.code(i).map(|k| {
                        if order_dict {
                            k
                        } else {
                            ds.orders.intern(v.dict.name(k))
                        }
                    })
                });
                let channel = c.channel.as_ref().and_then(|v| {
                    v.code(i).map(|k| {
                        cached(&mut channel_of, k, &mut ds.channels, v.dict.name(k).trim())
                    })
                });
                let country = c.country.as_ref().and_then(|v| {
                    v.code(i).map(|k| {
                        cached(&mut country_of, k, &mut ds.countries, v.dict.name(k).trim())
                    })
                });
                ds.demand.push(
                    DemandLine::new((i + 1) as u32, at, sku, loc, q, price)
                        .linked(order, customer)
                        .placed(channel, country),
                );
                count("demand");
            }
            Class::Return => {
                let sku = cached(&mut sku_ds, st, &mut ds.skus, sku_name);
                ds.returns.push(ReturnLine {
                    input: "orders",
                    row: (i + 1) as u32,
                    at,
                    sku,
                    loc,
                    qty: q.abs(),
                    order_id: sref(&c.order_id, i).map(str::to_string),
                    order_at: None,
                    customer,
                    restockable: None,
                });
                count("return");
            }
            Class::Rejected => {}
        }
    }
    if order_dict {
        let Cols {
            order_id, customer, ..
        } = c;
        ds.orders = order_id.map(|v| v.dict).unwrap_or_default();
        ds.customers = customer.map(|v| v.dict).unwrap_or_default();
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
        .filter(|d| match (d.price(), ds.median_price.get(&d.sku)) {
            (Some(p), Some(m)) if p > 0.0 => p > factor * m || p * factor < *m,
            _ => false,
        })
        .count();
    ds.rejects.extend(rejects);
    Ok(t)
}
