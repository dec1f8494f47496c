//! The German CSV and the planners' XLSX open in LibreOffice Calc with numbers as numbers
//! and dates as dates.
//!
//! LibreOffice (installed by scripts/test.sh) converts them headless to flat ODS (the CSV
//! with the German locale import filter); the cell value types are then read back.

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

/// Converts a file to flat ODS with headless LibreOffice and returns the document.
fn to_fods(dir: &std::path::Path, file: &std::path::Path, infilter: Option<&str>) -> String {
    let conv = dir.join("conv");
    let profile = dir.join("lo-profile");
    let mut args = vec![
        format!("-env:UserInstallation=file://{}", profile.display()),
        "--headless".into(),
        "--convert-to".into(),
        "fods".into(),
    ];
    if let Some(f) = infilter {
        args.push(format!("--infilter={f}"));
    }
    args.extend([
        "--outdir".into(),
        conv.to_str().unwrap().to_string(),
        file.to_str().unwrap().to_string(),
    ]);
    let st = Command::new("soffice")
        .args(&args)
        .output()
        .expect("soffice must be installed (scripts/test.sh installs Debian's libreoffice-calc)");
    assert!(
        st.status.success(),
        "soffice failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let stem = file.file_stem().unwrap().to_str().unwrap();
    std::fs::read_to_string(conv.join(format!("{stem}.fods"))).unwrap()
}

#[test]
fn xlsx_opens_in_libreoffice_typed_frozen_and_filtered() {
    if std::env::var("RESTOCK_SKIP_LIBREOFFICE").is_ok() {
        eprintln!("RESTOCK_SKIP_LIBREOFFICE set: skipped");
        return;
    }
    let (d, out) = sample_run(&[]);
    let fods = to_fods(d.path(), &out.join("latest/proposals.xlsx"), None);
    let rows = cells(&fods);
    let header: Vec<&str> = rows[0]
        .iter()
        .map(|c| c.1.as_str())
        .take_while(|h| !h.is_empty())
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let parquet = read(&out.join("latest/proposals.parquet"));
    assert_eq!(header.len(), parquet.names().len(), "every proposal column");
    let qty = nums(&parquet, "order_qty");
    let data: Vec<&Vec<(String, String)>> = rows[1..]
        .iter()
        .filter(|r| r.iter().any(|c| !c.1.is_empty()))
        .collect();
    assert_eq!(data.len(), parquet.rows);
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
        assert_eq!(r[col("reason_text")].0, "string");
    }
    // Autofilter over the data (LibreOffice keeps it as a database range with buttons).
    assert!(
        fods.contains("table:display-filter-buttons=\"true\""),
        "autofilter"
    );
    // A headless conversion drops view settings, so the frozen header is read from the
    // sheet XML itself.
    let sheet = Command::new("unzip")
        .args([
            "-p",
            out.join("latest/proposals.xlsx").to_str().unwrap(),
            "xl/worksheets/sheet1.xml",
        ])
        .output()
        .expect("unzip (installed by scripts/test.sh)");
    let sheet = String::from_utf8_lossy(&sheet.stdout);
    assert!(sheet
        .contains(r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#));
    assert!(sheet.contains("<autoFilter ref=\"A1:"));
}

#[test]
fn german_csv_opens_in_libreoffice_with_typed_cells() {
    if std::env::var("RESTOCK_SKIP_LIBREOFFICE").is_ok() {
        eprintln!("RESTOCK_SKIP_LIBREOFFICE set: skipped");
        return;
    }
    let (d, out) = sample_run(&[]);
    let csv = out.join("latest/proposals.csv");
    // 59 = ';', 34 = '"', 76 = UTF-8, start at line 1, default column types, locale de-DE (1031).
    let fods = to_fods(d.path(), &csv, Some("CSV:59,34,76,1,,1031"));
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
