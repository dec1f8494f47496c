//! Pipeline configuration: TOML file + command-line overrides → one validated [`Pipeline`].
//!
//! Only validated values reach the stages. Unknown keys are errors (a typo in a nightly
//! config must not silently fall back to a default), and nothing in the file is executed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Canonical column name → column name in the user's export.
pub type ColumnMap = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub columns: ColumnMap,
}

/// What to make of order lines with a negative quantity that are not identified as returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NegativeLines {
    /// Customer returns (typical for shops that book returns as negative order lines).
    Return,
    /// Stock corrections (damaged, lost): neither demand nor returns; written to rejects.
    #[default]
    Adjustment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RowPolicy {
    /// Stop the run with an error naming file, column and row.
    #[default]
    Fail,
    /// Write the row to rejects with the reason and go on.
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ZeroPrice {
    /// Zero-price lines are not sales (samples, corrections); written to rejects.
    #[default]
    Reject,
    /// Zero-price lines count as demand (e.g. free replacements that leave stock).
    Demand,
}

/// Rules that tell demand from everything else in an order export.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrderRules {
    /// Order ids starting with this are returns/cancellations (e.g. "C" in UK exports).
    pub return_order_id_prefix: Option<String>,
    /// Order ids starting with any of these are not demand (e.g. "A" bad-debt adjustments).
    pub exclude_order_id_prefixes: Vec<String>,
    pub negative_lines: NegativeLines,
    pub zero_price_lines: ZeroPrice,
    /// Status values (case-insensitive) meaning the line was cancelled.
    pub cancel_status_values: Vec<String>,
    /// Status values (case-insensitive) meaning the line is a customer return.
    pub return_status_values: Vec<String>,
    /// A return of the full quantity by the same customer within this many hours of the
    /// sale is a cancellation: both lines leave the demand history.
    pub cancel_match_hours: f64,
    /// SKUs that are fees, postage, discounts: not stock items.
    pub non_product_skus: Vec<String>,
    pub non_product_sku_prefixes: Vec<String>,
    /// Exact duplicate lines (all mapped columns equal): keep the first, reject the rest.
    pub drop_duplicates: bool,
    pub invalid_rows: RowPolicy,
    /// Lines above this quantity are rejected as implausible (after cancellation matching).
    pub max_line_quantity: Option<f64>,
}

impl Default for OrderRules {
    fn default() -> Self {
        OrderRules {
            return_order_id_prefix: None,
            exclude_order_id_prefixes: vec![],
            negative_lines: NegativeLines::Adjustment,
            zero_price_lines: ZeroPrice::Reject,
            cancel_status_values: vec!["cancelled".into(), "canceled".into(), "storniert".into()],
            return_status_values: vec!["returned".into(), "retoure".into()],
            cancel_match_hours: 24.0,
            non_product_skus: vec![],
            non_product_sku_prefixes: vec![],
            drop_duplicates: true,
            invalid_rows: RowPolicy::Fail,
            max_line_quantity: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersSpec {
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub columns: ColumnMap,
    #[serde(default)]
    pub rules: OrderRules,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    #[serde(default)]
    pub orders: OrdersSpec,
    #[serde(default)]
    pub returns: InputSpec,
    #[serde(default)]
    pub stock: InputSpec,
    #[serde(default)]
    pub products: InputSpec,
    #[serde(default)]
    pub suppliers: InputSpec,
    #[serde(default)]
    pub open_pos: InputSpec,
    /// Planner overrides (sku, location, action, value, reason, who, valid_until).
    #[serde(default)]
    pub overrides: InputSpec,
    /// Promotion calendar, past and planned (sku, optional location, start_date, end_date):
    /// a feature of the pooled forecasting model.
    #[serde(default)]
    pub promotions: InputSpec,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Calendar {
    /// Weekdays the business does not trade ("sat", "sun", ...).
    pub closed_weekdays: Vec<String>,
    /// Detect closed weekdays and closed dates (no line at all in the whole export).
    pub detect_closed_days: bool,
    /// Public holidays and other closed dates (ISO), past and future.
    pub holidays: Vec<String>,
    /// Open days out of the ordinary for the whole shop (ISO), past and planned: Black
    /// Friday, Cyber Monday, a holiday the online shop takes orders on. The forecast learns
    /// what they do to demand and forecasts it for the planned ones.
    pub events: EventSpec,
}

/// `calendar.events`: a list of dates (one kind of event), or kinds by name, each with its
/// dates (`black_friday = [...]`), when they differ in what they do to demand.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum EventSpec {
    Dates(Vec<String>),
    Kinds(BTreeMap<String, Vec<String>>),
}

impl Default for EventSpec {
    fn default() -> Self {
        EventSpec::Dates(vec![])
    }
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            closed_weekdays: vec![],
            detect_closed_days: true,
            holidays: vec![],
            events: EventSpec::default(),
        }
    }
}

/// Fallbacks for missing master data; every use is counted and reported.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    pub location: String,
    pub lead_time_days: f64,
    pub lead_time_sd_days: f64,
    pub moq: f64,
    pub pack_size: f64,
    pub service_level: f64,
    pub review_period_days: u32,
    pub currency: String,
    /// When the master has no unit cost: this share of the median sales price (None: leave empty).
    pub unit_cost_share_of_price: Option<f64>,
    pub supplier_id: String,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            location: "main".into(),
            lead_time_days: 14.0,
            lead_time_sd_days: 0.0,
            moq: 1.0,
            pack_size: 1.0,
            service_level: 0.95,
            review_period_days: 7,
            currency: "EUR".into(),
            unit_cost_share_of_price: None,
            supplier_id: "UNKNOWN".into(),
        }
    }
}

/// Metric that picks the model per series in cross-validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SelectionMetric {
    /// Root mean squared scaled error (M5): penalises large misses, scale-free.
    #[default]
    Rmsse,
    /// Mean absolute scaled error.
    Mase,
    /// Mean pinball loss over p05…p95 (the quantiles the policies use), scaled like MASE.
    Pinball,
}

impl SelectionMetric {
    pub fn as_str(&self) -> &'static str {
        match self {
            SelectionMetric::Rmsse => "rmsse",
            SelectionMetric::Mase => "mase",
            SelectionMetric::Pinball => "pinball",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForecastCfg {
    /// Models allowed as candidates; each demand class tries the ones that suit it.
    pub models: Vec<String>,
    pub moving_average_window_days: usize,
    /// Rolling-origin windows used for model choice and empirical error quantiles.
    pub cv_windows: usize,
    pub cv_step_days: usize,
    pub metric: SelectionMetric,
    /// Mean of the best k candidates is one more candidate (0 or 1: off).
    pub ensemble_k: usize,
    /// Optimised models (ETS, Theta) and the intermittent models (Croston family, TSB,
    /// ADIDA, IMAPA) see at most this many of the latest days: older history adds cost,
    /// not accuracy, for daily retail demand.
    pub fit_window_days: usize,
    /// Demand class from the last this many trading days.
    pub class_window_days: usize,
    /// Open days whose zero share floors each forecast day's P(demand = 0) (0 = off).
    pub zero_floor_days: usize,
    /// A series with fewer days since its first sale is "new".
    pub new_days: usize,
    /// A series without a sale for this many days is "dead" and forecast at zero.
    pub dead_days: usize,
    /// L2 penalty of the pooled `global_ridge` model (features are relative to the level).
    pub global_penalty: f64,
    /// Shrink each series' CV scores toward what wins in its demand class, by how far the
    /// scores can be trusted (README "Model selection"); false: plain lowest score.
    pub selection_prior: bool,
    /// Prior probability that an intermittent item's demand has stopped, weighed against
    /// the run of zero days that ends its history (Croston family only; 0 = off).
    pub stall_prior: f64,
    /// Half-life, in CV origins, of the weight an origin's errors get in the CV score
    /// (0 = all origins alike).
    pub cv_half_life: f64,
    /// Cross-validate each per-series model also times last year's move from the recent
    /// weeks to the horizon, and keep the variant that scores better (README "Selection").
    pub yearly_move: bool,
    /// Read protection-window quantiles at levels recalibrated per demand class from the
    /// selection prior's sample, each CV block checked with a choice and a dispersion made
    /// without it (README "Window recalibration"; needs `selection_prior`).
    pub window_recalibration: bool,
}

impl Default for ForecastCfg {
    fn default() -> Self {
        ForecastCfg {
            models: KNOWN_MODELS.iter().map(|s| s.to_string()).collect(),
            moving_average_window_days: 28,
            cv_windows: 26,
            cv_step_days: 7,
            metric: SelectionMetric::Rmsse,
            ensemble_k: 3,
            fit_window_days: 364,
            class_window_days: 364,
            zero_floor_days: 91,
            new_days: 56,
            dead_days: 182,
            global_penalty: 0.001,
            selection_prior: true,
            stall_prior: 0.003,
            cv_half_life: 0.0,
            yearly_move: true,
            window_recalibration: true,
        }
    }
}

/// How expected restockable returns enter the inventory position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReturnsUse {
    /// Ignore returns (they still appear in returns_forecast.parquet).
    Off,
    /// Add the expected value.
    Mean,
    /// Add a conservative lower quantile (`position_quantile`), the default.
    #[default]
    Quantile,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReturnsCfg {
    /// Days after a sale in which returns are modelled (lags beyond are counted in the rate
    /// but never expected to arrive within a forecast window).
    pub window_days: usize,
    /// Sales of this many days before as-of (minus the window) estimate the return rate.
    pub history_days: usize,
    pub use_in_position: ReturnsUse,
    pub position_quantile: f64,
    /// Restockable share when the data carry no `restockable` flag.
    pub restockable_share: f64,
    /// Pseudo-count pulling a SKU's lag distribution toward the pooled one.
    pub lag_prior_weight: f64,
    /// Mean lag (days) assumed when no return can be linked to its sale.
    pub default_lag_days: f64,
    /// A return line above this multiple of its SKU's median sale line is an outlier
    /// (bulk cancellation, B2B take-back): reported, left out of rate and lag estimation.
    pub outlier_factor: f64,
}

impl Default for ReturnsCfg {
    fn default() -> Self {
        ReturnsCfg {
            window_days: 60,
            history_days: 365,
            use_in_position: ReturnsUse::Quantile,
            position_quantile: 0.25,
            restockable_share: 1.0,
            lag_prior_weight: 20.0,
            default_lag_days: 14.0,
            outlier_factor: 20.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PackRounding {
    #[default]
    Up,
    Nearest,
}

/// Replenishment policy (README "Policies").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// Periodic review (R, S): order up to S every review; R from the supplier's order days.
    #[default]
    OrderUpTo,
    /// Continuous review (r, Q): when the position is at or below r, order Q (EOQ).
    Rq,
    /// ERP-style min/max: at or below min, order up to max = min + one review period.
    MinMax,
    /// Single-period newsvendor at the critical ratio of underage and overage cost.
    Newsvendor,
}

impl PolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::OrderUpTo => "order_up_to",
            PolicyKind::Rq => "rq",
            PolicyKind::MinMax => "min_max",
            PolicyKind::Newsvendor => "newsvendor",
        }
    }

    pub fn parse(s: &str) -> Option<PolicyKind> {
        Some(
            match s
                .trim()
                .to_ascii_lowercase()
                .replace(['-', ' ', ','], "_")
                .as_str()
            {
                "order_up_to" | "rs" | "r_s" | "(r_s)" => PolicyKind::OrderUpTo,
                "rq" | "r_q" | "sq" | "s_q" | "(r_q)" => PolicyKind::Rq,
                "min_max" | "minmax" | "s_s" | "ss" => PolicyKind::MinMax,
                "newsvendor" => PolicyKind::Newsvendor,
                _ => return None,
            },
        )
    }
}

/// What the service target measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMeasure {
    /// α: probability of no stockout in a replenishment cycle.
    #[default]
    Cycle,
    /// β: share of demand served from stock (via the expected shortage of the forecast).
    FillRate,
}

/// What to do when a supplier's lines stay below its minimum order value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MovRule {
    /// Add packs to the supplier's most urgent lines until the minimum is reached.
    #[default]
    TopUp,
    /// Hold the supplier's lines for review instead.
    Hold,
}

/// Keys accepted in `policy_by_class` / `service_by_class`: ABC×XYZ, ABC, XYZ, demand class.
pub const CLASS_KEYS: &[&str] = &[
    "AX",
    "AY",
    "AZ",
    "BX",
    "BY",
    "BZ",
    "CX",
    "CY",
    "CZ",
    "A",
    "B",
    "C",
    "X",
    "Y",
    "Z",
    "smooth",
    "erratic",
    "intermittent",
    "lumpy",
    "new",
    "dead",
];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplenishCfg {
    pub pack_rounding: PackRounding,
    /// A stock snapshot older than this (days before as-of) is reported as stale.
    pub stale_snapshot_days: u32,
    /// Default policy; a product master `policy` column or `policy_by_class` overrides it.
    pub policy: PolicyKind,
    pub policy_by_class: BTreeMap<String, PolicyKind>,
    pub service_measure: ServiceMeasure,
    /// Service targets by class (after planner overrides and the product master).
    pub service_by_class: BTreeMap<String, f64>,
    /// Cumulative value shares closing class A and B (ABC on the last 365 days' value).
    pub abc_a: f64,
    pub abc_b: f64,
    /// Coefficient of variation of weekly demand closing class X and Y.
    pub xyz_x: f64,
    pub xyz_y: f64,
    /// Holding cost per year as a share of unit cost (EOQ, newsvendor).
    pub holding_cost_rate: f64,
    /// Fixed cost per order line (EOQ).
    pub order_cost: f64,
    /// Newsvendor: value recovered per unit left over, as a share of unit cost.
    pub salvage_share: f64,
    pub mov_rule: MovRule,
    /// Spending cap for the whole run (in the lines' currency).
    pub budget: Option<f64>,
    /// Spending caps per supplier id.
    pub supplier_budgets: BTreeMap<String, f64>,
    /// Widen the demand distribution by the supplier's lead-time standard deviation.
    pub lead_time_variability: bool,
}

impl Default for ReplenishCfg {
    fn default() -> Self {
        ReplenishCfg {
            pack_rounding: PackRounding::Up,
            stale_snapshot_days: 3,
            policy: PolicyKind::OrderUpTo,
            policy_by_class: BTreeMap::new(),
            service_measure: ServiceMeasure::Cycle,
            service_by_class: BTreeMap::new(),
            abc_a: 0.8,
            abc_b: 0.95,
            xyz_x: 0.5,
            xyz_y: 1.0,
            holding_cost_rate: 0.25,
            order_cost: 25.0,
            salvage_share: 0.0,
            mov_rule: MovRule::TopUp,
            budget: None,
            supplier_budgets: BTreeMap::new(),
            lead_time_variability: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum CsvProfile {
    /// `;` separator, decimal comma, dd.mm.yyyy, UTF-8 BOM (German ERP imports, Excel-DE).
    #[default]
    De,
    /// `,` separator, decimal point, ISO dates, no BOM.
    Machine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    De,
    En,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportCfg {
    /// Notation of proposals.csv and review.csv.
    pub profile: CsvProfile,
    pub language: Language,
    /// Further proposal files, by profile name (built-in or from `profiles`).
    pub proposals: Vec<String>,
    /// Profiles defined in this pipeline (README "Export profiles").
    pub profiles: BTreeMap<String, crate::export::profiles::ProfileDef>,
}

impl Default for ExportCfg {
    fn default() -> Self {
        ExportCfg {
            profile: CsvProfile::De,
            language: Language::De,
            proposals: Vec::new(),
            profiles: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckCfg {
    /// Series with fewer days between first sale and as-of are "short history".
    pub min_history_days: u32,
    /// A line above this multiple of its SKU's median line quantity (or a price this factor
    /// above/below its median price) is flagged as absurd.
    pub absurd_quantity_factor: f64,
}

impl Default for CheckCfg {
    fn default() -> Self {
        CheckCfg {
            min_history_days: 56,
            absurd_quantity_factor: 100.0,
        }
    }
}

/// Guards against shipping garbage: a run fails loudly, or a line is held for review.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardsCfg {
    /// Fail the run (exit 8) when more than this share of order lines is rejected.
    pub max_reject_share: f64,
    /// Fail the run (exit 8) when more than this share of series needed a fallback forecast.
    pub max_fallback_share: f64,
    /// Hold a line for review when its quantity exceeds this multiple of the larger of the
    /// series' biggest day and its last 90 days of demand.
    pub max_order_factor: f64,
}

impl Default for GuardsCfg {
    fn default() -> Self {
        GuardsCfg {
            max_reject_share: 0.5,
            max_fallback_share: 0.5,
            max_order_factor: 10.0,
        }
    }
}

/// Input size limits: larger inputs fail with a clear error before they are decoded.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsCfg {
    pub max_file_mib: u64,
    pub max_rows: u64,
}

impl Default for LimitsCfg {
    fn default() -> Self {
        // About 10× the M5 panel as order lines; ~800 bytes per line at peak today.
        LimitsCfg {
            max_file_mib: 4096,
            max_rows: 20_000_000,
        }
    }
}

/// Monitoring: what a CPU-hour costs, for the cost column of `runs.parquet`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorCfg {
    pub price_per_cpu_hour: f64,
}

impl Default for MonitorCfg {
    fn default() -> Self {
        MonitorCfg {
            price_per_cpu_hour: 0.05,
        }
    }
}

/// The file as written by the user.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub name: Option<String>,
    pub as_of: Option<String>,
    pub horizon_days: Option<u32>,
    pub out: Option<PathBuf>,
    #[serde(default)]
    pub inputs: Inputs,
    #[serde(default)]
    pub calendar: Calendar,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub forecast: ForecastCfg,
    #[serde(default)]
    pub replenish: ReplenishCfg,
    #[serde(default)]
    pub returns: ReturnsCfg,
    #[serde(default)]
    pub guards: GuardsCfg,
    #[serde(default)]
    pub monitor: MonitorCfg,
    #[serde(default)]
    pub limits: LimitsCfg,
    #[serde(default)]
    pub export: ExportCfg,
    #[serde(default)]
    pub check: CheckCfg,
}

/// Values from flags; each one, when set, wins over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub orders: Option<PathBuf>,
    pub returns: Option<PathBuf>,
    pub stock: Option<PathBuf>,
    pub products: Option<PathBuf>,
    pub suppliers: Option<PathBuf>,
    pub open_pos: Option<PathBuf>,
    pub promotions: Option<PathBuf>,
    pub as_of: Option<String>,
    pub horizon_days: Option<u32>,
    pub out: Option<PathBuf>,
    pub profile: Option<CsvProfile>,
}

/// A validated pipeline: only this type reaches the stages.
#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    pub name: String,
    /// None: the last order date in the data.
    pub as_of: Option<NaiveDate>,
    pub horizon_days: u32,
    pub out: PathBuf,
    pub inputs: Inputs,
    pub calendar: Calendar,
    #[serde(skip)]
    pub closed_weekdays: Vec<Weekday>,
    #[serde(skip)]
    pub holidays: Vec<NaiveDate>,
    /// Event kinds by name (a plain list is the one kind "event"), each with its dates.
    #[serde(skip)]
    pub events: Vec<(String, Vec<NaiveDate>)>,
    pub defaults: Defaults,
    pub forecast: ForecastCfg,
    pub replenish: ReplenishCfg,
    pub returns: ReturnsCfg,
    pub guards: GuardsCfg,
    pub monitor: MonitorCfg,
    pub limits: LimitsCfg,
    pub export: ExportCfg,
    pub check: CheckCfg,
    /// (local copy, URL) of inputs fetched from object storage (`remote::stage`).
    #[serde(skip)]
    pub remote_inputs: Vec<(PathBuf, String)>,
}

impl Pipeline {
    /// Where an input came from, as the user named it: the URL of a staged remote input.
    pub fn source_of(&self, local: &Path) -> PathBuf {
        source_in(&self.remote_inputs, local)
    }
}

/// The URL a staged local copy was fetched from (`sources`: local copy, URL); the path
/// itself for a local input.
pub fn source_in(sources: &[(PathBuf, String)], local: &Path) -> PathBuf {
    sources
        .iter()
        .find(|(l, _)| l == local)
        .map_or_else(|| local.to_path_buf(), |(_, u)| PathBuf::from(u))
}

impl Inputs {
    /// Every input's path slot, named as in the manifest.
    pub fn paths_mut(&mut self) -> Vec<(&'static str, &mut Option<PathBuf>)> {
        vec![
            ("orders", &mut self.orders.path),
            ("returns", &mut self.returns.path),
            ("stock", &mut self.stock.path),
            ("products", &mut self.products.path),
            ("suppliers", &mut self.suppliers.path),
            ("open_pos", &mut self.open_pos.path),
            ("overrides", &mut self.overrides.path),
            ("promotions", &mut self.promotions.path),
        ]
    }
}

fn invalid(key: &str, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        detail: detail.into(),
    }
}

pub fn parse_date_setting(key: &str, s: &str) -> Result<NaiveDate, ConfigError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| invalid(key, format!("'{s}' is not an ISO date (YYYY-MM-DD): {e}")))
}

fn parse_weekday(key: &str, s: &str) -> Result<Weekday, ConfigError> {
    let l = s.trim().to_ascii_lowercase();
    let w = match l.get(..2).unwrap_or("") {
        "mo" => Weekday::Mon,
        "tu" | "di" => Weekday::Tue,
        "we" | "mi" => Weekday::Wed,
        "th" | "do" => Weekday::Thu,
        "fr" => Weekday::Fri,
        "sa" => Weekday::Sat,
        "su" | "so" => Weekday::Sun,
        _ => return Err(invalid(key, format!("'{s}' is not a weekday"))),
    };
    Ok(w)
}

/// Weekday lists as suppliers write them: "mon,thu", "Mo;Do", "1,4" (ISO numbers).
pub fn parse_weekday_list(key: &str, s: &str) -> Result<Vec<Weekday>, ConfigError> {
    let mut out = Vec::new();
    for part in s
        .split([',', ';', ' ', '|'])
        .filter(|p| !p.trim().is_empty())
    {
        let p = part.trim();
        let w = match p.parse::<u32>() {
            Ok(n @ 1..=7) => Weekday::try_from((n - 1) as u8).map_err(|_| invalid(key, p))?,
            Ok(_) => return Err(invalid(key, format!("'{p}' is not a weekday number 1..7"))),
            Err(_) => parse_weekday(key, p)?,
        };
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out.sort_by_key(|w| w.num_days_from_monday());
    Ok(out)
}

pub fn check_service_level(key: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v > 0.0 && v < 1.0 {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("{v} must lie strictly between 0 and 1"),
        ))
    }
}

fn non_negative(key: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(invalid(key, format!("{v} must be a finite number >= 0")))
    }
}

fn positive(key: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(invalid(key, format!("{v} must be a finite number > 0")))
    }
}

pub const KNOWN_MODELS: &[&str] = &[
    "naive",
    "seasonal_naive",
    "moving_average",
    "ses",
    "ets",
    "theta",
    "optimized_theta",
    "croston",
    "croston_optimized",
    "sba",
    "tsb",
    "adida",
    "imapa",
    "global_ridge",
];

impl RawPipeline {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(path, &text)
    }

    pub fn from_toml(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let mut raw: RawPipeline = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        // Relative input paths are relative to the working directory (where cron starts us),
        // which is how the README's commands use them; nothing to rewrite here.
        if raw.name.is_none() {
            raw.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        Ok(raw)
    }

    pub fn validate(mut self, o: Overrides) -> Result<Pipeline, ConfigError> {
        let set = |slot: &mut Option<PathBuf>, v: Option<PathBuf>| {
            if v.is_some() {
                *slot = v;
            }
        };
        set(&mut self.inputs.orders.path, o.orders);
        set(&mut self.inputs.returns.path, o.returns);
        set(&mut self.inputs.stock.path, o.stock);
        set(&mut self.inputs.products.path, o.products);
        set(&mut self.inputs.suppliers.path, o.suppliers);
        set(&mut self.inputs.open_pos.path, o.open_pos);
        set(&mut self.inputs.promotions.path, o.promotions);
        if o.as_of.is_some() {
            self.as_of = o.as_of;
        }
        if o.horizon_days.is_some() {
            self.horizon_days = o.horizon_days;
        }
        if o.out.is_some() {
            self.out = o.out;
        }
        if let Some(p) = o.profile {
            self.export.profile = p;
        }

        if self.inputs.orders.path.is_none() {
            return Err(invalid(
                "inputs.orders.path",
                "an orders file is required (pipeline or --orders)",
            ));
        }
        let as_of = match &self.as_of {
            Some(s) => Some(parse_date_setting("as_of", s)?),
            None => None,
        };
        let horizon_days = self.horizon_days.unwrap_or(28);
        if !(1..=730).contains(&horizon_days) {
            return Err(invalid(
                "horizon_days",
                format!("{horizon_days} must be 1..=730"),
            ));
        }
        let d = &self.defaults;
        non_negative("defaults.lead_time_days", d.lead_time_days)?;
        non_negative("defaults.lead_time_sd_days", d.lead_time_sd_days)?;
        positive("defaults.moq", d.moq)?;
        positive("defaults.pack_size", d.pack_size)?;
        check_service_level("defaults.service_level", d.service_level)?;
        if d.review_period_days == 0 || d.review_period_days > 365 {
            return Err(invalid("defaults.review_period_days", "must be 1..=365"));
        }
        if let Some(s) = d.unit_cost_share_of_price {
            if !(s.is_finite() && s > 0.0 && s <= 1.0) {
                return Err(invalid(
                    "defaults.unit_cost_share_of_price",
                    format!("{s} must be in (0, 1]"),
                ));
            }
        }
        if d.location.trim().is_empty() {
            return Err(invalid("defaults.location", "must not be empty"));
        }
        let r = &self.inputs.orders.rules;
        non_negative(
            "inputs.orders.rules.cancel_match_hours",
            r.cancel_match_hours,
        )?;
        if let Some(m) = r.max_line_quantity {
            positive("inputs.orders.rules.max_line_quantity", m)?;
        }
        let f = &self.forecast;
        if f.models.is_empty() {
            return Err(invalid("forecast.models", "at least one model is required"));
        }
        for m in &f.models {
            if !KNOWN_MODELS.contains(&m.as_str()) {
                return Err(invalid(
                    "forecast.models",
                    format!("unknown model '{m}'; known: {}", KNOWN_MODELS.join(", ")),
                ));
            }
        }
        if f.moving_average_window_days == 0 || f.moving_average_window_days > 365 {
            return Err(invalid(
                "forecast.moving_average_window_days",
                "must be 1..=365",
            ));
        }
        if f.cv_windows == 0 || f.cv_windows > 200 {
            return Err(invalid("forecast.cv_windows", "must be 1..=200"));
        }
        if f.cv_step_days == 0 || f.cv_step_days > 365 {
            return Err(invalid("forecast.cv_step_days", "must be 1..=365"));
        }
        if !(f.global_penalty.is_finite() && (0.0..=100.0).contains(&f.global_penalty)) {
            return Err(invalid("forecast.global_penalty", "must be 0..=100"));
        }
        if !(f.stall_prior.is_finite() && (0.0..0.5).contains(&f.stall_prior)) {
            return Err(invalid(
                "forecast.stall_prior",
                "must be 0 (off) up to below 0.5",
            ));
        }
        if !(f.cv_half_life.is_finite() && (0.0..=1000.0).contains(&f.cv_half_life)) {
            return Err(invalid(
                "forecast.cv_half_life",
                "must be 0 (all origins alike) up to 1000",
            ));
        }
        if f.ensemble_k > 5 {
            return Err(invalid("forecast.ensemble_k", "must be 0..=5"));
        }
        if f.fit_window_days < 28 || f.fit_window_days > 3650 {
            return Err(invalid("forecast.fit_window_days", "must be 28..=3650"));
        }
        if f.class_window_days < 28 || f.class_window_days > 3650 {
            return Err(invalid("forecast.class_window_days", "must be 28..=3650"));
        }
        if f.zero_floor_days > 3650 {
            return Err(invalid("forecast.zero_floor_days", "must be 0..=3650"));
        }
        if f.new_days > 365 || f.dead_days == 0 || f.dead_days > 3650 {
            return Err(invalid(
                "forecast.new_days",
                "new_days must be <= 365 and dead_days 1..=3650",
            ));
        }
        let columns = crate::export::proposal_columns();
        for (name, def) in &self.export.profiles {
            def.validate(name, &columns)?;
        }
        let profiles = crate::export::profiles::all(&self.export.profiles);
        let mut files: Vec<String> = Vec::new();
        for name in &self.export.proposals {
            let Some(def) = profiles.get(name) else {
                return Err(invalid(
                    "export.proposals",
                    format!(
                        "unknown profile '{name}'; known: {}",
                        profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            };
            let f = def.file_name(name);
            if crate::export::CORE_OUTPUTS.contains(&f.as_str()) || files.contains(&f) {
                return Err(invalid(
                    "export.proposals",
                    format!(
                        "profile '{name}' would write '{f}', which another output already uses"
                    ),
                ));
            }
            files.push(f);
        }
        let rp = &self.replenish;
        for k in rp.policy_by_class.keys().chain(rp.service_by_class.keys()) {
            if !CLASS_KEYS.contains(&k.as_str()) {
                return Err(invalid(
                    "replenish.policy_by_class",
                    format!("unknown class '{k}'; known: {}", CLASS_KEYS.join(", ")),
                ));
            }
        }
        for (k, v) in &rp.service_by_class {
            check_service_level(&format!("replenish.service_by_class.{k}"), *v)?;
        }
        if !(rp.abc_a > 0.0 && rp.abc_a < rp.abc_b && rp.abc_b <= 1.0) {
            return Err(invalid("replenish.abc_a", "need 0 < abc_a < abc_b <= 1"));
        }
        if !(rp.xyz_x > 0.0 && rp.xyz_x < rp.xyz_y && rp.xyz_y.is_finite()) {
            return Err(invalid("replenish.xyz_x", "need 0 < xyz_x < xyz_y"));
        }
        positive("replenish.holding_cost_rate", rp.holding_cost_rate)?;
        positive("replenish.order_cost", rp.order_cost)?;
        if !(rp.salvage_share.is_finite() && (0.0..1.0).contains(&rp.salvage_share)) {
            return Err(invalid("replenish.salvage_share", "must be in [0, 1)"));
        }
        if let Some(b) = rp.budget {
            non_negative("replenish.budget", b)?;
        }
        for (k, v) in &rp.supplier_budgets {
            non_negative(&format!("replenish.supplier_budgets.{k}"), *v)?;
        }
        positive(
            "check.absurd_quantity_factor",
            self.check.absurd_quantity_factor,
        )?;
        let rc = &self.returns;
        if rc.window_days == 0 || rc.window_days > 365 {
            return Err(invalid("returns.window_days", "must be 1..=365"));
        }
        if rc.history_days <= rc.window_days || rc.history_days > 3650 {
            return Err(invalid(
                "returns.history_days",
                "must exceed returns.window_days and be <= 3650",
            ));
        }
        check_service_level("returns.position_quantile", rc.position_quantile)?;
        if !(rc.restockable_share.is_finite() && (0.0..=1.0).contains(&rc.restockable_share)) {
            return Err(invalid("returns.restockable_share", "must be in [0, 1]"));
        }
        non_negative("returns.lag_prior_weight", rc.lag_prior_weight)?;
        positive("returns.default_lag_days", rc.default_lag_days)?;
        positive("returns.outlier_factor", rc.outlier_factor)?;
        for (k, v) in [
            ("guards.max_reject_share", self.guards.max_reject_share),
            ("guards.max_fallback_share", self.guards.max_fallback_share),
        ] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(invalid(k, format!("{v} must be in [0, 1]")));
            }
        }
        positive("guards.max_order_factor", self.guards.max_order_factor)?;
        non_negative(
            "monitor.price_per_cpu_hour",
            self.monitor.price_per_cpu_hour,
        )?;
        let mut closed_weekdays = Vec::new();
        for w in &self.calendar.closed_weekdays {
            let wd = parse_weekday("calendar.closed_weekdays", w)?;
            if !closed_weekdays.contains(&wd) {
                closed_weekdays.push(wd);
            }
        }
        if closed_weekdays.len() >= 7 {
            return Err(invalid(
                "calendar.closed_weekdays",
                "every weekday is closed",
            ));
        }
        let mut holidays = Vec::new();
        for h in &self.calendar.holidays {
            holidays.push(parse_date_setting("calendar.holidays", h)?);
        }
        holidays.sort();
        holidays.dedup();
        let kinds: Vec<(String, Vec<String>)> = match &self.calendar.events {
            EventSpec::Dates(d) if d.is_empty() => vec![],
            EventSpec::Dates(d) => vec![("event".to_string(), d.clone())],
            EventSpec::Kinds(k) => k.iter().map(|(n, d)| (n.clone(), d.clone())).collect(),
        };
        let mut events: Vec<(String, Vec<NaiveDate>)> = Vec::new();
        let mut seen: BTreeMap<NaiveDate, String> = BTreeMap::new();
        for (name, dates) in kinds {
            let key = format!("calendar.events.{name}");
            let mut days = Vec::new();
            for e in &dates {
                let d = parse_date_setting(&key, e)?;
                if holidays.binary_search(&d).is_ok() {
                    return Err(invalid(
                        &key,
                        format!(
                            "{d} is also in calendar.holidays: a closed day has no demand to lift"
                        ),
                    ));
                }
                if let Some(other) = seen.insert(d, name.clone()).filter(|o| *o != name) {
                    return Err(invalid(
                        &key,
                        format!("{d} is also an event of kind '{other}': a day is one kind"),
                    ));
                }
                days.push(d);
            }
            days.sort();
            days.dedup();
            if !days.is_empty() {
                events.push((name, days));
            }
        }

        Ok(Pipeline {
            name: self.name.unwrap_or_else(|| "adhoc".into()),
            as_of,
            horizon_days,
            out: self.out.unwrap_or_else(|| PathBuf::from("runs")),
            inputs: self.inputs,
            calendar: self.calendar,
            closed_weekdays,
            holidays,
            events,
            defaults: self.defaults,
            forecast: self.forecast,
            replenish: self.replenish,
            returns: self.returns,
            guards: self.guards,
            monitor: self.monitor,
            limits: self.limits,
            export: self.export,
            check: self.check,
            remote_inputs: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Result<RawPipeline, ConfigError> {
        RawPipeline::from_toml(Path::new("t.toml"), text)
    }

    #[test]
    fn unknown_key_is_an_error() {
        let e = raw("horizon = 3").unwrap_err().to_string();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn service_level_outside_unit_interval_rejected() {
        let p = raw("[inputs.orders]\npath='o.parquet'\n[defaults]\nservice_level = 1.2")
            .unwrap()
            .validate(Overrides::default());
        let e = p.unwrap_err().to_string();
        assert!(e.contains("defaults.service_level"), "{e}");
    }

    #[test]
    fn negative_lead_time_rejected() {
        let p = raw("[inputs.orders]\npath='o.parquet'\n[defaults]\nlead_time_days = -2")
            .unwrap()
            .validate(Overrides::default());
        assert!(p.unwrap_err().to_string().contains("lead_time_days"));
    }

    #[test]
    fn flags_override_file() {
        let p = raw("as_of='2020-01-01'\nhorizon_days=5\n[inputs.orders]\npath='a.parquet'")
            .unwrap()
            .validate(Overrides {
                orders: Some("b.parquet".into()),
                horizon_days: Some(9),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            p.inputs.orders.path.as_deref(),
            Some(Path::new("b.parquet"))
        );
        assert_eq!(p.horizon_days, 9);
        assert_eq!(p.as_of, NaiveDate::from_ymd_opt(2020, 1, 1));
    }

    #[test]
    fn events_are_a_list_or_kinds_by_name_and_bad_ones_name_their_key() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let v = |calendar: &str| {
            raw(&format!(
                "[inputs.orders]\npath='o.parquet'\n[calendar]\n{calendar}"
            ))
            .unwrap()
            .validate(Overrides::default())
        };
        // A list is one kind, "event"; dates sorted, repeats dropped.
        let p = v("events = ['2024-11-29', '2023-11-24', '2024-11-29']").unwrap();
        assert_eq!(
            p.events,
            vec![("event".to_string(), vec![d("2023-11-24"), d("2024-11-29")])]
        );
        // Kinds by name, in name order.
        let p = v("[calendar.events]\nprime_day = ['2024-07-16']\nblack_friday = ['2024-11-29']")
            .unwrap();
        let names: Vec<&str> = p.events.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["black_friday", "prime_day"]);
        // No events: nothing.
        assert!(v("").unwrap().events.is_empty());
        // A bad date names the kind's key; a closed day cannot be an event; a day is one kind.
        let e = v("[calendar.events]\nblack_friday = ['2024-11-31']")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("calendar.events.black_friday") && e.contains("2024-11-31"),
            "{e}"
        );
        let e = v("holidays = ['2024-12-25']\nevents = ['2024-12-25']")
            .unwrap_err()
            .to_string();
        assert!(e.contains("calendar.holidays"), "{e}");
        let e = v("[calendar.events]\na = ['2024-11-29']\nb = ['2024-11-29']")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("calendar.events.b") && e.contains("kind 'a'"),
            "{e}"
        );
    }

    #[test]
    fn weekday_lists() {
        let w = parse_weekday_list("k", "Thu, mon;1").unwrap();
        assert_eq!(w, vec![Weekday::Mon, Weekday::Thu]);
        assert!(parse_weekday_list("k", "funday").is_err());
        assert!(parse_weekday_list("k", "9").is_err());
    }
}
