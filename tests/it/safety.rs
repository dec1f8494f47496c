//! Nightly-job safety: one run per output folder, take-over after a killed run.

use restock::export::lock::RunLock;

use crate::helpers::*;

#[test]
fn second_run_on_the_same_folder_exits_at_once_with_its_own_code() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    // This test process plays the first run: it holds the folder's lock.
    let held = RunLock::acquire(&out).unwrap();
    let t = std::time::Instant::now();
    let o = restock(&[
        "run",
        "--pipeline",
        "pipelines/sample.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 7, "{}", o.stderr);
    assert!(
        o.stderr.contains("another restock run")
            && o.stderr.contains(&std::process::id().to_string()),
        "{}",
        o.stderr
    );
    assert!(t.elapsed().as_secs() < 20, "it must not do the work first");
    assert!(visible_entries(&out).is_empty());
    drop(held);
    let o = restock(&[
        "run",
        "--pipeline",
        "pipelines/sample.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn lock_left_by_a_killed_run_is_taken_over() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    std::fs::create_dir_all(&out).unwrap();
    // A SIGKILLed run leaves its pid in .lock and a half-written temp folder behind.
    std::fs::write(out.join(".lock"), "999999\n").unwrap();
    std::fs::create_dir_all(out.join(".tmp-2024-12-31_x-999999")).unwrap();
    std::fs::write(out.join(".tmp-2024-12-31_x-999999/proposals.csv"), "half").unwrap();
    let o = restock(&[
        "run",
        "--pipeline",
        "pipelines/sample.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("taking over"), "{}", o.stderr);
    assert!(
        all_entries(&out).iter().all(|e| !e.starts_with(".tmp-")),
        "leftover temp folder removed"
    );
    assert!(out.join("latest/proposals.csv").is_file());
}

#[test]
fn too_many_rejects_fail_loudly_and_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    // The sample has about 1 % rejected order lines; a 0.5 % limit must stop the run.
    let o = restock(&[
        "run",
        "--pipeline",
        "pipelines/sample.toml",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "guards.max_reject_share=0.005",
    ]);
    assert_eq!(o.code, 8, "{}", o.stderr);
    assert!(o.stderr.contains("guards.max_reject_share"), "{}", o.stderr);
    assert!(visible_entries(&out).is_empty());
}

#[test]
fn implausible_orders_are_held_for_review_not_exported() {
    // With a factor of 0.05 every sizeable order exceeds the bound.
    let (_d, out) = sample_run(&["--set", "guards.max_order_factor=0.05"]);
    let latest = out.join("latest");
    let review = read(&latest.join("review.parquet"));
    assert!(review.rows > 0);
    assert!(strs(&review, "reason_code")
        .iter()
        .all(|r| r == "HELD_FOR_REVIEW"));
    assert!(nums(&review, "order_qty").iter().all(|q| q.unwrap() == 0.0));
    assert!(nums(&review, "held_qty").iter().all(|q| q.unwrap() > 0.0));
    let held: std::collections::BTreeSet<String> = strs(&review, "sku").into_iter().collect();
    let props = read(&latest.join("proposals.parquet"));
    let prop_keys: Vec<(String, String)> = strs(&props, "sku")
        .into_iter()
        .zip(strs(&props, "location"))
        .collect();
    let review_keys: Vec<(String, String)> = strs(&review, "sku")
        .into_iter()
        .zip(strs(&review, "location"))
        .collect();
    assert!(
        review_keys.iter().all(|k| !prop_keys.contains(k)),
        "held lines are not in the ERP file"
    );
    assert!(!held.is_empty());
    let csv = std::fs::read_to_string(latest.join("review.csv")).unwrap();
    assert!(csv.contains("zur Prüfung zurückgehalten"));
}

#[test]
fn hostile_names_stay_inside_and_cannot_inject_formulas() {
    use restock::export::table::{ColData, OutTable};
    let d = tempfile::tempdir().unwrap();
    let long = "L".repeat(5000);
    let skus = [
        "../../x",
        "=HYPERLINK(\"http://evil\",\"x\")",
        "a\u{0}b",
        long.as_str(),
        "+1",
        "@SUM(A1)",
        "-2",
    ];
    let n = skus.len() * 30;
    let mut t = OutTable::default();
    t.push(
        "order_date",
        ColData::Str(
            (0..n)
                .map(|i| Some(format!("2024-01-{:02}", 1 + i / skus.len())))
                .collect(),
        ),
    )
    .push(
        "sku",
        ColData::Str(
            (0..n)
                .map(|i| Some(skus[i % skus.len()].to_string()))
                .collect(),
        ),
    )
    .push(
        "location",
        ColData::Str((0..n).map(|_| Some("../../etc".to_string())).collect()),
    )
    .push(
        "quantity",
        ColData::F64((0..n).map(|_| Some(3.0)).collect()),
    );
    let orders = d.path().join("orders.parquet");
    t.write_parquet(&orders).unwrap();
    let out = d.path().join("runs");
    let o = restock(&[
        "run",
        "--orders",
        orders.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Nothing was written outside the output folder.
    let mut top = all_entries(d.path());
    top.sort();
    assert_eq!(top, vec!["orders.parquet", "runs"]);
    let csv = std::fs::read(out.join("latest/proposals.csv")).unwrap();
    assert!(!csv.contains(&0u8), "NUL bytes are stripped from CSV text");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    for line in text.lines().skip(1) {
        let first = line.split(';').next().unwrap();
        let first = first.trim_start_matches('"');
        assert!(
            !first.starts_with(['=', '+', '@', '-']),
            "formula not neutralised: {first:.40}"
        );
    }
    assert!(text.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""));
    assert!(text.contains(&long), "long SKUs are kept whole");
    // Parquet keeps the data exactly as given.
    let p = read(&out.join("latest/decisions.parquet"));
    assert!(strs(&p, "sku")
        .iter()
        .any(|s| s == "=HYPERLINK(\"http://evil\",\"x\")"));
    assert!(strs(&p, "location").iter().all(|s| s == "../../etc"));
}

#[test]
fn json_logs_for_cron() {
    let o = std::process::Command::new(bin())
        .args([
            "--log-format",
            "json",
            "check",
            "--pipeline",
            "pipelines/sample.toml",
        ])
        .current_dir(root())
        .env("RESTOCK_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{err}");
    for l in lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string() && v["fields"].is_object(),
            "{l}"
        );
    }
}

#[test]
fn run_history_scores_the_previous_forecasts_and_status_alerts() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    let o = out.to_str().unwrap();
    let s = restock(&["status", "--out", o]);
    assert_eq!(s.code, 3, "no history yet: UNKNOWN");
    assert_eq!(
        restock(&[
            "run",
            "--pipeline",
            "pipelines/sample.toml",
            "--out",
            o,
            "--as-of",
            "2024-11-30"
        ])
        .code,
        0
    );
    assert_eq!(
        restock(&["run", "--pipeline", "pipelines/sample.toml", "--out", o]).code,
        0
    );
    let h = read(&out.join("runs.parquet"));
    assert_eq!(h.rows, 2);
    // The second run scored the first run's December forecasts against December actuals.
    let pts = nums(&h, "prev_points");
    assert_eq!(pts[0], Some(0.0));
    assert!(pts[1].unwrap() > 1000.0);
    let cov = nums(&h, "prev_coverage90")[1].unwrap();
    assert!((0.5..=1.0).contains(&cov), "coverage {cov}");
    assert!(nums(&h, "prev_mae")[1].unwrap() > 0.0);
    // Drift per demand class: every scored point belongs to one class of the previous run.
    let by_class: f64 = ["smooth", "erratic", "intermittent", "lumpy", "new", "dead"]
        .iter()
        .map(|c| nums(&h, &format!("prev_points_{c}"))[1].unwrap())
        .sum();
    assert!(by_class > 0.9 * pts[1].unwrap() && by_class <= pts[1].unwrap());
    assert!(nums(&h, "prev_mae_lumpy")[1].is_some() || nums(&h, "prev_mae_smooth")[1].is_some());
    assert!(nums(&h, "cost")[1].unwrap() > 0.0);
    let s = restock(&["status", "--out", o]);
    assert!(
        s.stdout.contains("PREV COV90") && s.stdout.contains("2024-12-31"),
        "{}",
        s.stdout
    );
    assert!(s.code == 0 || s.code == 1, "{}", s.stdout);
    // Same as-of again: the data did not advance.
    assert_eq!(
        restock(&["run", "--pipeline", "pipelines/sample.toml", "--out", o]).code,
        0
    );
    let s = restock(&["status", "--out", o]);
    assert_eq!(s.code, 1, "{}", s.stdout);
    assert!(s.stdout.contains("data stale"));
    let s = restock(&["status", "--out", o, "--max-age-hours", "0"]);
    assert_eq!(s.code, 2, "{}", s.stdout);
    assert!(s.stdout.contains("CRITICAL"));
}
