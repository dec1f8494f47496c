//! Sharded runs: `run --shard i/N` per shard, then `merge`, equal to the single-machine run.

use std::fs;
use std::path::Path;

use crate::helpers::*;

fn run_ok(args: &[&str]) {
    let o = restock(args);
    assert_eq!(o.code, 0, "{args:?}\nstderr: {}", o.stderr);
}

fn shards(pipeline: &str, out: &Path, n: usize, extra: &[&str]) {
    for i in 0..n {
        let spec = format!("{i}/{n}");
        let mut args = vec![
            "run",
            "--pipeline",
            pipeline,
            "--out",
            out.to_str().unwrap(),
            "--shard",
            &spec,
        ];
        args.extend_from_slice(extra);
        run_ok(&args);
    }
}

/// Every output file of two runs, but the manifest (timestamps, durations), byte for byte.
fn assert_same_outputs(a: &Path, b: &Path) {
    let mut files = visible_entries(a);
    files.sort();
    let mut other = visible_entries(b);
    other.sort();
    assert_eq!(files, other);
    assert!(files.iter().any(|f| f == "proposals.csv"), "{files:?}");
    for f in files.iter().filter(|f| *f != "manifest.json") {
        let x = fs::read(a.join(f)).unwrap();
        let y = fs::read(b.join(f)).unwrap();
        assert!(
            x == y,
            "{f} differs between the single run and the merged shards"
        );
    }
}

#[test]
fn merged_shards_equal_the_single_run_byte_for_byte() {
    let d = tempfile::tempdir().unwrap();
    let single = d.path().join("single");
    let sharded = d.path().join("sharded");
    run_ok(&[
        "run",
        "--pipeline",
        "pipelines/sample.toml",
        "--out",
        single.to_str().unwrap(),
    ]);
    shards("pipelines/sample.toml", &sharded, 3, &[]);
    // Hive-style partitions, each with its own latest run.
    let mut parts: Vec<String> = visible_entries(&sharded);
    parts.sort();
    assert_eq!(parts, ["shard=0", "shard=1", "shard=2"]);
    let mut total = 0;
    for p in &parts {
        let m: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(sharded.join(p).join("latest/shard.json")).unwrap(),
        )
        .unwrap();
        let n = m["counts"]["series"].as_u64().unwrap();
        assert!(n > 0, "{p} is empty");
        let fm = read(&sharded.join(p).join("latest/forecast_models.parquet"));
        assert_eq!(fm.rows as u64, n);
        total += n;
    }
    run_ok(&[
        "merge",
        "--pipeline",
        "pipelines/sample.toml",
        "--shards",
        sharded.to_str().unwrap(),
        "--out",
        sharded.to_str().unwrap(),
    ]);
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(sharded.join("latest/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["merged_shards"], 3);
    assert_eq!(m["counts"]["series"].as_u64().unwrap(), total);
    // The merged run reports the prior the shards chose with: the single run's.
    let one: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(single.join("latest/manifest.json")).unwrap())
            .unwrap();
    let classes = one["selection_prior"]["classes"].as_array().unwrap();
    assert!(!classes.is_empty());
    for c in classes {
        let w = c["reliability"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&w), "{c}");
        assert!(c["relative_score"].as_object().unwrap().len() >= 2, "{c}");
    }
    assert_eq!(m["selection_prior"], one["selection_prior"]);
    // The rivals' slope the promotion lifts followed, measured on the whole panel.
    assert!(
        one["promotion_rival_slope"].is_number(),
        "{}",
        one["promotion_rival_slope"]
    );
    assert_eq!(m["promotion_rival_slope"], one["promotion_rival_slope"]);
    assert_same_outputs(&single.join("latest"), &sharded.join("latest"));
}

#[test]
fn merged_shards_equal_the_single_run_on_online_retail() {
    // The real data set, with the pooled model (trained on the whole panel by every shard)
    // and a shop event (one shop-wide lift, measured on the whole panel by every shard).
    assert!(shared_data("online-retail/online_retail.parquet").exists());
    let d = tempfile::tempdir().unwrap();
    let single = d.path().join("single");
    let sharded = d.path().join("sharded");
    let light = r#"forecast.models=["moving_average","seasonal_naive","ses","tsb","global_ridge"]"#;
    let events = r#"calendar.events.black_friday=["2011-11-25","2011-12-16"]"#;
    run_ok(&[
        "run",
        "--pipeline",
        "pipelines/online-retail.toml",
        "--out",
        single.to_str().unwrap(),
        "--set",
        light,
        "--set",
        events,
    ]);
    shards(
        "pipelines/online-retail.toml",
        &sharded,
        2,
        &["--set", light, "--set", events],
    );
    run_ok(&[
        "merge",
        "--pipeline",
        "pipelines/online-retail.toml",
        "--out",
        sharded.to_str().unwrap(),
        "--set",
        light,
        "--set",
        events,
    ]);
    let fm = read(&single.join("latest/forecast_models.parquet"));
    assert!(nums(&fm, "event_lift").iter().any(Option::is_some));
    assert_same_outputs(&single.join("latest"), &sharded.join("latest"));
}

#[test]
fn merge_refuses_incomplete_or_foreign_shards_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    shards("pipelines/sample.toml", &out, 2, &[]);
    let merged = d.path().join("merged");
    let merge = |extra: &[&str]| {
        let mut args = vec![
            "merge",
            "--pipeline",
            "pipelines/sample.toml",
            "--shards",
            out.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        restock(&args)
    };
    // Other settings than the shards were computed with: refused by the fingerprint.
    let o = merge(&["--set", "forecast.ensemble_k=0"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("fingerprint"), "{}", o.stderr);
    // A longer lead time changes every protection window the shards' quantiles were built for.
    let o = merge(&["--set", "defaults.lead_time_days=30"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("fingerprint"), "{}", o.stderr);
    // A shard missing.
    fs::rename(out.join("shard=1"), d.path().join("away")).unwrap();
    let o = merge(&[]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("shard=1"), "{}", o.stderr);
    // A corrupt state names its file.
    fs::rename(d.path().join("away"), out.join("shard=1")).unwrap();
    let state = out.join("shard=1/latest/forecasts.state");
    let bytes = fs::read(&state).unwrap();
    fs::write(&state, &bytes[..bytes.len() / 2]).unwrap();
    let o = merge(&[]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("forecasts.state"), "{}", o.stderr);
    // Nothing was written by the failed merges.
    assert!(!merged.join("latest").exists());
    assert!(
        visible_entries(&merged).is_empty(),
        "{:?}",
        visible_entries(&merged)
    );
    // A bad --shard is a usage error before any work.
    let o = restock(&[
        "run",
        "--pipeline",
        "pipelines/sample.toml",
        "--out",
        out.to_str().unwrap(),
        "--shard",
        "2/2",
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("--shard"), "{}", o.stderr);
}
