//! One test per bad input: a clear message naming file/column/row, a documented exit code,
//! and no run folder.

use std::path::{Path, PathBuf};

use restock::export::table::{ColData, OutTable};

use crate::helpers::*;

const INPUT: i32 = 4;
const CONFIG: i32 = 3;

fn s(v: &[&str]) -> ColData {
    ColData::Str(v.iter().map(|x| Some(x.to_string())).collect())
}
fn f(v: &[f64]) -> ColData {
    ColData::F64(v.iter().map(|x| Some(*x)).collect())
}

fn good_orders(dir: &Path) -> PathBuf {
    let mut t = OutTable::default();
    let days: Vec<&str> = vec!["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"];
    t.push("order_date", s(&days))
        .push("sku", s(&["A", "A", "B", "A"]))
        .push("quantity", f(&[1.0, 2.0, 3.0, 1.0]));
    let p = dir.join("orders.parquet");
    t.write_parquet(&p).unwrap();
    p
}

/// Runs `restock run` into a fresh out folder and asserts it failed with `code`, mentioning
/// every needle, and left no output behind.
fn fails(args: &[&str], code: i32, needles: &[&str]) {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    let mut a = vec!["run", "--out", out.to_str().unwrap()];
    a.extend_from_slice(args);
    let o = restock(&a);
    assert_eq!(o.code, code, "stdout {} stderr {}", o.stdout, o.stderr);
    for n in needles {
        assert!(o.stderr.contains(n), "stderr lacks '{n}': {}", o.stderr);
    }
    assert!(
        visible_entries(&out).is_empty(),
        "output left behind: {:?}",
        visible_entries(&out)
    );
}

#[test]
fn missing_file() {
    fails(
        &["--orders", "/nonexistent/orders.parquet"],
        INPUT,
        &["orders file", "/nonexistent/orders.parquet", "not found"],
    );
}

#[test]
fn not_parquet() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("orders.parquet");
    std::fs::write(&p, "order_date,sku,quantity\n2024-01-01,A,1\n").unwrap();
    fails(
        &["--orders", p.to_str().unwrap()],
        INPUT,
        &["not a readable Parquet file", "orders.parquet"],
    );
}

#[test]
fn empty_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("orders.parquet");
    std::fs::write(&p, "").unwrap();
    fails(&["--orders", p.to_str().unwrap()], INPUT, &["no data rows"]);
    // A valid Parquet file with zero rows is empty too.
    let mut t = OutTable::default();
    t.push("order_date", s(&[]))
        .push("sku", s(&[]))
        .push("quantity", f(&[]));
    t.write_parquet(&p).unwrap();
    fails(&["--orders", p.to_str().unwrap()], INPUT, &["no data rows"]);
}

#[test]
fn missing_required_column() {
    let d = tempfile::tempdir().unwrap();
    let mut t = OutTable::default();
    t.push("order_date", s(&["2024-01-01"]))
        .push("sku", s(&["A"]));
    let p = d.path().join("orders.parquet");
    t.write_parquet(&p).unwrap();
    fails(
        &["--orders", p.to_str().unwrap()],
        INPUT,
        &[
            "required column 'quantity'",
            "columns present: order_date, sku",
        ],
    );
}

#[test]
fn wrong_column_type() {
    let d = tempfile::tempdir().unwrap();
    let mut t = OutTable::default();
    t.push("order_date", s(&["2024-01-01"]))
        .push("sku", s(&["A"]))
        .push("quantity", ColData::Date(vec![Some(19000)]));
    let p = d.path().join("orders.parquet");
    t.write_parquet(&p).unwrap();
    fails(
        &["--orders", p.to_str().unwrap()],
        INPUT,
        &["column 'quantity'", "Date32", "cannot be read as a number"],
    );
    // Text that is not a number names the row.
    let mut t = OutTable::default();
    t.push("order_date", s(&["2024-01-01", "2024-01-02"]))
        .push("sku", s(&["A", "A"]))
        .push("quantity", s(&["1", "zwei"]));
    t.write_parquet(&p).unwrap();
    fails(
        &["--orders", p.to_str().unwrap()],
        INPUT,
        &["column 'quantity', row 2", "'zwei' is not a number"],
    );
}

#[test]
fn unparseable_dates() {
    let d = tempfile::tempdir().unwrap();
    let mut t = OutTable::default();
    t.push("order_date", s(&["2024-01-01", "2024-01-02", "31/02/2024"]))
        .push("sku", s(&["A", "A", "A"]))
        .push("quantity", f(&[1.0, 1.0, 1.0]));
    let p = d.path().join("orders.parquet");
    t.write_parquet(&p).unwrap();
    fails(
        &["--orders", p.to_str().unwrap()],
        INPUT,
        &["column 'order_date', row 3", "'31/02/2024' is not a date"],
    );
}

#[test]
fn negative_lead_time() {
    let d = tempfile::tempdir().unwrap();
    let o = good_orders(d.path());
    let mut t = OutTable::default();
    t.push("sku", s(&["A", "B"]))
        .push("lead_time_days", f(&[3.0, -2.0]));
    let p = d.path().join("products.parquet");
    t.write_parquet(&p).unwrap();
    fails(
        &[
            "--orders",
            o.to_str().unwrap(),
            "--products",
            p.to_str().unwrap(),
        ],
        INPUT,
        &[
            "products file",
            "column 'lead_time_days', row 2",
            "-2 is negative",
        ],
    );
    // In the pipeline settings it is a config error.
    fails(
        &[
            "--orders",
            o.to_str().unwrap(),
            "--set",
            "defaults.lead_time_days=-1",
        ],
        CONFIG,
        &["defaults.lead_time_days"],
    );
}

#[test]
fn service_level_outside_unit_interval() {
    let d = tempfile::tempdir().unwrap();
    let o = good_orders(d.path());
    let mut t = OutTable::default();
    t.push("sku", s(&["A"])).push("service_level", f(&[1.5]));
    let p = d.path().join("products.parquet");
    t.write_parquet(&p).unwrap();
    fails(
        &[
            "--orders",
            o.to_str().unwrap(),
            "--products",
            p.to_str().unwrap(),
        ],
        INPUT,
        &["column 'service_level', row 1", "strictly between 0 and 1"],
    );
    fails(
        &[
            "--orders",
            o.to_str().unwrap(),
            "--set",
            "defaults.service_level=0",
        ],
        CONFIG,
        &["defaults.service_level"],
    );
}

#[test]
fn duplicated_lines_are_rejected_with_reason_not_fatal() {
    let d = tempfile::tempdir().unwrap();
    let mut t = OutTable::default();
    t.push("order_id", s(&["1", "1", "2"]))
        .push("order_date", s(&["2024-01-01", "2024-01-01", "2024-01-02"]))
        .push("sku", s(&["A", "A", "A"]))
        .push("quantity", f(&[1.0, 1.0, 1.0]));
    let p = d.path().join("orders.parquet");
    t.write_parquet(&p).unwrap();
    let out = d.path().join("runs");
    let o = restock(&[
        "run",
        "--orders",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r = read(&out.join("latest/rejects.parquet"));
    assert_eq!(r.rows, 1);
    assert_eq!(strs(&r, "reason_code"), vec!["duplicate"]);
    assert_eq!(nums(&r, "row"), vec![Some(2.0)]);
    assert_eq!(strs(&r, "reason"), vec!["exact duplicate of row 1"]);
    let c = restock(&["check", "--orders", p.to_str().unwrap(), "--strict"]);
    assert_eq!(c.code, 5);
    assert!(c.stdout.contains("duplicate"));
}

#[test]
fn unknown_sku_in_master_is_reported_and_defaulted() {
    let d = tempfile::tempdir().unwrap();
    let o = good_orders(d.path());
    let mut t = OutTable::default();
    t.push("sku", s(&["A", "Z"]))
        .push("lead_time_days", f(&[3.0, 4.0]))
        .push("pack_size", f(&[6.0, 1.0]));
    let p = d.path().join("products.parquet");
    t.write_parquet(&p).unwrap();
    let j = d.path().join("c.json");
    let c = restock(&[
        "check",
        "--orders",
        o.to_str().unwrap(),
        "--products",
        p.to_str().unwrap(),
        "--json",
        j.to_str().unwrap(),
    ]);
    assert_eq!(c.code, 0, "{}", c.stderr);
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&j).unwrap()).unwrap();
    let find = |code: &str| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == code)
            .cloned()
    };
    assert_eq!(
        find("sold_not_in_master").unwrap()["count"],
        1,
        "B is sold but not in the master"
    );
    assert_eq!(
        find("master_never_sold").unwrap()["count"],
        1,
        "Z is in the master but never sold"
    );
    let out = d.path().join("runs");
    let run = restock(&[
        "run",
        "--orders",
        o.to_str().unwrap(),
        "--products",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dec = read(&out.join("latest/decisions.parquet"));
    let skus = strs(&dec, "sku");
    let defaulted = strs(&dec, "defaulted");
    let b = skus.iter().position(|s| s == "B").unwrap();
    assert!(defaulted[b].contains("product_master") && defaulted[b].contains("lead_time_days"));
    let a = skus.iter().position(|s| s == "A").unwrap();
    assert!(!defaulted[a].contains("lead_time_days"));
}

#[test]
fn bad_pipeline_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("p.toml");
    std::fs::write(
        &p,
        "[inputs.orders]\npath = 'x.parquet'\n[defaults]\nservce_level = 0.9\n",
    )
    .unwrap();
    fails(
        &["--pipeline", p.to_str().unwrap()],
        CONFIG,
        &["p.toml", "unknown field `servce_level`"],
    );
}

#[test]
fn inputs_above_configured_limits_fail_before_decoding() {
    let d = tempfile::tempdir().unwrap();
    let o = good_orders(d.path());
    fails(
        &[
            "--orders",
            o.to_str().unwrap(),
            "--set",
            "limits.max_rows=3",
        ],
        INPUT,
        &["orders file", "4 rows, above limits.max_rows = 3"],
    );
    fails(
        &[
            "--orders",
            o.to_str().unwrap(),
            "--set",
            "limits.max_file_mib=0",
        ],
        INPUT,
        &["above limits.max_file_mib = 0 MiB"],
    );
}

#[test]
fn corrupt_parquet_footer_is_an_input_error_not_a_crash() {
    // Found by the input_reader fuzzer: a footer with a negative column chunk offset made the
    // parquet crate panic. It must be exit 4 with a clear message and no output.
    let p = root().join("tests/fixtures/corrupt_negative_offset.parquet");
    fails(
        &["--orders", p.to_str().unwrap()],
        INPUT,
        &["not a readable Parquet file", "corrupt file"],
    );
}

/// A promotion row that ends before it starts stops the run naming file, column and row;
/// with `invalid_rows = "reject"` it goes to the reject file and the run goes on.
#[test]
fn promotion_ending_before_its_start() {
    let d = tempfile::tempdir().unwrap();
    let o = good_orders(d.path());
    let mut t = OutTable::default();
    t.push("sku", s(&["A", "B"]))
        .push("location", ColData::Str(vec![None, None]))
        .push("start_date", s(&["2024-01-02", "2024-01-09"]))
        .push("end_date", s(&["2024-01-05", "2024-01-03"]));
    let p = d.path().join("promotions.parquet");
    t.write_parquet(&p).unwrap();
    let args = [
        "--orders",
        o.to_str().unwrap(),
        "--promotions",
        p.to_str().unwrap(),
    ];
    fails(
        &args,
        INPUT,
        &[
            "promotions file",
            "column 'end_date', row 2",
            "end_date is before start_date",
        ],
    );
    let out = d.path().join("runs");
    let mut a = vec!["run", "--out", out.to_str().unwrap()];
    a.extend_from_slice(&args);
    a.extend_from_slice(&["--set", "inputs.orders.rules.invalid_rows=\"reject\""]);
    let r = restock(&a);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rj = read(&out.join("latest/rejects.parquet"));
    assert_eq!(strs(&rj, "input"), vec!["promotions"]);
    assert_eq!(nums(&rj, "row"), vec![Some(2.0)]);
    assert_eq!(strs(&rj, "reason"), vec!["end_date is before start_date"]);
}
