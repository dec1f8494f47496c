//! Replenishment policies: stockpyl conformance (goldens from
//! `benches/peers/stockpyl_goldens.py`, stockpyl pinned in `benches/peers/requirements.txt`),
//! three proposal lines recomputed by hand, every policy on the sample and on online-retail.

use std::fs;
use std::path::Path;

use restock::config::{PolicyKind, ReplenishCfg};
use restock::forecast::SeriesForecast;
use restock::replenish::dist::DemandDist;
use restock::replenish::math;
use restock::replenish::policy::{policy, PolicyInput, Service};
use serde_json::Value;

use crate::helpers::*;

fn goldens() -> Value {
    let p = root().join("tests/fixtures/stockpyl_goldens.json");
    serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()
}

fn cases(g: &Value, name: &str) -> Vec<Value> {
    let v = g["cases"][name].as_array().unwrap().clone();
    assert!(v.len() >= 4, "{name}: goldens present");
    v
}

fn x(c: &Value, k: &str) -> f64 {
    c[k].as_f64().unwrap_or_else(|| panic!("{k} in {c}"))
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: restock {a} vs stockpyl {b}"
    );
}

#[test]
fn maths_match_stockpyl() {
    let g = goldens();
    for c in cases(&g, "newsvendor_normal") {
        let (s, cost) = math::newsvendor_normal(x(&c, "h"), x(&c, "p"), x(&c, "mean"), x(&c, "sd"));
        close(s, x(&c, "S"), 1e-9, "newsvendor normal S");
        close(cost, x(&c, "cost"), 1e-9, "newsvendor normal cost");
        let c2 =
            math::newsvendor_normal_cost(s, x(&c, "h"), x(&c, "p"), x(&c, "mean"), x(&c, "sd"));
        close(c2, x(&c, "cost"), 1e-9, "newsvendor normal cost at S*");
    }
    for c in cases(&g, "newsvendor_poisson") {
        let (s, cost) = math::newsvendor_poisson(x(&c, "h"), x(&c, "p"), x(&c, "mean"));
        assert_eq!(s, x(&c, "S"), "newsvendor poisson S {c}");
        close(cost, x(&c, "cost"), 1e-9, "newsvendor poisson cost");
    }
    for c in cases(&g, "standard_normal_loss") {
        let (gz, gbar) = math::standard_normal_loss(x(&c, "z"));
        close(gz, x(&c, "G"), 1e-12, "G(z)");
        close(gbar, x(&c, "Gbar"), 1e-12, "Gbar(z)");
    }
    for c in cases(&g, "poisson_loss") {
        let (n, nbar) = math::poisson_loss(x(&c, "x"), x(&c, "mean"));
        close(n, x(&c, "n"), 1e-10, "poisson loss");
        close(nbar, x(&c, "nbar"), 1e-10, "poisson complementary loss");
    }
    for c in cases(&g, "fill_rate_safety_stock") {
        let target = (1.0 - x(&c, "beta")) * x(&c, "Q") / x(&c, "sd");
        let z = math::standard_normal_loss_inverse(target);
        close(z, x(&c, "z"), 1e-9, "fill-rate z");
        close(
            z * x(&c, "sd"),
            x(&c, "safety_stock"),
            1e-9,
            "fill-rate safety stock",
        );
    }
    for c in cases(&g, "rq_poisson_exact") {
        let (r, q, cost) = math::rq_poisson_exact(
            x(&c, "h"),
            x(&c, "p"),
            x(&c, "K"),
            x(&c, "lambda"),
            x(&c, "L"),
        );
        assert_eq!((r, q), (x(&c, "r"), x(&c, "Q")), "(r, Q) {c}");
        close(cost, x(&c, "cost"), 1e-9, "(r, Q) cost");
    }
    for c in cases(&g, "ss_poisson_exact") {
        let (s, big_s, cost) =
            math::ss_poisson_exact(x(&c, "h"), x(&c, "p"), x(&c, "K"), x(&c, "mean"));
        assert_eq!((s, big_s), (x(&c, "s"), x(&c, "S")), "(s, S) {c}");
        close(cost, x(&c, "cost"), 1e-9, "(s, S) cost");
    }
    for c in cases(&g, "eoq") {
        let (q, cost) = math::eoq(x(&c, "K"), x(&c, "h"), x(&c, "lambda"));
        close(q, x(&c, "Q"), 1e-12, "EOQ");
        close(cost, x(&c, "cost"), 1e-12, "EOQ cost");
    }
}

/// The production path (forecast window distribution → policy) against the goldens: the
/// base-stock level for α, the fill-rate reorder point, the newsvendor level.
#[test]
fn policies_match_stockpyl_through_the_forecast_seam() {
    let g = goldens();
    let cfg = ReplenishCfg::default();
    for c in cases(&g, "base_stock_cycle") {
        let (a, mean, sd) = (x(&c, "alpha"), x(&c, "mean"), x(&c, "sd"));
        // One-day window with daily sd = window sd: "normal_approx" is exactly N(mean, sd²).
        let f = SeriesForecast::fixed(mean, 1, "normal_approx", sd);
        let mut d = DemandDist::new(&f, 0.0);
        let dec = policy(PolicyKind::OrderUpTo).decide(&mut PolicyInput {
            dist: &mut d,
            review_mean: mean,
            annual_demand: mean * 365.0,
            position: 0.0,
            service: Service::Cycle(a),
            unit_cost: None,
            price: None,
            window_days: 1,
            cfg: &cfg,
        });
        close(dec.target, x(&c, "S_normal"), 1e-9, "base stock (normal)");
        let f = SeriesForecast::fixed(mean, 1, "poisson", 0.0);
        let d = DemandDist::new(&f, 0.0);
        assert_eq!(
            d.quantile(a),
            x(&c, "S_poisson"),
            "base stock (Poisson) {c}"
        );
    }
    for c in cases(&g, "fill_rate_safety_stock") {
        let (beta, q, sd) = (x(&c, "beta"), x(&c, "Q"), x(&c, "sd"));
        let mean = 5.0 * sd; // far from zero so the normal is not truncated
        let f = SeriesForecast::fixed(mean, 1, "normal_approx", sd);
        let mut d = DemandDist::new(&f, 0.0);
        // (r, Q) with Q fixed by "one review period of demand" = q (no unit cost).
        let dec = policy(PolicyKind::Rq).decide(&mut PolicyInput {
            dist: &mut d,
            review_mean: q,
            annual_demand: 0.0,
            position: 1e9,
            service: Service::FillRate(beta),
            unit_cost: None,
            price: None,
            window_days: 1,
            cfg: &cfg,
        });
        assert_eq!(dec.lot_size, Some(q));
        // restock works in whole units and integrates the loss on 200 quantile points:
        // its reorder point is the golden rounded up, within one unit.
        let want = mean + x(&c, "safety_stock");
        assert!(
            dec.reorder_point >= want - 1.0 && dec.reorder_point <= want.ceil() + 1.0,
            "fill-rate r {} vs stockpyl {want}",
            dec.reorder_point
        );
    }
    for c in cases(&g, "newsvendor_normal") {
        let (h, p, mean, sd) = (x(&c, "h"), x(&c, "p"), x(&c, "mean"), x(&c, "sd"));
        // Newsvendor underage = price − cost, overage = cost (no salvage, no holding).
        let cfg = ReplenishCfg {
            holding_cost_rate: 1e-15,
            ..Default::default()
        };
        let f = SeriesForecast::fixed(mean, 1, "normal_approx", sd);
        let mut d = DemandDist::new(&f, 0.0);
        let dec = policy(PolicyKind::Newsvendor).decide(&mut PolicyInput {
            dist: &mut d,
            review_mean: mean,
            annual_demand: 0.0,
            position: 0.0,
            service: Service::Cycle(0.5),
            unit_cost: Some(h),
            price: Some(h + p),
            window_days: 1,
            cfg: &cfg,
        });
        close(
            dec.target,
            x(&c, "S"),
            1e-9,
            "newsvendor through the policy",
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// Three SKUs with perfectly steady demand (10 a day, every day): every model forecasts 10
/// with zero CV error, so each line can be recomputed with pencil and paper.
#[test]
fn three_lines_recomputed_by_hand() {
    let d = tempfile::tempdir().unwrap();
    let mut orders = String::from("order_id,order_date,sku,quantity,unit_price\n");
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    for day in 0..240 {
        let date = start + chrono::Duration::days(day);
        for sku in ["A", "B", "C"] {
            orders += &format!("{sku}{day},{date},{sku},10,5\n");
        }
    }
    let as_of = start + chrono::Duration::days(239);
    let orders = write(d.path(), "orders.csv", &orders);
    let products = write(
        d.path(),
        "products.csv",
        "sku,supplier_id,unit_cost,moq,pack_size,service_level,policy\n\
         A,S1,2,50,12,0.95,order_up_to\n\
         B,S1,2,1,10,0.95,rq\n\
         C,S1,2,1,1,0.95,min_max\n",
    );
    let suppliers = write(
        d.path(),
        "suppliers.csv",
        "supplier_id,lead_time_days,lead_time_sd_days\nS1,5,0\n",
    );
    let stock = write(
        d.path(),
        "stock.csv",
        &format!(
            "snapshot_date,sku,on_hand,reserved\n{as_of},A,30,4\n{as_of},B,20,0\n{as_of},C,45,0\n"
        ),
    );
    let receipt = as_of + chrono::Duration::days(3);
    let late = as_of + chrono::Duration::days(40);
    let pos = write(
        d.path(),
        "open_pos.csv",
        &format!("sku,quantity,expected_date\nA,20,{receipt}\nA,99,{late}\n"),
    );
    let pipeline = write(
        d.path(),
        "p.toml",
        &format!(
            "as_of = \"{as_of}\"\nhorizon_days = 28\n\
             [inputs.orders]\npath = \"{orders}\"\n\
             [inputs.products]\npath = \"{products}\"\n\
             [inputs.suppliers]\npath = \"{suppliers}\"\n\
             [inputs.stock]\npath = \"{stock}\"\n\
             [inputs.open_pos]\npath = \"{pos}\"\n\
             [defaults]\nlocation = \"L\"\nreview_period_days = 7\n\
             [replenish]\norder_cost = 25.0\nholding_cost_rate = 0.25\n\
             [export]\nlanguage = \"en\"\n"
        ),
    );
    let out = d.path().join("runs");
    let o = restock(&[
        "run",
        "--pipeline",
        &pipeline,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let dec = read(&out.join("latest/decisions.parquet"));
    let sku = strs(&dec, "sku");
    let line = |s: &str| sku.iter().position(|k| k == s).unwrap();
    let g = |c: &str, i: usize| nums(&dec, c)[i].unwrap();

    // A, (R, S): order tomorrow, window = 0 + 5 lead + 7 review = 12 days → S = 120.
    // Position = 30 on hand − 4 reserved + 20 due in the window (99 arrive later) = 46.
    // Need 74 → MOQ 50 is met → packs of 12: 7 packs = 84.
    let a = line("A");
    assert_eq!(g("window_days", a), 12.0);
    assert!((g("demand_quantile", a) - 120.0).abs() < 1e-6);
    assert_eq!(g("inventory_position", a), 46.0);
    assert_eq!(g("on_order_later", a), 99.0);
    assert!((g("raw_need", a) - 74.0).abs() < 1e-6);
    assert_eq!(g("order_qty", a), 84.0);
    assert_eq!(g("pack_adjustment", a), 10.0);
    assert_eq!(g("line_value", a), 168.0);

    // B, (r, Q): window = 5 days → r = 50. EOQ = √(2 · 25 · 3650 / (0.25 · 2)) = √365000
    // = 604.15. Position 20 ≤ r → one lot: need 604.15 → 605 units → packs of 10 → 610.
    let b = line("B");
    assert_eq!(g("window_days", b), 5.0);
    assert!((g("reorder_point", b) - 50.0).abs() < 1e-6);
    assert!((g("lot_size", b) - 604.1523).abs() < 1e-3);
    assert_eq!(g("order_qty", b), 610.0);

    // C, min/max: min = 50 (5-day window), max = 50 + 7 · 10 = 120; position 45 ≤ 50 →
    // order 120 − 45 = 75.
    let c = line("C");
    assert!((g("reorder_point", c) - 50.0).abs() < 1e-6);
    assert!((g("target_level", c) - 120.0).abs() < 1e-6);
    assert_eq!(g("order_qty", c), 75.0);

    let reasons = strs(&dec, "reason_text");
    assert!(
        reasons[a].contains("position 46 = on hand 30 − reserved 4 + on order 20"),
        "{}",
        reasons[a]
    );
    assert!(reasons[b].contains("lot Q 604.2 (EOQ"), "{}", reasons[b]);
    let codes = strs(&dec, "reason_code");
    assert_eq!(codes[a], "BELOW_TARGET");
    assert_eq!(codes[b], "BELOW_REORDER_POINT");
}

/// The sample carries all four policies (master column), overrides and caps.
#[test]
fn sample_runs_every_policy_and_reports_overrides() {
    let (_d, out) = sample_run(&[]);
    let latest = out.join("latest");
    let dec = read(&latest.join("decisions.parquet"));
    let pol = strs(&dec, "policy");
    let qty = nums(&dec, "order_qty");
    for p in ["order_up_to", "rq", "min_max", "newsvendor"] {
        assert!(
            (0..dec.rows).any(|i| pol[i] == p && qty[i].unwrap() > 0.0),
            "{p} orders something on the sample"
        );
    }
    let codes = strs(&dec, "reason_code");
    for c in ["OVERRIDE_FIXED", "OVERRIDE_BLOCKED", "CAPPED"] {
        assert!(codes.iter().any(|x| x == c), "{c} present");
    }
    let fixed = codes.iter().position(|c| c == "OVERRIDE_FIXED").unwrap();
    assert_eq!(qty[fixed], Some(48.0));
    let rep = read(&latest.join("overrides_report.parquet"));
    let st = strs(&rep, "status");
    assert_eq!(
        st,
        vec!["applied", "applied", "applied", "expired", "unknown_sku"]
    );
    // Every proposal: ≥ 0, whole packs, 0 or ≥ MOQ — unless the planner fixed it.
    let pack = nums(&dec, "pack_size");
    let moq = nums(&dec, "moq");
    let ovr = strs(&dec, "override_action");
    for i in 0..dec.rows {
        let q = qty[i].unwrap();
        assert!(q >= 0.0);
        if ovr[i] != "fixed_qty" {
            let p = pack[i].unwrap();
            assert!(
                ((q / p) - (q / p).round()).abs() < 1e-9,
                "row {i}: {q} / {p}"
            );
            assert!(q == 0.0 || q + 1e-9 >= moq[i].unwrap());
        }
    }
}

/// Online-retail with a policy per ABC class, fill-rate targets and a run budget.
#[test]
fn online_retail_under_every_policy_with_fill_rate_and_budget() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("runs");
    let o = restock(&[
        "run",
        "--pipeline",
        "pipelines/online-retail.toml",
        "--out",
        out.to_str().unwrap(),
        "--set",
        r#"forecast.models=["moving_average","sba","ses"]"#,
        "--set",
        r#"replenish.policy_by_class={AX="newsvendor", A="order_up_to", B="rq", C="min_max"}"#,
        "--set",
        "replenish.service_measure=\"fill_rate\"",
        "--set",
        "replenish.budget=20000",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let latest = out.join("latest");
    let dec = read(&latest.join("decisions.parquet"));
    let pol = strs(&dec, "policy");
    let qty = nums(&dec, "order_qty");
    for p in ["order_up_to", "rq", "min_max", "newsvendor"] {
        assert!(
            (0..dec.rows).any(|i| pol[i] == p && qty[i].unwrap() > 0.0),
            "{p} orders on online-retail"
        );
    }
    let measure = strs(&dec, "service_measure");
    assert!(measure.iter().any(|m| m == "fill_rate"));
    let value: f64 = nums(&dec, "line_value")
        .iter()
        .map(|v| v.unwrap_or(0.0))
        .sum();
    assert!(value <= 20_000.0 + 1e-6, "budget kept: {value}");
    let cut = nums(&dec, "budget_adjustment");
    assert!(cut.iter().any(|c| c.unwrap() < 0.0), "the budget binds");
    let m: Value =
        serde_json::from_str(&fs::read_to_string(latest.join("manifest.json")).unwrap()).unwrap();
    assert!(m["replenishment"]["order_value"].as_f64().unwrap() <= 20_000.0);
}

/// ERP exports: the import columns of Odoo, Business Central and the SAP-style requisition,
/// one line per proposal, plus a profile defined only in configuration.
#[test]
fn erp_exports_and_a_profile_from_config() {
    let (_d, out) = sample_run(&[
        "--set",
        r#"export.profiles.mine={format="csv", file="mine.csv", separator="|", decimal=",", date_format="%d/%m/%Y", columns=[{name="Artikel", from="sku"}, {name="Menge", from="order_qty"}, {name="Liefertermin", from="expected_receipt_date"}, {name="Quelle", value="=cmd"}]}"#,
        "--set",
        r#"export.proposals=["xlsx","odoo","business_central","sap_pr","mine"]"#,
    ]);
    let latest = out.join("latest");
    let p = read(&latest.join("proposals.parquet"));
    let n = p.rows;
    let lines = |f: &str| -> Vec<String> {
        let text = fs::read_to_string(latest.join(f)).unwrap();
        text.trim_start_matches('\u{feff}')
            .lines()
            .map(str::to_string)
            .collect()
    };
    let odoo = lines("odoo_purchase_order.csv");
    assert_eq!(
        odoo[0],
        "partner_id,date_order,currency_id,picking_type_id,origin,order_line/product_id,order_line/product_qty,order_line/price_unit,order_line/date_planned"
    );
    assert_eq!(odoo.len(), n + 1);
    // Continuation lines leave the order's fields empty (Odoo's one2many import rule).
    let heads = odoo[1..].iter().filter(|l| !l.starts_with(',')).count();
    let groups: std::collections::BTreeSet<(String, String, String)> = {
        let s = strs(&p, "supplier_id");
        let l = strs(&p, "location");
        let d: Vec<_> = p.datetimes("order_date", "x", true).unwrap().unwrap();
        (0..n)
            .map(|i| (s[i].clone(), l[i].clone(), format!("{:?}", d[i])))
            .collect()
    };
    assert_eq!(
        heads,
        groups.len(),
        "one purchase order per supplier, location and day"
    );

    let bc = lines("business_central_requisition_lines.csv");
    assert_eq!(
        bc[0],
        "Worksheet Template Name;Journal Batch Name;Line No.;Type;No.;Location Code;Quantity;Vendor No.;Direct Unit Cost;Currency Code;Order Date;Due Date"
    );
    assert_eq!(bc.len(), n + 1);
    assert!(bc[1].starts_with("REQ;RESTOCK;10000;Item;"));
    assert!(bc[2].starts_with("REQ;RESTOCK;20000;Item;"));
    let sap = lines("sap_purchase_requisition.txt");
    assert_eq!(
        sap[0],
        "BSART\tBNFPO\tMATNR\tWERKS\tMENGE\tMEINS\tBADAT\tLFDAT\tLIFNR\tPREIS\tWAERS\tAFNAM"
    );
    assert_eq!(sap.len(), n + 1);
    let f: Vec<&str> = sap[1].split('\t').collect();
    assert_eq!((f[0], f[1], f[5]), ("NB", "10", "ST"));
    assert!(
        f[6].len() == 8 && f[6].starts_with("2025"),
        "YYYYMMDD: {}",
        f[6]
    );

    let mine = lines("mine.csv");
    assert_eq!(mine[0], "Artikel|Menge|Liefertermin|Quelle");
    assert_eq!(mine.len(), n + 1);
    let qty = nums(&p, "order_qty");
    let first: Vec<&str> = mine[1].split('|').collect();
    assert_eq!(first[1], qty[0].unwrap().to_string().replace('.', ","));
    assert!(first[2].contains('/'));
    // A constant that looks like a formula is neutralised like any text.
    assert_eq!(first[3], "'=cmd");
    let m: Value =
        serde_json::from_str(&fs::read_to_string(latest.join("manifest.json")).unwrap()).unwrap();
    let outs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for f in ["proposals.xlsx", "odoo_purchase_order.csv", "mine.csv"] {
        assert!(outs.contains(&f) && latest.join(f).is_file(), "{f}");
    }
}

#[test]
fn unknown_export_profile_is_a_config_error() {
    let o = restock(&[
        "check",
        "--pipeline",
        "pipelines/sample.toml",
        "--set",
        r#"export.proposals=["nope"]"#,
    ]);
    assert_eq!(
        o.code, 3,
        "config error exit code (README table): {}",
        o.stderr
    );
    assert!(o.stderr.contains("unknown profile 'nope'"), "{}", o.stderr);
}
