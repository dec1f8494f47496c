//! The German CSV opens in LibreOffice Calc with numbers as numbers and dates as dates.
//!
//! LibreOffice (installed by scripts/test.sh) converts proposals.csv headless to flat ODS
//! with the German locale import filter; the cell value types are then read back.

use std::process::Command;

use crate::helpers::*;

/// (value-type, text) per cell of each row of the first table in a flat ODS document.
fn cells(fods: &str) -> Vec<Vec<(String, String)>> {
    let mut rows = Vec::new();
    for row in fods.split("<table:table-row").skip(1) {
        let row = row.split("</table:table-row>").next().unwrap_or("");
        let mut cells = Vec::new();
        for cell in row.split("<table:table-cell").skip(1) {
            let head = cell.split('>').next().unwrap_or("");
            let attr = |name: &str| {
                head.split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .map(str::to_string)
            };
            let vt = attr("office:value-type").unwrap_or_default();
            let val = attr("office:date-value")
                .or_else(|| attr("office:value"))
                .unwrap_or_else(|| {
                    cell.split("<text:p>")
                        .nth(1)
                        .and_then(|t| t.split("</text:p>").next())
                        .unwrap_or("")
                        .to_string()
                });
            let rep: usize = attr("table:number-columns-repeated")
                .and_then(|r| r.parse().ok())
                .unwrap_or(1)
                .min(64);
            for _ in 0..rep {
                cells.push((vt.clone(), val.clone()));
            }
        }
        rows.push(cells);
    }
    rows
}

#[test]
fn german_csv_opens_in_libreoffice_with_typed_cells() {
    if std::env::var("RESTOCK_SKIP_LIBREOFFICE").is_ok() {
        eprintln!("RESTOCK_SKIP_LIBREOFFICE set: skipped");
        return;
    }
    let (d, out) = sample_run(&[]);
    let csv = out.join("latest/proposals.csv");
    let conv = d.path().join("conv");
    let profile = d.path().join("lo-profile");
    let st = Command::new("soffice")
        .args([
            &format!("-env:UserInstallation=file://{}", profile.display()),
            "--headless",
            "--convert-to",
            "fods",
            // 59 = ';', 34 = '"', 76 = UTF-8, start at line 1, default column types, locale de-DE (1031).
            "--infilter=CSV:59,34,76,1,,1031",
            "--outdir",
            conv.to_str().unwrap(),
            csv.to_str().unwrap(),
        ])
        .output()
        .expect("soffice must be installed (scripts/test.sh installs Debian's libreoffice-calc)");
    assert!(
        st.status.success(),
        "soffice failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let fods = std::fs::read_to_string(conv.join("proposals.fods")).unwrap();
    let rows = cells(&fods);
    let header: Vec<&str> = rows[0].iter().map(|c| c.1.as_str()).collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let parquet = read(&out.join("latest/proposals.parquet"));
    let qty = nums(&parquet, "order_qty");
    let cost = nums(&parquet, "unit_cost");
    let data: Vec<&Vec<(String, String)>> = rows[1..]
        .iter()
        .filter(|r| r.iter().any(|c| !c.1.is_empty()))
        .collect();
    assert_eq!(data.len(), parquet.rows);
    let mut fractional = 0;
    for (i, r) in data.iter().enumerate() {
        let q = &r[col("order_qty")];
        assert_eq!(q.0, "float", "order_qty row {i}: {q:?}");
        assert!((q.1.parse::<f64>().unwrap() - qty[i].unwrap()).abs() < 1e-9);
        for dcol in ["order_date", "expected_receipt_date"] {
            let dc = &r[col(dcol)];
            assert_eq!(dc.0, "date", "{dcol} row {i}: {dc:?}");
            assert!(dc.1.starts_with("2025-"), "{dcol} row {i}: {dc:?}");
        }
        assert_eq!(r[col("sku")].0, "string");
        let c = &r[col("unit_cost")];
        let Some(want) = cost[i] else {
            assert_eq!(c.0, "", "no cost in the master: empty cell");
            continue;
        };
        assert_eq!(c.0, "float", "unit_cost row {i}: {c:?}");
        let v: f64 = c.1.parse().unwrap();
        assert!(
            (v - want).abs() < 1e-9,
            "decimal comma read as {v}, want {want}"
        );
        if v.fract() != 0.0 {
            fractional += 1;
        }
    }
    assert!(
        fractional > 0,
        "some unit costs have decimals, so the decimal comma was exercised"
    );
}
