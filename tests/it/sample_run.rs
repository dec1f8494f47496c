//! The README's first command on the shipped sample, plus determinism and `forecast`.

use std::fs;

use crate::helpers::*;

#[test]
fn sample_run_writes_every_output_atomically() {
    let (_d, out) = sample_run(&[]);
    let latest = out.join("latest");
    for f in [
        "proposals.parquet",
        "proposals.csv",
        "decisions.parquet",
        "forecasts.parquet",
        "forecast_models.parquet",
        "rejects.parquet",
        "manifest.json",
    ] {
        assert!(latest.join(f).is_file(), "{f} missing");
    }
    // No temporary folder left behind.
    assert!(all_entries(&out).iter().all(|e| !e.starts_with(".tmp-")));
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(latest.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["as_of"], "2024-12-31");
    assert!(m["counts"]["series"].as_u64().unwrap() >= 300);
    assert!(m["counts"]["proposals"].as_u64().unwrap() > 10);
    assert_eq!(m["inputs"].as_array().unwrap().len(), 8);
    assert!(m["stages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["stage"] == "forecast"));
    assert!(m["order_lines"]["duplicate"].as_u64().unwrap() >= 1);
    assert!(m["order_lines"]["cancelled_status"].as_u64().unwrap() >= 1);
    // The three SKUs missing in the master are reported as defaulted.
    assert!(m["defaults_used"]["product_master"].as_u64().unwrap() >= 3);

    let p = read(&latest.join("proposals.parquet"));
    let qty = nums(&p, "order_qty");
    let moq = nums(&p, "moq");
    let pack = nums(&p, "pack_size");
    for i in 0..p.rows {
        let (q, m, k) = (qty[i].unwrap(), moq[i].unwrap(), pack[i].unwrap());
        assert!(q > 0.0 && q >= m - 1e-9, "row {i}: qty {q} below MOQ {m}");
        assert!(
            ((q / k) - (q / k).round()).abs() < 1e-9,
            "row {i}: {q} not a multiple of pack {k}"
        );
    }
    // Every order line is explained.
    let reasons = strs(&p, "reason_code");
    assert!(reasons
        .iter()
        .all(|r| ["BELOW_TARGET", "BELOW_REORDER_POINT", "OVERRIDE_FIXED"].contains(&r.as_str())));
    let texts = strs(&p, "reason_text");
    assert!(texts
        .iter()
        .all(|t| t.starts_with("Bestellen") && t.contains("Bestandsposition")));
    // Lines whose window holds a planned promotion say so.
    assert!(
        texts.iter().any(|t| t.contains("geplanten Aktionstag")),
        "no line names its planned promotion"
    );
    // Lines of seasonal items name last year's move.
    assert!(
        texts.iter().any(|t| t.contains("Saisonverlauf Vorjahr")),
        "no line names last year's season"
    );
    // The lift the per-series models put on each item's planned promotion days: the
    // sample's promotions double demand (×2.2), which the forecast lift, shrunk toward 1,
    // lands below.
    let fm = read(&latest.join("forecast_models.parquet"));
    let lifts: Vec<f64> = nums(&fm, "promo_lift").into_iter().flatten().collect();
    assert!(lifts.len() > 300, "{} series with a lift", lifts.len());
    let mut sorted = lifts.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    assert!((1.5..2.2).contains(&median), "median lift {median}");
    // Last year's move: the sample's garden items (yearly amplitude 0.7) fall from
    // December into January's trough (about ×0.7); the moves are shrunk toward 1, and
    // series whose models did not take the move report none.
    let products = read(&root().join("data-samples/products.parquet"));
    let category: std::collections::HashMap<String, String> = strs(&products, "sku")
        .into_iter()
        .zip(strs(&products, "category"))
        .collect();
    let mut garden = Vec::new();
    let mut moved = 0;
    for (sku, mv) in strs(&fm, "sku").iter().zip(nums(&fm, "yearly_move")) {
        let Some(mv) = mv else { continue };
        assert!(mv.is_finite() && mv > 0.0, "{sku}: move {mv}");
        moved += 1;
        if category.get(sku).map(String::as_str) == Some("garden") {
            garden.push(mv);
        }
    }
    assert!(
        moved > 30 && garden.len() > 5,
        "{moved} moved, {} garden",
        garden.len()
    );
    garden.sort_by(f64::total_cmp);
    let g = garden[garden.len() / 2];
    assert!((0.55..0.9).contains(&g), "median garden move {g}");

    // German CSV: BOM, ';', same number of data lines as Parquet rows.
    let csv = fs::read(latest.join("proposals.csv")).unwrap();
    assert_eq!(&csv[..3], &[0xEF, 0xBB, 0xBF]);
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("sku;location;supplier_id;order_qty;order_date"));
    assert_eq!(lines.len() - 1, p.rows);
    // Dates as dd.mm.yyyy: the order date is on or after 01.01.2025.
    assert!(lines[1].split(';').nth(4).unwrap().ends_with(".2025"));

    let dec = read(&latest.join("decisions.parquet"));
    assert_eq!(dec.rows as u64, m["counts"]["series"].as_u64().unwrap());
}

#[test]
fn same_inputs_give_byte_identical_outputs_whatever_the_threads() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a");
    let b = d.path().join("b");
    let o = restock(&[
        "--threads",
        "1",
        "run",
        "--pipeline",
        "pipelines/sample.toml",
        "--out",
        a.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = restock(&[
        "--threads",
        "2",
        "run",
        "--pipeline",
        "pipelines/sample.toml",
        "--out",
        b.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Every output but the manifest (timestamps, durations, thread count) — XLSX and the
    // ERP files included.
    let mut files = visible_entries(&a.join("latest"));
    files.sort();
    let mut other = visible_entries(&b.join("latest"));
    other.sort();
    assert_eq!(files, other);
    assert!(files.len() >= 16, "{files:?}");
    for f in files.iter().filter(|f| *f != "manifest.json") {
        let x = fs::read(a.join("latest").join(f)).unwrap();
        let y = fs::read(b.join("latest").join(f)).unwrap();
        assert!(x == y, "{f} differs between 1 and 2 threads");
    }
}

#[test]
fn forecast_without_pipeline_on_canonical_inputs() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("fc.parquet");
    let o = restock(&[
        "forecast",
        "--orders",
        "data-samples/orders.parquet",
        "--as-of",
        "2024-11-30",
        "--horizon",
        "28",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let t = read(&f);
    assert_eq!(
        t.column_names(),
        &[
            "sku", "location", "date", "model", "mean", "p05", "p10", "p25", "p50", "p75", "p90",
            "p95"
        ]
    );
    // Every (sku, location) that sold on or before the as-of date gets 28 rows.
    let orders = read(&root().join("data-samples/orders.parquet"));
    let dates = orders.datetimes("order_date", "x", true).unwrap().unwrap();
    let cut = restock::ingest::table::parse_datetime("2024-11-30").unwrap();
    let skus = strs(&orders, "sku");
    let locs = strs(&orders, "location");
    let status = strs(&orders, "status");
    let mut keys = std::collections::BTreeSet::new();
    for i in 0..orders.rows {
        if dates[i].unwrap() <= cut && status[i] != "cancelled" {
            keys.insert((skus[i].clone(), locs[i].clone()));
        }
    }
    assert_eq!(t.rows, keys.len() * 28);
    let fd = t.datetimes("date", "x", true).unwrap().unwrap();
    assert!(fd.iter().all(|d| d.unwrap() > cut));
    let cols: Vec<Vec<Option<f64>>> = ["mean", "p05", "p10", "p25", "p50", "p75", "p90", "p95"]
        .iter()
        .map(|c| nums(&t, c))
        .collect();
    for i in 0..t.rows {
        for k in 1..8 {
            assert!(cols[k][i].unwrap() >= 0.0);
            if k > 1 {
                assert!(
                    cols[k][i].unwrap() >= cols[k - 1][i].unwrap(),
                    "quantiles ordered at row {i}"
                );
            }
        }
    }
}

#[test]
fn sample_generator_is_deterministic() {
    let d = tempfile::tempdir().unwrap();
    let o = restock(&[
        "sample",
        "--out",
        d.path().to_str().unwrap(),
        "--skus",
        "40",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let e = tempfile::tempdir().unwrap();
    let o = restock(&[
        "sample",
        "--out",
        e.path().to_str().unwrap(),
        "--skus",
        "40",
    ]);
    assert_eq!(o.code, 0);
    for f in [
        "orders.parquet",
        "returns.parquet",
        "stock.parquet",
        "products.parquet",
        "suppliers.parquet",
        "open_pos.parquet",
        "promotions.parquet",
    ] {
        assert_eq!(
            fs::read(d.path().join(f)).unwrap(),
            fs::read(e.path().join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn check_on_sample_reports_and_writes_json() {
    let d = tempfile::tempdir().unwrap();
    let j = d.path().join("check.json");
    let o = restock(&[
        "check",
        "--pipeline",
        "pipelines/sample.toml",
        "--json",
        j.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("FINDINGS"));
    let r: serde_json::Value = serde_json::from_str(&fs::read_to_string(&j).unwrap()).unwrap();
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for c in [
        "duplicate",
        "sold_not_in_master",
        "master_never_sold",
        "stockout_days",
        "cancelled_status",
        "promotion_rivals",
    ] {
        assert!(codes.contains(&c), "missing finding {c}: {codes:?}");
    }
    // The sample's master has categories: rivals share a location and a category.
    let rivals = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "promotion_rivals")
        .unwrap();
    let msg = rivals["message"].as_str().unwrap_or_default();
    assert!(msg.contains("same location and category"), "{rivals}");
    assert!(rivals["count"].as_u64().unwrap() > 0, "{rivals}");
    // Warnings are fatal under --strict.
    let o = restock(&["check", "--pipeline", "pipelines/sample.toml", "--strict"]);
    assert_eq!(o.code, 5);
}
