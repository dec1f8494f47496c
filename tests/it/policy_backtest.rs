//! `restock backtest policy`: the inventory simulation on the sample and on online-retail.
//! Hand-computed day-by-day cases are unit tests in `src/backtest/policy.rs`.

use std::fs;

use serde_json::Value;

use crate::helpers::*;

fn total(v: &Value, policy: &str, level: f64) -> Value {
    v["total"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["policy"] == policy && (c["service_level"].as_f64().unwrap() - level).abs() < 1e-9
        })
        .unwrap_or_else(|| panic!("{policy} {level} in {v}"))
        .clone()
}

#[test]
fn sample_policy_backtest_trades_stock_for_service() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("bt");
    let o = restock(&[
        "backtest",
        "policy",
        "--pipeline",
        "pipelines/sample.toml",
        "--from",
        "2024-09-01",
        "--to",
        "2024-12-31",
        "--refit-days",
        "28",
        "--policies",
        "order_up_to,rq,min_max",
        "--service-levels",
        "0.7,0.98",
        "--set",
        r#"forecast.models=["moving_average","sba","ses"]"#,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("recommended per class"), "{}", o.stdout);
    for f in [
        "policy_backtest_series.parquet",
        "policy_backtest_classes.parquet",
        "policy_backtest_recommendations.parquet",
        "summary.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let v: Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["days"], 122);
    assert_eq!(v["refits"], 5);
    for p in ["order_up_to", "rq", "min_max"] {
        let lo = total(&v, p, 0.7);
        let hi = total(&v, p, 0.98);
        let f = |c: &Value, k: &str| c[k].as_f64().unwrap();
        assert!(
            f(&hi, "fill_rate") >= f(&lo, "fill_rate"),
            "{p}: more service target, more fill rate"
        );
        assert!(
            f(&hi, "avg_inventory_value") > f(&lo, "avg_inventory_value"),
            "{p}: and more stock"
        );
        assert!(f(&hi, "fill_rate") > 0.8 && f(&hi, "fill_rate") <= 1.0);
        assert!(hi["orders"].as_u64().unwrap() > 0);
        // Lines of one supplier on one day form one purchase order.
        let po = hi["purchase_orders"].as_u64().unwrap();
        assert!(po > 0 && po <= hi["orders"].as_u64().unwrap());
    }
    // The sample has stock snapshots: what the shop actually held is reported.
    assert!(v["actual"]["avg_inventory_units"].as_f64().unwrap() > 0.0);
    let recs = read(&out.join("policy_backtest_recommendations.parquet"));
    let classes = strs(&recs, "class");
    assert!(classes.contains(&"all".to_string()) && classes.iter().any(|c| c.starts_with("abc_")));
    let series = read(&out.join("policy_backtest_series.parquet"));
    assert!(series.rows >= 6 * 300);
    report_renders_in_chromium(&out);
}

/// The HTML report in headless Chromium (Debian's `chromium`, installed by
/// scripts/test.sh): the rendered DOM has the charts and tables, and a screenshot is far from
/// blank (compared with a screenshot of an empty page of the same size).
fn report_renders_in_chromium(out: &std::path::Path) {
    if std::env::var("RESTOCK_SKIP_CHROMIUM").is_ok() {
        eprintln!("RESTOCK_SKIP_CHROMIUM set: skipped");
        return;
    }
    let report = out.join("report.html");
    let html = fs::read_to_string(&report).unwrap();
    assert!(!html.contains("<script"), "self-contained, no scripts");
    let chromium = |args: &[&str]| {
        let o = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1400,3200",
            ])
            .args(args)
            .output()
            .expect("chromium must be installed (scripts/test.sh installs Debian's chromium)");
        assert!(
            o.status.success(),
            "chromium: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    let dom = String::from_utf8(chromium(&[
        "--dump-dom",
        &format!("file://{}", report.display()),
    ]))
    .unwrap();
    // 4 trade-off charts (all, A, B, C), 2 class bar charts, 6 top-seller charts.
    assert!(
        dom.matches("<svg").count() >= 12,
        "charts in the rendered page"
    );
    assert!(dom.matches("<polyline").count() >= 12 + 3 * 6);
    assert!(dom.contains("Recommended setting per class") && dom.contains("<table>"));
    assert!(dom.contains("Against reality"));
    let shot = out.join("shot.png");
    chromium(&[
        &format!("--screenshot={}", shot.display()),
        &format!("file://{}", report.display()),
    ]);
    let blank_html = out.join("blank.html");
    fs::write(&blank_html, "<html><body></body></html>").unwrap();
    let blank = out.join("blank.png");
    chromium(&[
        &format!("--screenshot={}", blank.display()),
        &format!("file://{}", blank_html.display()),
    ]);
    let png = fs::read(&shot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let blank_len = fs::metadata(&blank).unwrap().len();
    assert!(
        png.len() as u64 > 5 * blank_len,
        "screenshot {} bytes vs blank page {blank_len}: charts drawn",
        png.len()
    );
}

#[test]
fn online_retail_policy_backtest_runs() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("bt");
    let o = restock(&[
        "backtest",
        "policy",
        "--pipeline",
        "pipelines/online-retail.toml",
        "--from",
        "2011-10-01",
        "--to",
        "2011-12-09",
        "--refit-days",
        "14",
        "--policies",
        "order_up_to",
        "--service-levels",
        "0.9",
        "--backorders",
        "--lead-time-seed",
        "7",
        "--set",
        r#"forecast.models=["moving_average","sba"]"#,
        "--set",
        "defaults.lead_time_sd_days=3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let t = total(&v, "order_up_to", 0.9);
    assert!(t["series"].as_u64().unwrap() > 3000);
    let fr = t["fill_rate"].as_f64().unwrap();
    assert!(fr > 0.5 && fr <= 1.0, "{fr}");
    assert!(t["forecast_mae"].as_f64().unwrap() > 0.0);
    // Backorders: nothing is lost.
    assert_eq!(t["lost_units"].as_f64().unwrap(), 0.0);
    // No snapshots in this export: no "actual" comparison.
    assert!(v["actual"].is_null());
    assert!(
        out.join("report.html").is_file() && out.join("policy_backtest_classes.parquet").is_file()
    );
}

#[test]
fn policy_backtest_rejects_bad_options() {
    let o = restock(&[
        "backtest",
        "policy",
        "--pipeline",
        "pipelines/sample.toml",
        "--policies",
        "magic",
    ]);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(o.stderr.contains("'magic' is not a policy"), "{}", o.stderr);
}
