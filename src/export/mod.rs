//! Export: the only stage that writes files.
//!
//! A run is built in `<out>/.tmp-<run_id>-<pid>/`, every file fsynced, then the folder is
//! renamed to `<out>/<run_id>` and the `latest` symlink is swapped atomically. A run that
//! fails (or is killed) never leaves anything that looks like output.

pub mod lock;
pub mod profiles;
pub mod rundir;
pub mod table;

use std::path::Path;

use crate::config::CsvProfile;
use crate::error::OutputError;
use crate::forecast::{SeriesForecast, QUANTILE_NAMES};
use crate::ingest::{Dataset, Reject};
use crate::panel::{to_date, Panel};
use crate::replenish::{OverrideStatus, Proposal};
use crate::returns::{ReturnModel, SeriesReturns};
pub use rundir::RunDir;
use table::{ColData, CsvFormat, GermanCsv, MachineCsv, OutTable};

pub fn profile(p: CsvProfile) -> Box<dyn CsvFormat> {
    match p {
        CsvProfile::De => Box::new(GermanCsv),
        CsvProfile::Machine => Box::new(MachineCsv),
    }
}

fn s(v: impl Iterator<Item = String>) -> ColData {
    ColData::Str(v.map(Some).collect())
}
fn f(v: impl Iterator<Item = f64>) -> ColData {
    ColData::F64(v.map(Some).collect())
}

/// Proposal lines (ERP columns first, then the explanation). Column order is the contract
/// documented in the README.
pub fn proposals_table(lines: &[&Proposal]) -> OutTable {
    let st = |g: &dyn Fn(&Proposal) -> String| s(lines.iter().map(|l| g(l)));
    let os = |g: &dyn Fn(&Proposal) -> Option<String>| {
        ColData::Str(lines.iter().map(|l| g(l)).collect())
    };
    let num = |g: &dyn Fn(&Proposal) -> f64| f(lines.iter().map(|l| round4(g(l))));
    let onum = |g: &dyn Fn(&Proposal) -> Option<f64>| {
        ColData::F64(lines.iter().map(|l| g(l).map(round4)).collect())
    };
    let int =
        |g: &dyn Fn(&Proposal) -> i64| ColData::I64(lines.iter().map(|l| Some(g(l))).collect());
    let date = |g: &dyn Fn(&Proposal) -> Option<crate::ingest::Day>| {
        ColData::Date(lines.iter().map(|l| g(l)).collect())
    };
    let mut t = OutTable::default();
    t.push("sku", st(&|l| l.sku.clone()))
        .push("location", st(&|l| l.location.clone()))
        .push("supplier_id", st(&|l| l.supplier_id.clone()))
        .push("order_qty", num(&|l| l.order_qty))
        .push("order_date", date(&|l| Some(l.order_date)))
        .push(
            "expected_receipt_date",
            date(&|l| Some(l.expected_receipt_date)),
        )
        .push("unit_cost", onum(&|l| l.unit_cost))
        .push("line_value", onum(&|l| l.line_value))
        .push("currency", st(&|l| l.currency.clone()))
        .push("priority", int(&|l| l.priority as i64))
        .push(
            "stockout_date_if_not_ordered",
            date(&|l| l.stockout_date_if_not_ordered),
        )
        .push("held_qty", num(&|l| l.held_qty))
        .push("on_hand", num(&|l| l.on_hand))
        .push("stock_snapshot_date", date(&|l| l.stock_snapshot_date))
        .push("on_order", num(&|l| l.on_order))
        .push("on_order_later", num(&|l| l.on_order_later))
        .push("backorders", num(&|l| l.backorders))
        .push("expected_returns", num(&|l| l.expected_returns))
        .push("expected_returns_mean", num(&|l| l.expected_returns_mean))
        .push("inventory_position", num(&|l| l.inventory_position))
        .push("window_days", int(&|l| l.window_days as i64))
        .push("lead_time_days", num(&|l| l.lead_time_days))
        .push("lead_time_sd_days", num(&|l| l.lead_time_sd_days))
        .push("review_period_days", int(&|l| l.review_period_days as i64))
        .push("demand_mean", num(&|l| l.demand_mean))
        .push("demand_quantile", num(&|l| l.demand_quantile))
        .push("quantile_level", num(&|l| l.quantile_level))
        .push("policy", st(&|l| l.policy.to_string()))
        .push("policy_source", st(&|l| l.policy_source.clone()))
        .push("abc", st(&|l| l.abc.clone()))
        .push("xyz", st(&|l| l.xyz.clone()))
        .push("demand_class", st(&|l| l.demand_class.to_string()))
        .push("service_measure", st(&|l| l.service_measure.to_string()))
        .push("service_target", num(&|l| l.service_target))
        .push("service_source", st(&|l| l.service_source.clone()))
        .push("reorder_point", num(&|l| l.reorder_point))
        .push("safety_stock", num(&|l| l.safety_stock))
        .push("target_level", num(&|l| l.target_level))
        .push("lot_size", onum(&|l| l.lot_size))
        .push("lot_source", os(&|l| l.lot_source.map(str::to_string)))
        .push("raw_need", num(&|l| l.raw_need))
        .push("moq", num(&|l| l.moq))
        .push("pack_size", num(&|l| l.pack_size))
        .push("moq_adjustment", num(&|l| l.moq_adjustment))
        .push("pack_adjustment", num(&|l| l.pack_adjustment))
        .push("cap_adjustment", num(&|l| l.cap_adjustment))
        .push("cap_reason", os(&|l| l.cap_reason.map(str::to_string)))
        .push("mov_adjustment", num(&|l| l.mov_adjustment))
        .push("mov_status", os(&|l| l.mov_status.clone()))
        .push("budget_adjustment", num(&|l| l.budget_adjustment))
        .push(
            "override_action",
            os(&|l| l.override_action.map(str::to_string)),
        )
        .push("override_value", onum(&|l| l.override_value))
        .push("override_by", os(&|l| l.override_by.clone()))
        .push("override_reason", os(&|l| l.override_reason.clone()))
        .push("price", onum(&|l| l.price))
        .push("newsvendor_underage", onum(&|l| l.newsvendor_underage))
        .push("newsvendor_overage", onum(&|l| l.newsvendor_overage))
        .push("model", st(&|l| l.model.clone()))
        .push("quantile_method", st(&|l| l.quantile_method.clone()))
        .push("reason_code", st(&|l| l.reason_code.to_string()))
        .push("reason_text", st(&|l| l.reason_text.clone()))
        .push("defaulted", st(&|l| l.defaulted.clone()));
    t
}

/// Column names of the proposal tables (what export profiles may map from).
pub fn proposal_columns() -> Vec<String> {
    proposals_table(&[]).names
}

/// Files every run writes itself; an export profile may not take these names.
pub const CORE_OUTPUTS: &[&str] = &[
    "proposals.parquet",
    "proposals.csv",
    "decisions.parquet",
    "review.parquet",
    "review.csv",
    "forecasts.parquet",
    "forecast_models.parquet",
    "rejects.parquet",
    "overrides_report.parquet",
    "overrides_report.csv",
    "returns_forecast.parquet",
    "return_params.parquet",
    "manifest.json",
];

/// What became of every planner override row.
pub fn overrides_table(rows: &[OverrideStatus]) -> OutTable {
    let mut t = OutTable::default();
    t.push(
        "row",
        ColData::I64(rows.iter().map(|r| Some(r.row as i64)).collect()),
    )
    .push("sku", s(rows.iter().map(|r| r.sku.clone())))
    .push(
        "location",
        ColData::Str(rows.iter().map(|r| r.location.clone()).collect()),
    )
    .push("action", s(rows.iter().map(|r| r.action.to_string())))
    .push(
        "value",
        ColData::F64(rows.iter().map(|r| r.value).collect()),
    )
    .push("who", s(rows.iter().map(|r| r.who.clone())))
    .push("reason", s(rows.iter().map(|r| r.reason.clone())))
    .push(
        "valid_until",
        ColData::Date(rows.iter().map(|r| r.valid_until).collect()),
    )
    .push("status", s(rows.iter().map(|r| r.status.to_string())))
    .push(
        "series",
        ColData::I64(rows.iter().map(|r| Some(r.series as i64)).collect()),
    );
    t
}

/// Explanatory numbers are rounded to 4 decimals so that CSV and Parquet show the same
/// value and no 1e-15 noise reaches a planner.
fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

pub fn forecasts_table(ds: &Dataset, panel: &Panel, fc: &[SeriesForecast], h: usize) -> OutTable {
    let n = fc.len() * h;
    let (mut sku, mut loc, mut date, mut model, mut mean) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut qs: Vec<Vec<Option<f64>>> = (0..7).map(|_| Vec::with_capacity(n)).collect();
    for (sm, f) in panel.series.iter().zip(fc) {
        let sk = ds.skus.name(sm.sku);
        let lc = ds.locs.name(sm.loc);
        for j in 0..h.min(f.mean.len()) {
            sku.push(Some(sk.to_string()));
            loc.push(Some(lc.to_string()));
            date.push(Some(panel.as_of + 1 + j as i32));
            model.push(Some(f.model.to_string()));
            mean.push(Some(round4(f.mean[j])));
            for k in 0..7 {
                qs[k].push(Some(round4(f.quantiles[j][k])));
            }
        }
    }
    let mut t = OutTable::default();
    t.push("sku", ColData::Str(sku))
        .push("location", ColData::Str(loc))
        .push("date", ColData::Date(date))
        .push("model", ColData::Str(model))
        .push("mean", ColData::F64(mean));
    for (k, q) in qs.into_iter().enumerate() {
        t.push(QUANTILE_NAMES[k], ColData::F64(q));
    }
    t
}

/// One row per series: chosen model, CV score of each candidate, quantile method, fallback.
pub fn forecast_models_table(
    ds: &Dataset,
    panel: &Panel,
    fc: &[SeriesForecast],
    candidates: &[String],
    metric: &str,
) -> OutTable {
    let mut t = OutTable::default();
    t.push(
        "sku",
        s(panel.series.iter().map(|m| ds.skus.name(m.sku).to_string())),
    )
    .push(
        "location",
        s(panel.series.iter().map(|m| ds.locs.name(m.loc).to_string())),
    )
    .push(
        "first_sale",
        ColData::Date(panel.series.iter().map(|m| Some(m.start)).collect()),
    )
    .push(
        "history_days",
        ColData::I64(panel.series.iter().map(|m| Some(m.len as i64)).collect()),
    )
    .push(
        "censored_days",
        ColData::I64(
            panel
                .series
                .iter()
                .map(|m| Some(m.censored_days as i64))
                .collect(),
        ),
    )
    .push("total_units", f(panel.series.iter().map(|m| m.total_units)))
    .push(
        "class",
        s(fc.iter().map(|f| f.class.class.as_str().to_string())),
    )
    .push(
        "adi",
        ColData::F64(
            fc.iter()
                .map(|f| f.class.adi.is_finite().then(|| round4(f.class.adi)))
                .collect(),
        ),
    )
    .push("cv2", f(fc.iter().map(|f| round4(f.class.cv2))))
    .push("model", s(fc.iter().map(|f| f.model.to_string())))
    .push(
        "ensemble_members",
        ColData::Str(
            fc.iter()
                .map(|f| (!f.members.is_empty()).then(|| f.members.join("+")))
                .collect(),
        ),
    )
    .push(
        "selection_weight",
        ColData::F64(fc.iter().map(|f| f.selection_weight.map(round4)).collect()),
    )
    .push(
        "zero_run_days",
        ColData::I64(fc.iter().map(|f| f.stall.map(|(r, _)| r as i64)).collect()),
    )
    .push(
        "p_still_selling",
        ColData::F64(fc.iter().map(|f| f.stall.map(|(_, p)| round4(p))).collect()),
    )
    .push(
        "promo_lift",
        ColData::F64(fc.iter().map(|f| f.promo_lift.map(round4)).collect()),
    )
    .push(
        "event_lift",
        ColData::F64(fc.iter().map(|f| f.event_lift.map(round4)).collect()),
    )
    .push(
        "yearly_move",
        ColData::F64(fc.iter().map(|f| f.yearly_move.map(round4)).collect()),
    )
    .push(
        "quantile_method",
        s(fc.iter().map(|f| f.quantile_method.to_string())),
    )
    .push(
        "cv_origins",
        ColData::I64(fc.iter().map(|f| Some(f.cv_origins as i64)).collect()),
    )
    .push(
        "window_days",
        ColData::I64(fc.iter().map(|f| Some(f.window_days as i64)).collect()),
    )
    .push(
        "window_method",
        s(fc.iter().map(|f| f.window_method.to_string())),
    )
    .push(
        "window_dispersion",
        ColData::F64(
            fc.iter()
                .map(|f| (f.window_method == "cv_dispersion").then(|| round4(f.window_dispersion)))
                .collect(),
        ),
    );
    // One score column per candidate (the selection metric; empty where the candidate did
    // not suit the class or failed: the error is in `fallback` when it mattered).
    let mut names: Vec<&str> = candidates.iter().map(String::as_str).collect();
    names.push("ensemble");
    for c in names {
        let col = fc
            .iter()
            .map(|f| {
                f.scores
                    .iter()
                    .find(|sc| sc.model == c)
                    .and_then(|sc| sc.score)
                    .map(round4)
            })
            .collect();
        t.push(format!("{metric}_{c}"), ColData::F64(col));
    }
    let failed = fc.iter().map(|f| {
        let e: Vec<String> = f
            .scores
            .iter()
            .filter_map(|sc| sc.error.as_ref().map(|e| format!("{}: {e}", sc.model)))
            .collect();
        (!e.is_empty()).then(|| e.join("; "))
    });
    t.push("candidate_errors", ColData::Str(failed.collect()));
    t.push(
        "fallback_kind",
        ColData::Str(
            fc.iter()
                .map(|f| f.fallback_kind.map(str::to_string))
                .collect(),
        ),
    );
    t.push(
        "fallback",
        ColData::Str(fc.iter().map(|f| f.fallback.clone()).collect()),
    );
    t
}

/// Restockable returns expected per (sku, location, day) over the horizon.
pub fn returns_forecast_table(
    ds: &Dataset,
    panel: &Panel,
    rets: &[SeriesReturns],
    h: usize,
) -> OutTable {
    let (mut sku, mut loc, mut date, mut mean, mut p10, mut p50, mut p90) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (sm, r) in panel.series.iter().zip(rets) {
        for j in 0..h.min(r.daily_mean.len()) {
            sku.push(Some(ds.skus.name(sm.sku).to_string()));
            loc.push(Some(ds.locs.name(sm.loc).to_string()));
            date.push(Some(panel.as_of + 1 + j as i32));
            mean.push(Some(round4(r.daily_mean[j])));
            p10.push(Some(round4(r.daily_quantile(j, 0.1))));
            p50.push(Some(round4(r.daily_quantile(j, 0.5))));
            p90.push(Some(round4(r.daily_quantile(j, 0.9))));
        }
    }
    let mut t = OutTable::default();
    t.push("sku", ColData::Str(sku))
        .push("location", ColData::Str(loc))
        .push("date", ColData::Date(date))
        .push("mean", ColData::F64(mean))
        .push("p10", ColData::F64(p10))
        .push("p50", ColData::F64(p50))
        .push("p90", ColData::F64(p90));
    t
}

/// Per-SKU return parameters: rate (raw and shrunk), lag summary, restockable share.
pub fn return_params_table(ds: &Dataset, m: &ReturnModel) -> OutTable {
    let mut rows: Vec<(&str, &crate::returns::SkuReturns)> = m
        .per_sku
        .iter()
        .map(|(k, v)| (ds.skus.name(*k), v))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    let mut t = OutTable::default();
    t.push("sku", s(rows.iter().map(|r| r.0.to_string())))
        .push("category", s(rows.iter().map(|r| r.1.category.clone())))
        .push("sold_units", f(rows.iter().map(|r| r.1.sold_units)))
        .push("returned_units", f(rows.iter().map(|r| r.1.returned_units)))
        .push(
            "raw_rate",
            ColData::F64(rows.iter().map(|r| r.1.raw_rate.map(round4)).collect()),
        )
        .push("rate", f(rows.iter().map(|r| round4(r.1.rate))))
        .push(
            "effective_units",
            f(rows.iter().map(|r| round4(r.1.effective_units))),
        )
        .push(
            "shrinkage_weight",
            f(rows.iter().map(|r| round4(r.1.shrinkage_weight))),
        )
        .push(
            "lag_mean_days",
            f(rows.iter().map(|r| round4(r.1.lag_mean_days))),
        )
        .push(
            "lag_p50_days",
            ColData::I64(rows.iter().map(|r| Some(r.1.lag_p50_days as i64)).collect()),
        )
        .push(
            "lag_p90_days",
            ColData::I64(rows.iter().map(|r| Some(r.1.lag_p90_days as i64)).collect()),
        )
        .push(
            "restockable_share",
            f(rows.iter().map(|r| round4(r.1.restockable_share))),
        )
        .push(
            "linked_returns",
            ColData::I64(
                rows.iter()
                    .map(|r| Some(r.1.linked_returns as i64))
                    .collect(),
            ),
        );
    t
}

pub fn rejects_table(rejects: &[Reject]) -> OutTable {
    let mut t = OutTable::default();
    t.push("input", s(rejects.iter().map(|r| r.input.to_string())))
        .push(
            "row",
            ColData::I64(rejects.iter().map(|r| Some(r.row as i64)).collect()),
        )
        .push(
            "reason_code",
            s(rejects.iter().map(|r| r.reason_code.to_string())),
        )
        .push("reason", s(rejects.iter().map(|r| r.reason.clone())))
        .push(
            "sku",
            ColData::Str(rejects.iter().map(|r| r.sku.clone()).collect()),
        )
        .push(
            "timestamp",
            ColData::Str(
                rejects
                    .iter()
                    .map(|r| {
                        r.at.map(|a| {
                            let d = to_date(a.div_euclid(86_400) as i32);
                            let secs = a.rem_euclid(86_400);
                            format!(
                                "{d}T{:02}:{:02}:{:02}",
                                secs / 3600,
                                (secs / 60) % 60,
                                secs % 60
                            )
                        })
                    })
                    .collect(),
            ),
        )
        .push(
            "quantity",
            ColData::F64(rejects.iter().map(|r| r.quantity).collect()),
        )
        .push(
            "order_id",
            ColData::Str(rejects.iter().map(|r| r.order_id.clone()).collect()),
        );
    t
}

pub fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), OutputError> {
    let text = serde_json::to_string_pretty(v).map_err(|e| OutputError::Encode {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let io = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::create(path).map_err(io)?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(io)?;
    std::io::Write::write_all(&mut f, b"\n").map_err(io)?;
    f.sync_all().map_err(io)
}
