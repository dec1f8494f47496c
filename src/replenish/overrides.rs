//! Planner overrides: which row applies to which series, and what became of every row.
//!
//! A row names a SKU and optionally a location (none: every location). Per series and kind
//! (quantity: fixed/block; service level) a location-specific row beats a SKU-wide one, and
//! among equals the later row in the file wins. Rows past `valid_until`, rows whose SKU or
//! location is not in the data and rows fully superseded are reported, never applied.

use std::collections::BTreeMap;

use serde::Serialize;

use super::SeriesParams;
use crate::ingest::{Dataset, OverrideAction};
use crate::panel::Panel;

/// One override row and what happened to it.
#[derive(Debug, Clone, Serialize)]
pub struct OverrideStatus {
    pub row: u32,
    pub sku: String,
    pub location: Option<String>,
    pub action: &'static str,
    pub value: Option<f64>,
    pub who: String,
    pub reason: String,
    pub valid_until: Option<i32>,
    /// applied | expired | unknown_sku | unknown_location | superseded
    pub status: &'static str,
    pub series: usize,
}

fn is_qty(a: OverrideAction) -> bool {
    matches!(a, OverrideAction::FixedQty | OverrideAction::Block)
}

fn series_of(ds: &Dataset, panel: &Panel) -> BTreeMap<String, Vec<usize>> {
    let mut m: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, s) in panel.series.iter().enumerate() {
        m.entry(ds.skus.name(s.sku).to_string())
            .or_default()
            .push(i);
    }
    m
}

fn expired(ds: &Dataset, k: usize, panel: &Panel) -> bool {
    ds.planner_overrides[k]
        .valid_until
        .is_some_and(|d| d < panel.as_of)
}

fn targets(
    ds: &Dataset,
    panel: &Panel,
    by_sku: &BTreeMap<String, Vec<usize>>,
    k: usize,
) -> Vec<usize> {
    let o = &ds.planner_overrides[k];
    by_sku
        .get(&o.sku)
        .map(|v| {
            v.iter()
                .copied()
                .filter(|&i| {
                    o.location
                        .as_deref()
                        .is_none_or(|l| ds.locs.name(panel.series[i].loc) == l)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Per series: (quantity override, service-level override), as indices into the dataset's
/// override list.
pub fn match_series(ds: &Dataset, panel: &Panel) -> Vec<(Option<usize>, Option<usize>)> {
    let mut out = vec![(None, None); panel.series.len()];
    if ds.planner_overrides.is_empty() {
        return out;
    }
    let by_sku = series_of(ds, panel);
    // SKU-wide rows first, then location rows; later rows overwrite earlier ones.
    let mut order: Vec<usize> = (0..ds.planner_overrides.len()).collect();
    order.sort_by_key(|&k| (ds.planner_overrides[k].location.is_some(), k));
    for k in order {
        if expired(ds, k, panel) {
            continue;
        }
        for i in targets(ds, panel, &by_sku, k) {
            if is_qty(ds.planner_overrides[k].action) {
                out[i].0 = Some(k);
            } else {
                out[i].1 = Some(k);
            }
        }
    }
    out
}

pub fn statuses(ds: &Dataset, panel: &Panel, params: &[SeriesParams]) -> Vec<OverrideStatus> {
    let by_sku = series_of(ds, panel);
    ds.planner_overrides
        .iter()
        .enumerate()
        .map(|(k, o)| {
            let t = targets(ds, panel, &by_sku, k);
            let applied = t
                .iter()
                .filter(|&&i| {
                    params[i].qty_override == Some(k) || params[i].service_override == Some(k)
                })
                .count();
            let status = if expired(ds, k, panel) {
                "expired"
            } else if !by_sku.contains_key(&o.sku) {
                "unknown_sku"
            } else if t.is_empty() {
                "unknown_location"
            } else if applied == 0 {
                "superseded"
            } else {
                "applied"
            };
            OverrideStatus {
                row: o.row,
                sku: o.sku.clone(),
                location: o.location.clone(),
                action: o.action.as_str(),
                value: o.value,
                who: o.who.clone(),
                reason: o.reason.clone(),
                valid_until: o.valid_until,
                status,
                series: applied,
            }
        })
        .collect()
}
