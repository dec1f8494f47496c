//! Ingest: the only stage that reads input files.
//!
//! Maps each export onto the canonical schema (README, "Inputs"), validates it, and splits
//! order lines into demand, returns and rejects. Every dropped row lands in `rejects`
//! with a reason code; nothing is dropped silently.

mod master;
mod orders;
pub mod table;

use std::collections::BTreeMap;

use std::path::{Path, PathBuf};

use chrono::Weekday;
use serde::Serialize;

use crate::config::{ColumnMap, Pipeline, RowPolicy};
use crate::error::{InputError, Result};
pub use table::{Secs, Table, SECS_PER_DAY};

/// Interned strings (SKUs, locations, order ids): ids are assigned in first-seen order and
/// never leak into outputs, which are keyed and sorted by the strings.
///
/// Stored once, in one arena, with a table of ids hashed by their text: an M5-size order
/// file has 17 M distinct order ids, and a `String` per name plus a second copy as the map
/// key cost ~90 bytes each where this costs the text plus ~9.
#[derive(Clone, Default)]
pub struct Dict {
    text: String,
    /// End of name i in `text` (its start is the end of name i − 1).
    ends: Vec<usize>,
    index: hashbrown::HashTable<u32>,
}

impl std::fmt::Debug for Dict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dict").field("len", &self.len()).finish()
    }
}

fn text_hash(s: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(s)
}

/// Name `i` of an arena (free function: `intern` needs it while `index` is borrowed).
fn arena_name<'a>(text: &'a str, ends: &[usize], i: u32) -> &'a str {
    let i = i as usize;
    &text[if i == 0 { 0 } else { ends[i - 1] }..ends[i]]
}

impl Dict {
    pub fn intern(&mut self, s: &str) -> u32 {
        let h = text_hash(s);
        let Dict { text, ends, index } = self;
        if let Some(&i) = index.find(h, |&i| arena_name(text, ends, i) == s) {
            return i;
        }
        let i = ends.len() as u32;
        text.push_str(s);
        ends.push(text.len());
        let (text, ends) = (&*text, &*ends);
        index.insert_unique(h, i, |&j| text_hash(arena_name(text, ends, j)));
        i
    }
    /// Room for `n` more names without rehashing.
    pub fn reserve(&mut self, n: usize) {
        let Dict { text, ends, index } = self;
        ends.reserve(n);
        index.reserve(n, |&j| text_hash(arena_name(text, ends, j)));
    }
    pub fn get(&self, s: &str) -> Option<u32> {
        self.index
            .find(text_hash(s), |&i| self.name(i) == s)
            .copied()
    }
    pub fn name(&self, i: u32) -> &str {
        arena_name(&self.text, &self.ends, i)
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Day number since 1970-01-01.
pub type Day = i32;

pub fn day_of(s: Secs) -> Day {
    s.div_euclid(SECS_PER_DAY) as Day
}

/// A sale that counts as demand.
///
/// 56 bytes: an M5-size history has 17 M of these and they live through the whole run.
/// Absent values are sentinels (NaN price, `u32::MAX` codes) behind `Option` accessors;
/// input numbers are finite (ingest refuses others), so NaN never stands for a real price.
#[derive(Debug, Clone)]
pub struct DemandLine {
    pub row: u32,
    pub at: Secs,
    pub sku: u32,
    pub loc: u32,
    pub qty: f64,
    price: f64,
    /// Interned order id / customer (see `Dataset::orders`, `Dataset::customers`), for linking returns.
    order: u32,
    customer: u32,
    /// Interned sales channel / country (covariates for the return model).
    channel: u32,
    country: u32,
}

/// "No value" in a code slot, for dataset and column codes alike (`table::Codes::NULL`).
pub const NO_CODE: u32 = u32::MAX;

fn code_of(v: Option<u32>) -> u32 {
    // A dictionary never reaches u32::MAX entries (rows are counted in u32).
    v.unwrap_or(NO_CODE)
}

fn opt_code(v: u32) -> Option<u32> {
    (v != NO_CODE).then_some(v)
}

impl DemandLine {
    pub fn new(row: u32, at: Secs, sku: u32, loc: u32, qty: f64, price: Option<f64>) -> Self {
        DemandLine {
            row,
            at,
            sku,
            loc,
            qty,
            price: price.unwrap_or(f64::NAN),
            order: NO_CODE,
            customer: NO_CODE,
            channel: NO_CODE,
            country: NO_CODE,
        }
    }
    /// Order id and customer codes (for linking returns).
    pub fn linked(mut self, order: Option<u32>, customer: Option<u32>) -> Self {
        self.order = code_of(order);
        self.customer = code_of(customer);
        self
    }
    /// Channel and country codes (return-model covariates).
    pub fn placed(mut self, channel: Option<u32>, country: Option<u32>) -> Self {
        self.channel = code_of(channel);
        self.country = code_of(country);
        self
    }
    pub fn price(&self) -> Option<f64> {
        (!self.price.is_nan()).then_some(self.price)
    }
    pub fn order(&self) -> Option<u32> {
        opt_code(self.order)
    }
    pub fn customer(&self) -> Option<u32> {
        opt_code(self.customer)
    }
    pub fn channel(&self) -> Option<u32> {
        opt_code(self.channel)
    }
    pub fn country(&self) -> Option<u32> {
        opt_code(self.country)
    }
}

/// A customer return (from the returns file or recognised among order lines).
#[derive(Debug, Clone, Serialize)]
pub struct ReturnLine {
    pub input: &'static str,
    pub row: u32,
    pub at: Secs,
    pub sku: u32,
    pub loc: u32,
    /// Units returned (positive).
    pub qty: f64,
    pub order_id: Option<String>,
    /// Date of the original sale, when the returns export carries it.
    pub order_at: Option<Secs>,
    pub customer: Option<u32>,
    pub restockable: Option<bool>,
}

/// A row that did not make it into the model, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Reject {
    pub input: &'static str,
    /// 1-based data row in the input file.
    pub row: u32,
    pub reason_code: &'static str,
    pub reason: String,
    pub sku: Option<String>,
    pub at: Option<Secs>,
    pub quantity: Option<f64>,
    pub order_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StockRow {
    pub day: Day,
    pub sku: u32,
    pub loc: u32,
    pub on_hand: f64,
    /// Units promised to customers but not shipped (backorders/reservations).
    pub reserved: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Product {
    pub supplier_id: Option<String>,
    pub unit_cost: Option<f64>,
    pub lead_time_days: Option<f64>,
    pub moq: Option<f64>,
    pub pack_size: Option<f64>,
    pub service_level: Option<f64>,
    pub category: Option<String>,
    pub shelf_life_days: Option<f64>,
    pub active: Option<bool>,
    /// Policy name from the master (`order_up_to`, `rq`, `min_max`, `newsvendor`).
    pub policy: Option<crate::config::PolicyKind>,
    /// Sales price (newsvendor underage cost, ABC value); else the median order price.
    pub price: Option<f64>,
    /// Shelf or storage capacity in units: stock after receipt never exceeds it.
    pub max_stock: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct Supplier {
    pub lead_time_days: Option<f64>,
    pub lead_time_sd_days: Option<f64>,
    pub order_weekdays: Vec<Weekday>,
    pub min_order_value: Option<f64>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OpenPo {
    pub sku: u32,
    pub loc: u32,
    pub qty: f64,
    pub expected_day: Day,
}

/// A promotion of a SKU over days `from..=to` (inclusive), at one location or, without one,
/// at all of the SKU's locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promotion {
    pub sku: u32,
    pub loc: Option<u32>,
    pub from: Day,
    pub to: Day,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideAction {
    /// Order exactly `value` units (the planner's word: no rounding, no budget cut).
    FixedQty,
    /// Order nothing.
    Block,
    /// Use `value` as the service target.
    ServiceLevel,
}

impl OverrideAction {
    pub fn as_str(self) -> &'static str {
        match self {
            OverrideAction::FixedQty => "fixed_qty",
            OverrideAction::Block => "block",
            OverrideAction::ServiceLevel => "service_level",
        }
    }
}

/// One row of the planner's overrides file.
#[derive(Debug, Clone)]
pub struct PlannerOverride {
    /// 1-based data row in the file.
    pub row: u32,
    pub sku: String,
    /// None: every location of the SKU.
    pub location: Option<String>,
    pub action: OverrideAction,
    pub value: Option<f64>,
    pub reason: String,
    pub who: String,
    pub valid_until: Option<Day>,
}

/// Facts about one input file for the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    pub input: &'static str,
    pub path: PathBuf,
    pub sha256: String,
    pub rows: usize,
}

impl InputFile {
    fn of(t: &Table) -> InputFile {
        InputFile {
            input: t.input,
            path: t.path.clone(),
            sha256: t.sha256.clone(),
            rows: t.rows,
        }
    }
}

/// Everything read, validated and classified.
#[derive(Debug, Default)]
pub struct Dataset {
    pub skus: Dict,
    pub locs: Dict,
    pub orders: Dict,
    pub customers: Dict,
    pub channels: Dict,
    pub countries: Dict,
    pub demand: Vec<DemandLine>,
    pub returns: Vec<ReturnLine>,
    pub stock: Vec<StockRow>,
    pub products: BTreeMap<u32, Product>,
    pub suppliers: BTreeMap<String, Supplier>,
    pub open_pos: Vec<OpenPo>,
    pub planner_overrides: Vec<PlannerOverride>,
    pub promotions: Vec<Promotion>,
    pub rejects: Vec<Reject>,
    pub files: Vec<InputFile>,
    /// Order-line classification counts (demand, return, cancellation, duplicate, ...).
    pub order_classes: BTreeMap<&'static str, usize>,
    /// Median positive sales price per SKU (for cost defaults and line values).
    pub median_price: BTreeMap<u32, f64>,
    /// Data rows in the orders file.
    pub orders_rows: usize,
    pub absurd_lines: usize,
    /// Demand lines whose price is more than the factor above or below the SKU's median.
    pub absurd_price_lines: usize,
}

/// Column name in the export for a canonical column.
fn col<'a>(map: &'a ColumnMap, canonical: &'a str) -> &'a str {
    map.get(canonical).map(String::as_str).unwrap_or(canonical)
}

/// Row-level failure: stop or reject, as the pipeline says.
fn row_problem(
    policy: RowPolicy,
    rejects: &mut Vec<Reject>,
    err: InputError,
    reject: Reject,
) -> Result<()> {
    match policy {
        RowPolicy::Fail => Err(err.into()),
        RowPolicy::Reject => {
            rejects.push(reject);
            Ok(())
        }
    }
}

fn open(
    input: &'static str,
    path: &Path,
    files: &mut Vec<InputFile>,
    limits: table::Limits,
) -> Result<Table> {
    let t = Table::read_limited(input, path, limits)?;
    files.push(InputFile::of(&t));
    Ok(t)
}

/// Reads every configured input. Fatal problems return an error; row problems follow
/// `invalid_rows`; everything else is classified and counted.
pub fn load(p: &Pipeline) -> Result<Dataset> {
    let mut ds = Dataset::default();
    let limits = table::Limits {
        max_file_bytes: p.limits.max_file_mib.saturating_mul(1 << 20),
        max_rows: p.limits.max_rows,
    };
    let span = tracing::info_span!("ingest");
    let _g = span.enter();
    let default_loc = ds.locs.intern(&p.defaults.location);
    let _ = default_loc;

    let orders_path =
        p.inputs
            .orders
            .path
            .as_ref()
            .ok_or_else(|| crate::error::ConfigError::Invalid {
                key: "inputs.orders.path".into(),
                detail: "an orders file is required".into(),
            })?;
    let t = orders::classify(p, orders_path, limits, &mut ds)?;
    ds.files.insert(0, InputFile::of(&t));

    if let Some(path) = &p.inputs.products.path {
        let t = open("products", path, &mut ds.files, limits)?;
        master::products(p, &t, &mut ds)?;
    }
    if let Some(path) = &p.inputs.suppliers.path {
        let t = open("suppliers", path, &mut ds.files, limits)?;
        master::suppliers(p, &t, &mut ds)?;
    }
    if let Some(path) = &p.inputs.stock.path {
        let t = open("stock", path, &mut ds.files, limits)?;
        master::stock(p, &t, &mut ds)?;
    }
    if let Some(path) = &p.inputs.open_pos.path {
        let t = open("open_pos", path, &mut ds.files, limits)?;
        master::open_pos(p, &t, &mut ds)?;
    }
    if let Some(path) = &p.inputs.returns.path {
        let t = open("returns", path, &mut ds.files, limits)?;
        master::returns(p, &t, &mut ds)?;
    }
    if let Some(path) = &p.inputs.overrides.path {
        let t = open("overrides", path, &mut ds.files, limits)?;
        master::overrides(p, &t, &mut ds)?;
    }
    if let Some(path) = &p.inputs.promotions.path {
        let t = open("promotions", path, &mut ds.files, limits)?;
        master::promotions(p, &t, &mut ds)?;
    }
    ds.rejects
        .sort_by(|a, b| (a.input, a.row).cmp(&(b.input, b.row)));
    for f in &mut ds.files {
        f.path = p.source_of(&f.path);
    }
    tracing::info!(
        demand_lines = ds.demand.len(),
        return_lines = ds.returns.len(),
        rejects = ds.rejects.len(),
        skus = ds.skus.len(),
        "ingest done"
    );
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_keeps_first_seen_ids_and_one_copy_of_each_name() {
        let mut d = Dict::default();
        assert_eq!(d.intern("b"), 0);
        assert_eq!(d.intern(""), 1);
        assert_eq!(d.intern("a"), 2);
        assert_eq!(d.intern("b"), 0);
        d.reserve(10_000);
        for i in 0..10_000 {
            d.intern(&format!("k{i}"));
        }
        assert_eq!(d.len(), 10_003);
        assert_eq!(d.name(1), "");
        assert_eq!(d.name(2), "a");
        assert_eq!(d.get("k9999"), Some(10_002));
        assert_eq!(d.name(10_002), "k9999");
        assert_eq!(d.get("k10000"), None);
        assert_eq!(
            d.text.len(),
            "ba".len() + (0..10_000).map(|i| format!("k{i}").len()).sum::<usize>()
        );
    }

    #[test]
    fn demand_line_sentinels_read_back_as_none() {
        let d = DemandLine::new(1, 0, 2, 3, 4.0, None);
        assert_eq!(
            (d.price(), d.order(), d.customer(), d.channel(), d.country()),
            (None, None, None, None, None)
        );
        let d = DemandLine::new(1, 0, 2, 3, 4.0, Some(0.0))
            .linked(Some(0), Some(7))
            .placed(Some(1), None);
        assert_eq!(
            (d.price(), d.order(), d.customer(), d.channel(), d.country()),
            (Some(0.0), Some(0), Some(7), Some(1), None)
        );
        assert_eq!(std::mem::size_of::<DemandLine>(), 56);
    }
}
