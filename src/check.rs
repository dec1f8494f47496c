//! `restock check`: what data exist, what is missing, what looks wrong — before any run.
//!
//! Fatal input problems (missing file, missing column, bad value) stop here with the same
//! errors a run would give. Everything else becomes a finding with a severity; the exit
//! code is 0 unless a finding is an error (or a warning under `--strict`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::Pipeline;
use crate::error::Result;
use crate::ingest::{self, day_of};
use crate::panel::{self, to_date};
use crate::pipeline::resolve_as_of;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub input: &'static str,
    pub code: &'static str,
    pub count: usize,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    pub input: &'static str,
    pub path: String,
    pub rows: usize,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub pipeline: String,
    pub as_of: String,
    pub inputs: Vec<InputSummary>,
    pub missing_inputs: Vec<&'static str>,
    pub summary: BTreeMap<&'static str, serde_json::Value>,
    pub order_lines: BTreeMap<&'static str, usize>,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "restock check — pipeline '{}', as of {}",
            self.pipeline, self.as_of
        );
        let _ = writeln!(s, "\nINPUT       ROWS        FILE");
        for i in &self.inputs {
            let _ = writeln!(s, "{:<11} {:<11} {}", i.input, i.rows, i.path);
        }
        for m in &self.missing_inputs {
            let _ = writeln!(s, "{m:<11} {:<11} (not configured)", "-");
        }
        let _ = writeln!(s, "\nSUMMARY");
        for (k, v) in &self.summary {
            let v = match v {
                serde_json::Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(s, "  {k:<32} {v}");
        }
        let _ = writeln!(s, "\nORDER LINES BY CLASS");
        for (k, v) in &self.order_lines {
            let _ = writeln!(s, "  {k:<32} {v}");
        }
        let _ = writeln!(s, "\nFINDINGS");
        let _ = writeln!(
            s,
            "  {:<8} {:<9} {:<28} {:>8}  MESSAGE",
            "SEVERITY", "INPUT", "CODE", "COUNT"
        );
        for f in &self.findings {
            let sev = match f.severity {
                Severity::Info => "info",
                Severity::Warning => "WARNING",
                Severity::Error => "ERROR",
            };
            let _ = writeln!(
                s,
                "  {sev:<8} {:<9} {:<28} {:>8}  {}",
                f.input, f.code, f.count, f.message
            );
        }
        s
    }
}

pub fn check(p: &Pipeline) -> Result<Report> {
    let ds = ingest::load(p)?;
    let as_of = resolve_as_of(p, &ds)?;
    let panel = panel::build(p, &ds, as_of);
    let mut f: Vec<Finding> = Vec::new();
    let mut add = |severity, input, code, count: usize, message: String| {
        if count > 0 || severity == Severity::Error {
            f.push(Finding {
                severity,
                input,
                code,
                count,
                message,
            });
        }
    };
    use Severity::*;

    let cls = |k: &str| ds.order_classes.get(k).copied().unwrap_or(0);
    add(
        Warning,
        "orders",
        "duplicate",
        cls("duplicate"),
        "exact duplicate lines; the first is kept, the rest are in rejects".into(),
    );
    add(
        Info,
        "orders",
        "stock_adjustment",
        cls("stock_adjustment"),
        "negative lines that are not customer returns (stock corrections): neither demand nor returns".into(),
    );
    add(
        Info,
        "orders",
        "cancelled_order",
        cls("cancelled_order") / 2,
        "sales cancelled by a matching return soon after (both lines removed from demand)".into(),
    );
    add(
        Info,
        "orders",
        "cancelled_status",
        cls("cancelled_status"),
        "lines with a cancelled status".into(),
    );
    add(
        Info,
        "orders",
        "return",
        cls("return"),
        "customer return lines (supply, not negative demand)".into(),
    );
    add(
        Info,
        "orders",
        "non_product",
        cls("non_product"),
        "fee/postage/discount lines (configured non-product codes)".into(),
    );
    add(
        Info,
        "orders",
        "excluded_order",
        cls("excluded_order"),
        "lines of excluded order-id prefixes".into(),
    );
    add(
        Warning,
        "orders",
        "zero_price",
        cls("zero_price"),
        "lines with unit price 0 (not counted as sales)".into(),
    );
    add(
        Warning,
        "orders",
        "negative_price",
        cls("negative_price"),
        "lines with a negative unit price".into(),
    );
    add(
        Warning,
        "orders",
        "zero_quantity",
        cls("zero_quantity"),
        "lines with quantity 0".into(),
    );
    add(
        Warning,
        "orders",
        "invalid_row",
        cls("invalid_row"),
        "lines with an empty sku, date or quantity".into(),
    );
    add(
        Warning,
        "orders",
        "return_positive_qty",
        cls("return_positive_qty"),
        "return lines with a positive quantity".into(),
    );
    add(
        Warning,
        "orders",
        "above_max_line_quantity",
        cls("above_max_line_quantity"),
        "lines above max_line_quantity (rejected)".into(),
    );
    add(
        Warning,
        "orders",
        "absurd_quantity",
        ds.absurd_lines,
        format!(
            "demand lines above {}× their SKU's median line (kept; check them)",
            p.check.absurd_quantity_factor
        ),
    );
    add(
        Warning,
        "orders",
        "absurd_price",
        ds.absurd_price_lines,
        format!(
            "demand lines priced more than {}× above or below their SKU's median price",
            p.check.absurd_quantity_factor
        ),
    );
    add(
        Info,
        "orders",
        "after_as_of",
        panel.demand_lines_after_as_of,
        format!(
            "demand lines after the as-of date {} (not used)",
            to_date(as_of)
        ),
    );
    if ds.demand.is_empty() || cls("demand") * 2 < ds.orders_rows {
        add(
            Error,
            "orders",
            "mostly_rejected",
            ds.orders_rows - cls("demand"),
            "more than half of all order lines are not demand: check the column mapping and rules"
                .into(),
        );
    }

    // Master coverage.
    let sold: BTreeSet<u32> = ds.demand.iter().map(|d| d.sku).collect();
    let has_products = p.inputs.products.path.is_some();
    if has_products {
        let missing = sold.iter().filter(|s| !ds.products.contains_key(s)).count();
        add(
            Warning,
            "products",
            "sold_not_in_master",
            missing,
            "SKUs sold but missing in the product master (defaults used)".into(),
        );
        let unsold = ds.products.keys().filter(|s| !sold.contains(s)).count();
        add(
            Info,
            "products",
            "master_never_sold",
            unsold,
            "SKUs in the master without a sale up to as-of (no forecast, no proposal)".into(),
        );
        let sups: BTreeSet<&String> = ds
            .products
            .values()
            .filter_map(|p| p.supplier_id.as_ref())
            .collect();
        if p.inputs.suppliers.path.is_some() {
            let unknown = sups
                .iter()
                .filter(|s| !ds.suppliers.contains_key(s.as_str()))
                .count();
            add(
                Warning,
                "suppliers",
                "unknown_supplier",
                unknown,
                "suppliers named in the product master but missing in the supplier file".into(),
            );
        }
    } else {
        add(Warning, "products", "no_master", sold.len(), format!(
            "no product master: lead time {} d, MOQ {}, pack {}, service level {} are pipeline defaults for every SKU",
            p.defaults.lead_time_days, p.defaults.moq, p.defaults.pack_size, p.defaults.service_level
        ));
    }
    if p.inputs.suppliers.path.is_none() {
        add(
            Info,
            "suppliers",
            "no_suppliers",
            1,
            "no supplier file: no order calendars or minimum order values".into(),
        );
    }
    // Stock.
    if p.inputs.stock.path.is_none() {
        add(
            Warning,
            "stock",
            "no_stock",
            panel.series.len(),
            "no stock snapshots: on hand is assumed 0 and stockout days cannot be detected".into(),
        );
    } else {
        let mut latest: BTreeMap<(u32, u32), i32> = BTreeMap::new();
        for r in ds.stock.iter().filter(|r| r.day <= as_of) {
            let e = latest.entry((r.sku, r.loc)).or_insert(r.day);
            *e = (*e).max(r.day);
        }
        let without = panel
            .series
            .iter()
            .filter(|s| !latest.contains_key(&(s.sku, s.loc)))
            .count();
        add(
            Warning,
            "stock",
            "series_without_snapshot",
            without,
            "series without a stock snapshot on or before as-of (on hand assumed 0)".into(),
        );
        let stale_limit = as_of - p.replenish.stale_snapshot_days as i32;
        let stale = latest.values().filter(|d| **d < stale_limit).count();
        add(
            Warning,
            "stock",
            "stale_snapshot",
            stale,
            format!(
                "series whose latest snapshot is older than {} days",
                p.replenish.stale_snapshot_days
            ),
        );
        let censored: usize = panel.series.iter().map(|s| s.censored_days).sum();
        add(
            Info,
            "stock",
            "stockout_days",
            censored,
            "series-days with on hand <= 0 (censored: not used as zero demand)".into(),
        );
    }
    // Returns: linking to sales, plausibility, what the model will use.
    let rm = crate::returns::fit(p, &ds, as_of);
    let rq = &rm.quality;
    add(
        Warning,
        "returns",
        "return_without_sale",
        rq.without_sale,
        "return lines for SKUs never sold up to as-of (not used)".into(),
    );
    add(
        Warning,
        "returns",
        "return_before_sale",
        rq.before_sale,
        "returns dated before the sale they are linked to (lag unknown)".into(),
    );
    add(
        Warning,
        "returns",
        "rate_above_100pct",
        rq.rate_above_one,
        "SKUs with more units returned than sold in the estimation window (capped at 100 %)".into(),
    );
    add(Warning, "returns", "return_outlier", rq.outliers, format!(
        "return lines above {0}× their SKU's median sale line (bulk cancellations?): counted as {0}× that line when estimating rates",
        p.returns.outlier_factor
    ));
    let unlinked = rq.linked_by.get("unlinked").copied().unwrap_or(0);
    add(Info, "returns", "return_unlinked", unlinked, "returns that could not be linked to a sale (order id, order date or customer); sale date estimated from the median lag".into());
    let linked: usize = rq
        .linked_by
        .iter()
        .filter(|(k, _)| **k != "unlinked")
        .map(|(_, v)| v)
        .sum();
    add(Info, "returns", "return_linked", linked, format!(
        "returns linked to their sale ({}); pooled return rate {:.1} %, lag from {}, restockable share {:.0} % ({})",
        rq.linked_by.iter().filter(|(k, _)| **k != "unlinked").map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "),
        rm.global_rate * 100.0, rm.lag_source, rm.global_restockable * 100.0, rm.restockable_source
    ));
    if rm.restockable_source == "default" && rq.returns > 0 {
        add(
            Warning,
            "returns",
            "restockable_defaulted",
            rq.returns,
            format!(
                "no restockable flag in the data: returns.restockable_share = {} assumed",
                p.returns.restockable_share
            ),
        );
    }
    // Open POs.
    let po_unknown = ds
        .open_pos
        .iter()
        .filter(|po| !sold.contains(&po.sku))
        .count();
    add(
        Info,
        "open_pos",
        "po_for_unsold_sku",
        po_unknown,
        "open PO lines for SKUs without sales".into(),
    );
    let overdue = ds
        .open_pos
        .iter()
        .filter(|po| po.expected_day <= as_of)
        .count();
    add(
        Warning,
        "open_pos",
        "overdue_po",
        overdue,
        "open PO lines whose expected date has passed (counted as on order)".into(),
    );
    // History.
    let short = panel
        .series
        .iter()
        .filter(|s| (s.len as u32) < p.check.min_history_days)
        .count();
    add(
        Info,
        "panel",
        "short_history",
        short,
        format!(
            "series with less than {} days since first sale",
            p.check.min_history_days
        ),
    );
    if !panel.calendar.closed_weekdays.is_empty() {
        let detected = if panel.calendar.detected_weekdays.is_empty() {
            "none".to_string()
        } else {
            panel.calendar.detected_weekdays.join(", ")
        };
        add(Info, "panel", "closed_weekdays", panel.calendar.closed_weekdays.len(), format!(
            "closed weekdays: {} (detected from the data: {detected}); zero there is not zero demand",
            panel.calendar.closed_weekdays.join(", ")
        ));
    }
    // Promotions of rivals: which series the pooled model can see them for.
    if panel.has_promotions() {
        let shelves = panel.rival_groups();
        let (shared, largest) = shelves
            .iter()
            .filter(|g| g.size > 1)
            .fold((0u32, 0u32), |(n, m), g| (n + g.size, m.max(g.size)));
        let categories = ds.products.values().any(|p| p.category.is_some());
        let rule = if categories {
            "same location and category"
        } else {
            "same location; the product master has no category, so every item of a location is a rival"
        };
        add(Info, "panel", "promotion_rivals", shared as usize, format!(
            "series with rivals on their shelf ({rule}): {} shelves, the largest {largest} series; the pooled model reads the share of rivals on promotion",
            shelves.iter().filter(|g| g.size > 1).count()
        ));
    }
    // Shop events: what each kind has to learn from, and days that cannot act.
    let window = crate::forecast::promo::EVENT_DAYS as crate::ingest::Day;
    for (kind, dates) in &panel.calendar.events {
        let days: Vec<crate::ingest::Day> = dates.iter().map(|d| panel::from_date(*d)).collect();
        let seen = days
            .iter()
            .filter(|&&d| d <= as_of && d > as_of - window)
            .count();
        let planned = days.iter().filter(|&&d| d > as_of).count();
        add(Info, "calendar", "event_days", dates.len(), format!(
            "event kind '{kind}': {seen} days in the last two years (its lift is measured there), {planned} planned"
        ));
        if seen == 0 && planned > 0 {
            add(Warning, "calendar", "event_unseen", planned, format!(
                "event kind '{kind}' has planned days but none in the last two years of history: they get no lift"
            ));
        }
        let closed: Vec<String> = days
            .iter()
            .filter(|&&d| panel.calendar.is_closed(d))
            .map(|&d| to_date(d).to_string())
            .collect();
        if !closed.is_empty() {
            add(
                Warning,
                "calendar",
                "event_on_closed_day",
                closed.len(),
                format!(
                    "event kind '{kind}' on closed days ({}): a closed day has no demand to lift",
                    closed.join(", ")
                ),
            );
        }
    }
    add(
        Info,
        "panel",
        "closed_dates",
        panel.calendar.closed_dates.len(),
        "dates without any trading on an open weekday (treated as closed, not zero demand)".into(),
    );
    let other_rejects: BTreeMap<(&str, &str), usize> = ds
        .rejects
        .iter()
        .filter(|r| r.input != "orders")
        .fold(BTreeMap::new(), |mut m, r| {
            *m.entry((r.input, r.reason_code)).or_insert(0) += 1;
            m
        });
    for ((input, code), n) in other_rejects {
        let input: &'static str = match input {
            "products" => "products",
            "suppliers" => "suppliers",
            "stock" => "stock",
            "open_pos" => "open_pos",
            _ => "returns",
        };
        let code: &'static str = match code {
            "duplicate_master" => "duplicate_master",
            "invalid_row" => "invalid_row",
            "zero_quantity" => "zero_quantity",
            _ => "non_positive_quantity",
        };
        add(
            Warning,
            input,
            code,
            n,
            "rows rejected (see rejects.parquet of a run)".into(),
        );
    }
    f.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.input.cmp(b.input))
            .then(a.code.cmp(b.code))
    });

    let days: Vec<i32> = ds.demand.iter().map(|d| day_of(d.at)).collect();
    let mut summary = BTreeMap::new();

    summary.insert(
        "orders_date_from",
        serde_json::json!(days.iter().min().map(|d| to_date(*d).to_string())),
    );
    summary.insert(
        "orders_date_to",
        serde_json::json!(days.iter().max().map(|d| to_date(*d).to_string())),
    );
    summary.insert("skus_sold", serde_json::json!(sold.len()));
    summary.insert("locations", serde_json::json!(ds.locs.len()));
    summary.insert("series", serde_json::json!(panel.series.len()));
    summary.insert(
        "demand_units",
        serde_json::json!(ds.demand.iter().map(|d| d.qty).sum::<f64>()),
    );
    summary.insert(
        "return_units",
        serde_json::json!(ds.returns.iter().map(|r| r.qty).sum::<f64>()),
    );
    summary.insert("products_in_master", serde_json::json!(ds.products.len()));
    summary.insert("suppliers", serde_json::json!(ds.suppliers.len()));
    summary.insert("stock_snapshot_rows", serde_json::json!(ds.stock.len()));
    summary.insert("open_po_lines", serde_json::json!(ds.open_pos.len()));
    summary.insert("rejected_rows", serde_json::json!(ds.rejects.len()));
    summary.insert(
        "closed_weekdays",
        serde_json::json!(panel.calendar.closed_weekdays.join(",")),
    );
    let configured = [
        ("returns", &p.inputs.returns.path),
        ("stock", &p.inputs.stock.path),
        ("products", &p.inputs.products.path),
        ("suppliers", &p.inputs.suppliers.path),
        ("open_pos", &p.inputs.open_pos.path),
    ];
    Ok(Report {
        pipeline: p.name.clone(),
        as_of: to_date(as_of).to_string(),
        inputs: ds
            .files
            .iter()
            .map(|i| InputSummary {
                input: i.input,
                path: i.path.display().to_string(),
                rows: i.rows,
                sha256: i.sha256.clone(),
            })
            .collect(),
        missing_inputs: configured
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(n, _)| *n)
            .collect(),
        summary,
        order_lines: ds.order_classes.clone(),
        findings: f,
    })
}
