//! Master data, stock snapshots, open purchase orders and the returns file.
//!
//! Values that would make a proposal wrong (negative lead time, service level outside
//! (0, 1), non-positive pack) are fatal and name file, column and row: a planner must fix
//! the master rather than get a quietly wrong order.

use crate::config::{check_service_level, parse_weekday_list, Pipeline, PolicyKind};
use crate::error::{InputError, Result};

use super::{
    col, day_of, row_problem, Dataset, OpenPo, OverrideAction, PlannerOverride, Product, Reject,
    ReturnLine, StockRow, Supplier, Table,
};

fn bad(t: &Table, column: &str, row: usize, detail: String) -> InputError {
    InputError::BadValue {
        input: t.input,
        path: t.path.clone(),
        column: column.to_string(),
        row: row + 1,
        detail,
    }
}

/// A row of a side input that cannot be understood: fatal naming file, column and row, or a
/// reject with the reason and the row's (sku, time, quantity), as `invalid_rows` says.
fn invalid_row(
    p: &Pipeline,
    t: &Table,
    ds: &mut Dataset,
    column: &str,
    row: usize,
    detail: String,
    (sku, at, quantity): (Option<String>, Option<crate::ingest::Secs>, Option<f64>),
) -> Result<()> {
    let err = bad(t, column, row, detail.clone());
    let rej = Reject {
        input: t.input,
        row: (row + 1) as u32,
        reason_code: "invalid_row",
        reason: detail,
        sku,
        at,
        quantity,
        order_id: None,
    };
    row_problem(
        p.inputs.orders.rules.invalid_rows,
        &mut ds.rejects,
        err,
        rej,
    )
}

fn opt<T: Clone>(v: &Option<Vec<Option<T>>>, i: usize) -> Option<T> {
    v.as_ref().and_then(|c| c[i].clone())
}

fn nonneg(t: &Table, column: &str, row: usize, v: Option<f64>) -> Result<Option<f64>> {
    match v {
        Some(x) if x < 0.0 => Err(bad(t, column, row, format!("{x} is negative")).into()),
        _ => Ok(v),
    }
}

fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

pub(super) fn products(p: &Pipeline, t: &Table, ds: &mut Dataset) -> Result<()> {
    let m = &p.inputs.products.columns;
    let sku = t.strings(col(m, "sku"), "sku", true)?.unwrap_or_default();
    let supplier = t.strings(col(m, "supplier_id"), "supplier_id", false)?;
    let cost = t.f64s(col(m, "unit_cost"), "unit_cost", false)?;
    let lt = t.f64s(col(m, "lead_time_days"), "lead_time_days", false)?;
    let moq = t.f64s(col(m, "moq"), "moq", false)?;
    let pack = t.f64s(col(m, "pack_size"), "pack_size", false)?;
    let sl = t.f64s(col(m, "service_level"), "service_level", false)?;
    let cat = t.strings(col(m, "category"), "category", false)?;
    let shelf = t.f64s(col(m, "shelf_life_days"), "shelf_life_days", false)?;
    let active = t.bools(col(m, "active"), "active")?;
    let policy = t.strings(col(m, "policy"), "policy", false)?;
    let price = t.f64s(col(m, "price"), "price", false)?;
    let max_stock = t.f64s(col(m, "max_stock"), "max_stock", false)?;
    for i in 0..t.rows {
        let Some(s) = trimmed(sku[i].clone()) else {
            let err = bad(t, col(m, "sku"), i, "sku is empty".into());
            let rej = Reject {
                input: "products",
                row: (i + 1) as u32,
                reason_code: "invalid_row",
                reason: "sku is empty".into(),
                sku: None,
                at: None,
                quantity: None,
                order_id: None,
            };
            row_problem(
                p.inputs.orders.rules.invalid_rows,
                &mut ds.rejects,
                err,
                rej,
            )?;
            continue;
        };
        let service_level = opt(&sl, i);
        if let Some(v) = service_level {
            check_service_level("service_level", v).map_err(|_| {
                bad(
                    t,
                    col(m, "service_level"),
                    i,
                    format!("{v} must lie strictly between 0 and 1"),
                )
            })?;
        }
        let pack_size = opt(&pack, i);
        if let Some(v) = pack_size {
            if v <= 0.0 {
                return Err(bad(t, col(m, "pack_size"), i, format!("{v} must be > 0")).into());
            }
        }
        let prod = Product {
            supplier_id: trimmed(opt(&supplier, i)),
            unit_cost: nonneg(t, col(m, "unit_cost"), i, opt(&cost, i))?,
            lead_time_days: nonneg(t, col(m, "lead_time_days"), i, opt(&lt, i))?,
            // MOQ 0 in ERPs means "no minimum".
            moq: nonneg(t, col(m, "moq"), i, opt(&moq, i))?.filter(|v| *v > 0.0),
            pack_size,
            service_level,
            category: trimmed(opt(&cat, i)),
            shelf_life_days: nonneg(t, col(m, "shelf_life_days"), i, opt(&shelf, i))?,
            active: opt(&active, i),
            policy: match trimmed(opt(&policy, i)) {
                None => None,
                Some(v) => Some(PolicyKind::parse(&v).ok_or_else(|| {
                    bad(
                        t,
                        col(m, "policy"),
                        i,
                        format!("'{v}' is not a policy (order_up_to, rq, min_max, newsvendor)"),
                    )
                })?),
            },
            price: nonneg(t, col(m, "price"), i, opt(&price, i))?,
            max_stock: nonneg(t, col(m, "max_stock"), i, opt(&max_stock, i))?,
        };
        let id = ds.skus.intern(&s);
        if ds.products.contains_key(&id) {
            ds.rejects.push(Reject {
                input: "products",
                row: (i + 1) as u32,
                reason_code: "duplicate_master",
                reason: format!(
                    "sku '{s}' appears more than once in the product master; the first row is used"
                ),
                sku: Some(s),
                at: None,
                quantity: None,
                order_id: None,
            });
            continue;
        }
        ds.products.insert(id, prod);
    }
    Ok(())
}

pub(super) fn suppliers(p: &Pipeline, t: &Table, ds: &mut Dataset) -> Result<()> {
    let m = &p.inputs.suppliers.columns;
    let id = t
        .strings(col(m, "supplier_id"), "supplier_id", true)?
        .unwrap_or_default();
    let lt = t.f64s(col(m, "lead_time_days"), "lead_time_days", false)?;
    let sd = t.f64s(col(m, "lead_time_sd_days"), "lead_time_sd_days", false)?;
    let wd = t.strings(col(m, "order_weekdays"), "order_weekdays", false)?;
    let mov = t.f64s(col(m, "min_order_value"), "min_order_value", false)?;
    let cur = t.strings(col(m, "currency"), "currency", false)?;
    for i in 0..t.rows {
        let Some(s) = trimmed(id[i].clone()) else {
            return Err(bad(t, col(m, "supplier_id"), i, "supplier_id is empty".into()).into());
        };
        let order_weekdays = match opt(&wd, i) {
            Some(w) => parse_weekday_list("order_weekdays", &w)
                .map_err(|e| bad(t, col(m, "order_weekdays"), i, e.to_string()))?,
            None => vec![],
        };
        let sup = Supplier {
            lead_time_days: nonneg(t, col(m, "lead_time_days"), i, opt(&lt, i))?,
            lead_time_sd_days: nonneg(t, col(m, "lead_time_sd_days"), i, opt(&sd, i))?,
            order_weekdays,
            min_order_value: nonneg(t, col(m, "min_order_value"), i, opt(&mov, i))?,
            currency: trimmed(opt(&cur, i)),
        };
        if ds.suppliers.contains_key(&s) {
            ds.rejects.push(Reject {
                input: "suppliers",
                row: (i + 1) as u32,
                reason_code: "duplicate_master",
                reason: format!("supplier '{s}' appears more than once; the first row is used"),
                sku: None,
                at: None,
                quantity: None,
                order_id: None,
            });
            continue;
        }
        ds.suppliers.insert(s, sup);
    }
    Ok(())
}

pub(super) fn stock(p: &Pipeline, t: &Table, ds: &mut Dataset) -> Result<()> {
    let m = &p.inputs.stock.columns;
    let date = t
        .datetimes(col(m, "snapshot_date"), "snapshot_date", true)?
        .unwrap_or_default();
    let sku = t.strings(col(m, "sku"), "sku", true)?.unwrap_or_default();
    let loc = t.strings(col(m, "location"), "location", false)?;
    let on_hand = t
        .f64s(col(m, "on_hand"), "on_hand", true)?
        .unwrap_or_default();
    let reserved = t.f64s(col(m, "reserved"), "reserved", false)?;
    for i in 0..t.rows {
        let (Some(d), Some(s), Some(q)) = (date[i], trimmed(sku[i].clone()), on_hand[i]) else {
            let which = if date[i].is_none() {
                "snapshot_date"
            } else if sku[i].is_none() {
                "sku"
            } else {
                "on_hand"
            };
            let err = bad(t, col(m, which), i, format!("{which} is empty"));
            let rej = Reject {
                input: "stock",
                row: (i + 1) as u32,
                reason_code: "invalid_row",
                reason: format!("{which} is empty"),
                sku: sku[i].clone(),
                at: date[i],
                quantity: on_hand[i],
                order_id: None,
            };
            row_problem(
                p.inputs.orders.rules.invalid_rows,
                &mut ds.rejects,
                err,
                rej,
            )?;
            continue;
        };
        let loc = trimmed(opt(&loc, i)).unwrap_or_else(|| p.defaults.location.clone());
        let row = StockRow {
            day: day_of(d),
            sku: ds.skus.intern(&s),
            loc: ds.locs.intern(&loc),
            on_hand: q,
            reserved: nonneg(t, col(m, "reserved"), i, opt(&reserved, i))?.unwrap_or(0.0),
        };
        ds.stock.push(row);
    }
    Ok(())
}

pub(super) fn open_pos(p: &Pipeline, t: &Table, ds: &mut Dataset) -> Result<()> {
    let m = &p.inputs.open_pos.columns;
    let sku = t.strings(col(m, "sku"), "sku", true)?.unwrap_or_default();
    let loc = t.strings(col(m, "location"), "location", false)?;
    let qty = t
        .f64s(col(m, "quantity"), "quantity", true)?
        .unwrap_or_default();
    let date = t
        .datetimes(col(m, "expected_date"), "expected_date", true)?
        .unwrap_or_default();
    for i in 0..t.rows {
        let (Some(s), Some(q), Some(d)) = (trimmed(sku[i].clone()), qty[i], date[i]) else {
            let which = if sku[i].is_none() {
                "sku"
            } else if qty[i].is_none() {
                "quantity"
            } else {
                "expected_date"
            };
            return Err(bad(t, col(m, which), i, format!("{which} is empty")).into());
        };
        if q <= 0.0 {
            ds.rejects.push(Reject {
                input: "open_pos",
                row: (i + 1) as u32,
                reason_code: "non_positive_quantity",
                reason: format!("open PO quantity {q} is not positive"),
                sku: Some(s),
                at: Some(d),
                quantity: Some(q),
                order_id: None,
            });
            continue;
        }
        let loc = trimmed(opt(&loc, i)).unwrap_or_else(|| p.defaults.location.clone());
        let po = OpenPo {
            sku: ds.skus.intern(&s),
            loc: ds.locs.intern(&loc),
            qty: q,
            expected_day: day_of(d),
        };
        ds.open_pos.push(po);
    }
    Ok(())
}

pub(super) fn returns(p: &Pipeline, t: &Table, ds: &mut Dataset) -> Result<()> {
    let m = &p.inputs.returns.columns;
    let date = t
        .datetimes(col(m, "return_date"), "return_date", true)?
        .unwrap_or_default();
    let sku = t.strings(col(m, "sku"), "sku", true)?.unwrap_or_default();
    let qty = t
        .f64s(col(m, "quantity"), "quantity", true)?
        .unwrap_or_default();
    let order_id = t.strings(col(m, "order_id"), "order_id", false)?;
    let loc = t.strings(col(m, "location"), "location", false)?;
    let restock = t.bools(col(m, "restockable"), "restockable")?;
    let order_date = t.datetimes(col(m, "order_date"), "order_date", false)?;
    let customer = t.strings(col(m, "customer_id"), "customer_id", false)?;
    for i in 0..t.rows {
        let (Some(d), Some(s), Some(q)) = (date[i], trimmed(sku[i].clone()), qty[i]) else {
            let which = if date[i].is_none() {
                "return_date"
            } else if sku[i].is_none() {
                "sku"
            } else {
                "quantity"
            };
            let err = bad(t, col(m, which), i, format!("{which} is empty"));
            let rej = Reject {
                input: "returns",
                row: (i + 1) as u32,
                reason_code: "invalid_row",
                reason: format!("{which} is empty"),
                sku: sku[i].clone(),
                at: date[i],
                quantity: qty[i],
                order_id: opt(&order_id, i),
            };
            row_problem(
                p.inputs.orders.rules.invalid_rows,
                &mut ds.rejects,
                err,
                rej,
            )?;
            continue;
        };
        if q == 0.0 {
            ds.rejects.push(Reject {
                input: "returns",
                row: (i + 1) as u32,
                reason_code: "zero_quantity",
                reason: "returned quantity is 0".into(),
                sku: Some(s),
                at: Some(d),
                quantity: Some(q),
                order_id: opt(&order_id, i),
            });
            continue;
        }
        let loc = trimmed(opt(&loc, i)).unwrap_or_else(|| p.defaults.location.clone());
        let line = ReturnLine {
            input: "returns",
            row: (i + 1) as u32,
            at: d,
            sku: ds.skus.intern(&s),
            loc: ds.locs.intern(&loc),
            qty: q.abs(),
            order_id: opt(&order_id, i),
            order_at: opt(&order_date, i),
            customer: trimmed(opt(&customer, i)).map(|c| ds.customers.intern(&c)),
            restockable: opt(&restock, i),
        };
        ds.returns.push(line);
    }
    Ok(())
}

/// Planner overrides. A row that cannot be understood is an invalid row (fail or reject, as
/// `invalid_rows` says), never silently ignored.
pub(super) fn overrides(p: &Pipeline, t: &Table, ds: &mut Dataset) -> Result<()> {
    let m = &p.inputs.overrides.columns;
    let sku = t.strings(col(m, "sku"), "sku", true)?.unwrap_or_default();
    let loc = t.strings(col(m, "location"), "location", false)?;
    let action = t
        .strings(col(m, "action"), "action", true)?
        .unwrap_or_default();
    let value = t.f64s(col(m, "value"), "value", false)?;
    let reason = t.strings(col(m, "reason"), "reason", false)?;
    let who = t.strings(col(m, "who"), "who", false)?;
    let until = t.datetimes(col(m, "valid_until"), "valid_until", false)?;
    for i in 0..t.rows {
        let s = trimmed(sku[i].clone());
        let a = trimmed(action[i].clone()).map(|a| a.to_ascii_lowercase().replace([' ', '-'], "_"));
        let v = opt(&value, i);
        let parsed = match (s.as_deref(), a.as_deref()) {
            (None, _) => Err(("sku", "sku is empty".to_string())),
            (_, None) => Err(("action", "action is empty".to_string())),
            (Some(_), Some("fixed_qty" | "fixed" | "menge")) => match v {
                Some(q) if q >= 0.0 && q.is_finite() => Ok(OverrideAction::FixedQty),
                _ => Err(("value", "fixed_qty needs a value >= 0".to_string())),
            },
            (Some(_), Some("block" | "sperre")) => Ok(OverrideAction::Block),
            (Some(_), Some("service_level" | "servicegrad")) => match v {
                Some(x) if x > 0.0 && x < 1.0 => Ok(OverrideAction::ServiceLevel),
                _ => Err((
                    "value",
                    "service_level needs a value strictly between 0 and 1".to_string(),
                )),
            },
            (Some(_), Some(other)) => Err((
                "action",
                format!("'{other}' is not an action (fixed_qty, block, service_level)"),
            )),
        };
        match parsed {
            Ok(action) => ds.planner_overrides.push(PlannerOverride {
                row: (i + 1) as u32,
                sku: s.unwrap_or_default(),
                location: trimmed(opt(&loc, i)),
                action,
                value: v,
                reason: trimmed(opt(&reason, i)).unwrap_or_default(),
                who: trimmed(opt(&who, i)).unwrap_or_default(),
                valid_until: opt(&until, i).map(day_of),
            }),
            Err((column, detail)) => {
                let rej = (sku[i].clone(), None, v);
                invalid_row(p, t, ds, col(m, column), i, detail, rej)?;
            }
        }
    }
    Ok(())
}

/// The promotion calendar: one row per promotion of a SKU (at one location, or at all of its
/// locations when the location is empty), `start_date..=end_date`. Planned promotions are
/// what the pooled model reads ahead; past ones teach it their lift. A row that cannot be
/// understood is an invalid row (fail or reject, as `invalid_rows` says).
pub(super) fn promotions(p: &Pipeline, t: &Table, ds: &mut Dataset) -> Result<()> {
    let m = &p.inputs.promotions.columns;
    let sku = t.strings(col(m, "sku"), "sku", true)?.unwrap_or_default();
    let loc = t.strings(col(m, "location"), "location", false)?;
    let from = t
        .datetimes(col(m, "start_date"), "start_date", true)?
        .unwrap_or_default();
    let to = t
        .datetimes(col(m, "end_date"), "end_date", true)?
        .unwrap_or_default();
    for i in 0..t.rows {
        let s = trimmed(sku[i].clone());
        let parsed = match (s.as_deref(), from[i], to[i]) {
            (None, _, _) => Err(("sku", "sku is empty".to_string())),
            (_, None, _) => Err(("start_date", "start_date is empty".to_string())),
            (_, _, None) => Err(("end_date", "end_date is empty".to_string())),
            (Some(_), Some(a), Some(b)) => {
                let (a, b) = (day_of(a), day_of(b));
                if b < a {
                    Err(("end_date", "end_date is before start_date".to_string()))
                } else if b - a > 365 {
                    Err((
                        "end_date",
                        format!("a promotion of {} days is not a promotion", b - a + 1),
                    ))
                } else {
                    Ok((a, b))
                }
            }
        };
        match parsed {
            Ok((a, b)) => {
                let sku = ds.skus.intern(&s.unwrap_or_default());
                let loc = trimmed(opt(&loc, i)).map(|l| ds.locs.intern(&l));
                ds.promotions.push(super::Promotion {
                    sku,
                    loc,
                    from: a,
                    to: b,
                });
            }
            Err((column, detail)) => {
                let rej = (sku[i].clone(), from[i], None);
                invalid_row(p, t, ds, col(m, column), i, detail, rej)?;
            }
        }
    }
    Ok(())
}
