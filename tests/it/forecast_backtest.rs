//! `restock backtest forecast`: the engine replayed at past origins, on the sample, on the
//! real online-retail export and on a plain panel; bad panels are input errors.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Builder, ListBuilder, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::helpers::*;

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn check_metrics(m: &serde_json::Value) {
    for k in ["mae", "rmse", "mase", "rmsse", "pinball"] {
        let v = m[k].as_f64().unwrap();
        assert!(v.is_finite() && v >= 0.0, "{k} = {v}");
    }
    let (c50, c80, c90) = (
        m["coverage_50"].as_f64().unwrap(),
        m["coverage_80"].as_f64().unwrap(),
        m["coverage_90"].as_f64().unwrap(),
    );
    assert!(0.0 <= c50 && c50 <= c80 && c80 <= c90 && c90 <= 1.0);
}

/// Calibration origin by origin: each origin's PIT splits into below 0.1, inside the 80 %
/// interval and above 0.9; the origins pool to the overall figures; the spread across
/// origins is their mean and standard error.
fn check_by_origin(s: &serde_json::Value, stdout: &str) {
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    let rows = s["by_origin"].as_array().unwrap();
    assert_eq!(rows.len(), s["origins"].as_array().unwrap().len());
    let n = rows.len() as f64;
    let (mut pit80, mut windows, mut wpit80) = (0.0, 0.0, 0.0);
    for (r, day) in rows.iter().zip(s["origins"].as_array().unwrap()) {
        assert_eq!(r["origin"], *day);
        for pre in ["", "window_"] {
            let (lo, cov, hi) = (
                f(r, &format!("{pre}pit_below_10")),
                f(r, &format!("{pre}pit_coverage_80")),
                f(r, &format!("{pre}pit_above_90")),
            );
            assert!(lo > 0.0 && hi > 0.0 && cov > 0.5, "{pre} {r}");
            assert!((lo + cov + hi - 1.0).abs() < 1e-9, "{pre} {r}");
            assert!(f(r, &format!("{pre}pit_coverage_95")) > cov, "{r}");
        }
        assert!(stdout.contains(day.as_str().unwrap()));
        // The across-origins mean weighs origins alike; the overall window coverage weighs
        // them by their windows.
        pit80 += f(r, "pit_coverage_80") / n;
        windows += f(r, "windows");
        wpit80 += f(r, "window_pit_coverage_80") * f(r, "windows");
    }
    let all = &s["overall"];
    assert_eq!(windows, f(all, "windows"));
    assert!((wpit80 / windows - f(all, "window_pit_coverage_80")).abs() < 1e-9);
    let (lo, hi) = (f(all, "pit_below_10"), f(all, "pit_above_90"));
    assert!((lo + f(all, "pit_coverage_80") + hi - 1.0).abs() < 1e-9);
    let a = &s["across_origins"]["pit_coverage_80"];
    assert!((f(a, "mean") - pit80).abs() < 1e-9, "{a}");
    let sd = {
        let v: f64 = rows
            .iter()
            .map(|r| (f(r, "pit_coverage_80") - pit80).powi(2))
            .sum::<f64>()
            / (n - 1.0);
        (v / n).sqrt()
    };
    assert!((f(a, "se") - sd).abs() < 1e-9, "{a}");
    assert!(
        s["across_origins"]["window_pit_coverage_95"]["se"]
            .as_f64()
            .unwrap()
            >= 0.0
    );
    assert!(stdout.contains("calibration by origin"), "{stdout}");
    assert!(
        stdout.contains("across origins, mean ± standard error"),
        "{stdout}"
    );
}

#[test]
fn sample_backtest_writes_metrics_points_and_panel() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("bt");
    let panel = d.path().join("panel.parquet");
    let o = restock(&[
        "backtest",
        "forecast",
        "--pipeline",
        "pipelines/sample.toml",
        "--origins",
        "2",
        "--window-days",
        "14",
        "--out",
        out.to_str().unwrap(),
        "--export-panel",
        panel.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("RMSSE") && o.stdout.contains("all"),
        "{}",
        o.stdout
    );
    let s = summary(&out);
    check_metrics(&s["overall"]);
    assert_eq!(s["origins"].as_array().unwrap().len(), 2);
    // The zoo is used: several model kinds are chosen across the sample's series.
    assert!(
        s["models_chosen"].as_object().unwrap().len() >= 4,
        "{}",
        s["models_chosen"]
    );
    // The selection prior of each origin, in the JSON and the readable summary.
    let priors = s["selection_prior"].as_array().unwrap();
    assert_eq!(priors.len(), 2);
    for (p, day) in priors.iter().zip(s["origins"].as_array().unwrap()) {
        assert_eq!(p["origin"], *day);
        assert!(!p["classes"].as_array().unwrap().is_empty(), "{p}");
        let line = format!("selection prior at origin {}", day.as_str().unwrap());
        assert!(o.stdout.contains(&line), "{line} missing: {}", o.stdout);
        // The sample has a promotion calendar and categories: the rivals' slope is measured.
        let r = p["rival_slope"].as_f64().unwrap();
        assert!((-2.0..=2.0).contains(&r), "{p}");
    }
    assert!(o.stdout.contains("rivals' slope"), "{}", o.stdout);
    let series = read(&out.join("forecast_backtest_series.parquet"));
    let pts = read(&out.join("forecast_backtest_points.parquet"));
    // The 14-day protection window scored as one total: per series and origin its actual
    // total and ordered, non-negative window quantiles; coverage from both readings.
    assert_eq!(s["window_days"], 14);
    let m = &s["overall"];
    let windows = m["windows"].as_u64().unwrap() as usize;
    assert!(windows > series.rows / 2, "{windows} of {}", series.rows);
    for pre in ["window_coverage", "window_pit_coverage"] {
        let c: Vec<f64> = ["50", "80", "90", "95"]
            .iter()
            .map(|l| m[format!("{pre}_{l}")].as_f64().unwrap())
            .collect();
        assert!(
            c[0] > 0.0 && c.windows(2).all(|w| w[0] <= w[1]) && c[3] <= 1.0,
            "{pre} {c:?}"
        );
    }
    assert!(m["window_pinball"].as_f64().unwrap() > 0.0);
    check_by_origin(&s, &o.stdout);
    assert!(
        o.stdout.contains("total demand over the first 14 days"),
        "{}",
        o.stdout
    );
    let wq: Vec<Vec<Option<f64>>> = [
        "p025", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p975",
    ]
    .iter()
    .map(|c| nums(&series, &format!("window_{c}")))
    .collect();
    let actual = nums(&series, "window_actual");
    let mut scored = 0;
    for i in 0..series.rows {
        let Some(a) = actual[i] else { continue };
        scored += 1;
        assert!(a >= 0.0);
        let row: Vec<f64> = wq.iter().map(|c| c[i].unwrap()).collect();
        assert!(
            row[0] >= 0.0 && row.windows(2).all(|w| w[0] <= w[1] + 1e-9),
            "{row:?}"
        );
    }
    assert_eq!(scored, windows);
    assert_eq!(
        pts.rows,
        series.rows * 28,
        "28 scored days per series and origin"
    );
    // Quantiles ordered and never negative on every point.
    let q: Vec<Vec<Option<f64>>> = ["p05", "p10", "p25", "p50", "p75", "p90", "p95"]
        .iter()
        .map(|c| nums(&pts, c))
        .collect();
    for i in 0..pts.rows {
        let row: Vec<f64> = q.iter().map(|c| c[i].unwrap()).collect();
        assert!(
            row[0] >= 0.0 && row.windows(2).all(|w| w[0] <= w[1] + 1e-9),
            "{row:?}"
        );
    }

    // The exported panel read back through --panel: same series, same engine.
    let from_panel = |out: &Path, extra: &[&str]| {
        let mut args = vec!["backtest", "forecast", "--panel", panel.to_str().unwrap()];
        args.extend(["--origins", "1", "--out", out.to_str().unwrap()]);
        args.extend(extra);
        restock(&args)
    };
    let out2 = d.path().join("bt2");
    let o = from_panel(&out2, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    check_metrics(&summary(&out2)["overall"]);

    // A plain panel takes shop events from --set; the summary reports each kind's lift per
    // origin (a kind only planned: none).
    let out3 = d.path().join("bt3");
    let o = from_panel(
        &out3,
        &[
            "--set",
            r#"calendar.events.sale=["2023-11-24","2024-11-29"]"#,
            "--set",
            r#"calendar.events.gala=["2025-06-01"]"#,
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let ev = &summary(&out3)["selection_prior"][0]["shop_events"];
    assert_eq!(ev[0][0], "gala", "{ev}");
    assert!(ev[0][1].is_null(), "{ev}");
    assert_eq!(ev[1][0], "sale", "{ev}");
    let l = ev[1][1].as_f64().unwrap();
    assert!((0.25..=10.0).contains(&l), "{ev}");
    let txt = std::fs::read_to_string(out3.join("summary.txt")).unwrap();
    assert!(
        txt.contains(&format!(
            "shop events, shop-wide lift on their days (-: none measured): gala -, sale {l:.3}"
        )),
        "{txt}"
    );
}

#[test]
fn window_longer_than_the_horizon_is_a_config_error() {
    let o = restock(&[
        "backtest",
        "forecast",
        "--pipeline",
        "pipelines/sample.toml",
        "--window-days",
        "40",
    ]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(
        o.stderr.contains("--window-days must be 1..=28"),
        "{}",
        o.stderr
    );
}

#[test]
fn online_retail_backtest_uses_the_zoo_by_class() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("bt");
    let o = restock(&[
        "backtest",
        "forecast",
        "--pipeline",
        "pipelines/online-retail.toml",
        "--origins",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let s = summary(&out);
    check_metrics(&s["overall"]);
    let classes = s["by_class"].as_object().unwrap();
    for c in ["erratic", "intermittent", "lumpy", "dead", "new"] {
        assert!(classes.contains_key(c), "class {c} missing: {classes:?}");
    }
    let chosen = s["models_chosen"].as_object().unwrap();
    for m in ["ses", "tsb", "adida", "zero", "ensemble"] {
        assert!(chosen.contains_key(m), "{m} never chosen: {chosen:?}");
    }
    // Better than the in-sample one-step naive error on average (RMSSE < 1).
    assert!(s["overall"]["rmsse"].as_f64().unwrap() < 1.0);
}

fn write_panel(path: &Path, y: Vec<f64>) {
    let mut b = ListBuilder::new(Float64Builder::new());
    for v in &y {
        b.values().append_value(*v);
    }
    b.append(true);
    let schema = Arc::new(Schema::new(vec![
        Field::new("unique_id", DataType::Utf8, false),
        Field::new("start", DataType::Date32, false),
        Field::new(
            "y",
            DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
            false,
        ),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["a|x"])),
        Arc::new(Date32Array::from(vec![15_000])),
        Arc::new(b.finish()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(fs::File::create(path).unwrap(), schema, None)
        .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn bad_panel_is_an_input_error_naming_the_row() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.parquet");
    let mut y = vec![1.0; 200];
    y[17] = -3.0;
    write_panel(&p, y);
    let o = restock(&["backtest", "forecast", "--panel", p.to_str().unwrap()]);
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert!(
        o.stderr.contains("row 1") && o.stderr.contains("-3"),
        "{}",
        o.stderr
    );
}
