//! Export profiles defined in configuration: file format, number/date notation and a column
//! mapping. The built-ins (`builtin_profiles.toml`: German/machine CSV, Parquet, XLSX, Odoo,
//! Business Central, SAP-style) use the same schema as a pipeline's `[export.profiles.*]`,
//! so adding an ERP format is a config change, not a code change.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::format::{Item, StrftimeItems};
use serde::{Deserialize, Serialize};

use super::table::{csv_text, plain_number, starts_like_formula, ColData, CsvFormat, OutTable};
use crate::error::{ConfigError, OutputError};
use crate::ingest::Day;

const BUILTIN: &str = include_str!("builtin_profiles.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Parquet,
    Xlsx,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    pub name: String,
    /// A proposal column, or "@row" (running number × `step`).
    pub from: Option<String>,
    /// A constant.
    pub value: Option<String>,
    pub step: Option<i64>,
    /// Only on the first row of each `group_by` group.
    #[serde(default)]
    pub header: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDef {
    pub format: FileFormat,
    pub file: Option<String>,
    pub description: Option<String>,
    /// Where the column names come from (documentation of the target import).
    pub source: Option<String>,
    pub separator: Option<String>,
    pub decimal: Option<String>,
    pub date_format: Option<String>,
    pub bom: Option<bool>,
    /// Proposal columns whose values form one document (e.g. one purchase order).
    #[serde(default)]
    pub group_by: Vec<String>,
    #[serde(default)]
    pub columns: Vec<ColumnDef>,
}

/// The built-in profiles (parsed once per call; tiny).
pub fn builtin() -> BTreeMap<String, ProfileDef> {
    // The file is part of the binary and covered by a unit test; an error here is a bug.
    toml::from_str(BUILTIN).unwrap_or_default()
}

/// Built-ins overlaid with the pipeline's own definitions.
pub fn all(custom: &BTreeMap<String, ProfileDef>) -> BTreeMap<String, ProfileDef> {
    let mut m = builtin();
    for (k, v) in custom {
        m.insert(k.clone(), v.clone());
    }
    m
}

fn invalid(key: String, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        detail: detail.into(),
    }
}

impl ProfileDef {
    pub fn file_name(&self, name: &str) -> String {
        self.file.clone().unwrap_or_else(|| {
            let ext = match self.format {
                FileFormat::Csv => "csv",
                FileFormat::Parquet => "parquet",
                FileFormat::Xlsx => "xlsx",
            };
            format!("proposals_{name}.{ext}")
        })
    }

    fn separator_char(&self) -> char {
        self.separator
            .as_deref()
            .and_then(|s| s.chars().next())
            .unwrap_or(';')
    }

    /// Checks everything a run would otherwise find out too late.
    pub fn validate(&self, name: &str, columns: &[String]) -> Result<(), ConfigError> {
        let key = |k: &str| format!("export.profiles.{name}.{k}");
        let file = self.file_name(name);
        if file.is_empty()
            || file.contains(['/', '\\', '\0'])
            || file.starts_with('.')
            || file.len() > 120
        {
            return Err(invalid(
                key("file"),
                format!("'{file}' must be a plain file name"),
            ));
        }
        if let Some(s) = &self.separator {
            if s.chars().count() != 1 || s == "\"" || s == "\n" || s == "\r" {
                return Err(invalid(
                    key("separator"),
                    "must be one character (not a quote or newline)",
                ));
            }
        }
        if let Some(d) = &self.decimal {
            if d != "." && d != "," {
                return Err(invalid(key("decimal"), "must be \".\" or \",\""));
            }
            if self.format == FileFormat::Csv && d.starts_with(self.separator_char()) {
                return Err(invalid(key("decimal"), "must differ from the separator"));
            }
        }
        if let (Some(f), FileFormat::Csv) = (&self.date_format, self.format) {
            if f.is_empty() || StrftimeItems::new(f).any(|i| matches!(i, Item::Error)) {
                return Err(invalid(
                    key("date_format"),
                    format!("'{f}' is not a strftime format"),
                ));
            }
        }
        for g in &self.group_by {
            if !columns.contains(g) {
                return Err(invalid(
                    key("group_by"),
                    format!("'{g}' is not a proposal column"),
                ));
            }
        }
        for (i, c) in self.columns.iter().enumerate() {
            let k = key(&format!("columns[{i}]"));
            if c.name.trim().is_empty() {
                return Err(invalid(k, "name is empty"));
            }
            match (&c.from, &c.value) {
                (Some(f), None) => {
                    if f != "@row" && !columns.contains(f) {
                        return Err(invalid(
                            k,
                            format!("'{f}' is not a proposal column (see README \"Proposal columns\") or @row"),
                        ));
                    }
                }
                (None, Some(_)) => {}
                _ => return Err(invalid(k, "needs exactly one of `from` and `value`")),
            }
        }
        Ok(())
    }
}

/// The proposals as this profile wants them: columns mapped, rows grouped.
pub fn project(def: &ProfileDef, t: &OutTable) -> OutTable {
    let n = t.rows();
    let col = |name: &str| t.names.iter().position(|x| x == name);
    // Row order: grouped (stable) when the profile groups, else as given.
    let mut order: Vec<usize> = (0..n).collect();
    let mut first_of_group = vec![true; n];
    let groups: Vec<usize> = def.group_by.iter().filter_map(|g| col(g)).collect();
    if !groups.is_empty() {
        let key = |r: usize| -> Vec<String> {
            groups.iter().map(|&g| cell_text(&t.cols[g], r)).collect()
        };
        order.sort_by_key(|&r| key(r));
        for w in 1..n {
            first_of_group[w] = key(order[w]) != key(order[w - 1]);
        }
    }
    if def.columns.is_empty() {
        let mut out = OutTable::default();
        for (name, c) in t.names.iter().zip(&t.cols) {
            out.push(name.clone(), pick(c, &order, &first_of_group, false));
        }
        return out;
    }
    let mut out = OutTable::default();
    for c in &def.columns {
        let data = match (&c.from, &c.value) {
            (Some(f), _) if f == "@row" => {
                let step = c.step.unwrap_or(1);
                ColData::I64((0..n).map(|k| Some((k as i64 + 1) * step)).collect())
            }
            (Some(f), _) => match col(f) {
                Some(ci) => pick(&t.cols[ci], &order, &first_of_group, c.header),
                None => ColData::Str(vec![None; n]),
            },
            (None, v) => {
                let v = v.clone().unwrap_or_default();
                ColData::Str(
                    (0..n)
                        .map(|k| (!c.header || first_of_group[k]).then(|| v.clone()))
                        .collect(),
                )
            }
        };
        out.push(c.name.clone(), data);
    }
    out
}

fn cell_text(c: &ColData, r: usize) -> String {
    match c {
        ColData::Str(v) => v[r].clone().unwrap_or_default(),
        ColData::F64(v) => v[r].map(|x| x.to_string()).unwrap_or_default(),
        ColData::I64(v) => v[r].map(|x| x.to_string()).unwrap_or_default(),
        ColData::Date(v) => v[r].map(|x| x.to_string()).unwrap_or_default(),
    }
}

fn pick(c: &ColData, order: &[usize], first: &[bool], header: bool) -> ColData {
    let keep = |k: usize| !header || first[k];
    match c {
        ColData::Str(v) => ColData::Str(
            order
                .iter()
                .enumerate()
                .map(|(k, &r)| if keep(k) { v[r].clone() } else { None })
                .collect(),
        ),
        ColData::F64(v) => ColData::F64(
            order
                .iter()
                .enumerate()
                .map(|(k, &r)| if keep(k) { v[r] } else { None })
                .collect(),
        ),
        ColData::I64(v) => ColData::I64(
            order
                .iter()
                .enumerate()
                .map(|(k, &r)| if keep(k) { v[r] } else { None })
                .collect(),
        ),
        ColData::Date(v) => ColData::Date(
            order
                .iter()
                .enumerate()
                .map(|(k, &r)| if keep(k) { v[r] } else { None })
                .collect(),
        ),
    }
}

/// CSV notation of a profile.
pub struct CustomCsv {
    sep: char,
    comma: bool,
    date: String,
    bom: bool,
}

impl CustomCsv {
    pub fn new(def: &ProfileDef) -> Self {
        CustomCsv {
            sep: def.separator_char(),
            comma: def.decimal.as_deref() == Some(","),
            date: def.date_format.clone().unwrap_or_else(|| "%Y-%m-%d".into()),
            bom: def.bom.unwrap_or(false),
        }
    }
}

impl CsvFormat for CustomCsv {
    fn separator(&self) -> char {
        self.sep
    }
    fn bom(&self) -> bool {
        self.bom
    }
    fn number(&self, x: f64) -> String {
        let s = plain_number(x);
        if self.comma {
            s.replace('.', ",")
        } else {
            s
        }
    }
    fn date(&self, d: Day) -> String {
        crate::panel::to_date(d).format(&self.date).to_string()
    }
}

/// Writes the proposals through one profile.
pub fn write(def: &ProfileDef, t: &OutTable, path: &Path, as_of: Day) -> Result<(), OutputError> {
    let p = project(def, t);
    match def.format {
        FileFormat::Csv => p.write_csv(path, &CustomCsv::new(def)),
        FileFormat::Parquet => p.write_parquet(path),
        FileFormat::Xlsx => write_xlsx(&p, path, def.date_format.as_deref(), as_of),
    }
}

/// XLSX with typed cells: numbers as numbers, dates as dates, text as text (text that
/// starts like a formula gets Excel's quote prefix, so it can never be evaluated). Header
/// frozen and bold, autofilter over the data. The document date is the run's as-of date,
/// so the same run gives the same bytes.
pub fn write_xlsx(
    t: &OutTable,
    path: &Path,
    date_format: Option<&str>,
    as_of: Day,
) -> Result<(), OutputError> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let enc = |e: rust_xlsxwriter::XlsxError| OutputError::Encode {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let mut wb = Workbook::new();
    let excel_date = |day: Day| {
        let d = crate::panel::to_date(day);
        ExcelDateTime::from_ymd(
            chrono::Datelike::year(&d).clamp(1900, 9999) as u16,
            chrono::Datelike::month(&d) as u8,
            chrono::Datelike::day(&d) as u8,
        )
        .map_err(enc)
    };
    let created = excel_date(as_of)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let ws = wb.add_worksheet();
    ws.set_name("proposals").map_err(enc)?;
    let bold = Format::new().set_bold();
    let date_fmt = Format::new().set_num_format(date_format.unwrap_or("yyyy-mm-dd"));
    let quoted = Format::new().set_quote_prefix();
    let mut widths: Vec<usize> = t.names.iter().map(|n| n.chars().count()).collect();
    for (c, name) in t.names.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, neutral(name), &bold)
            .map_err(enc)?;
    }
    for r in 0..t.rows() {
        let row = (r + 1) as u32;
        for (c, col) in t.cols.iter().enumerate() {
            let cc = c as u16;
            match col {
                ColData::Str(v) => {
                    if let Some(s) = &v[r] {
                        let s: String = s.chars().filter(|ch| *ch != '\0').collect();
                        widths[c] = widths[c].max(s.chars().count().min(60));
                        if starts_like_formula(&s) {
                            ws.write_string_with_format(row, cc, &s, &quoted)
                                .map_err(enc)?;
                        } else {
                            ws.write_string(row, cc, &s).map_err(enc)?;
                        }
                    }
                }
                ColData::F64(v) => {
                    if let Some(x) = v[r].filter(|x| x.is_finite()) {
                        widths[c] = widths[c].max(plain_number(x).len());
                        ws.write_number(row, cc, x).map_err(enc)?;
                    }
                }
                ColData::I64(v) => {
                    if let Some(x) = v[r] {
                        ws.write_number(row, cc, x as f64).map_err(enc)?;
                    }
                }
                ColData::Date(v) => {
                    if let Some(day) = v[r] {
                        let x = excel_date(day)?;
                        widths[c] = widths[c].max(10);
                        ws.write_datetime_with_format(row, cc, &x, &date_fmt)
                            .map_err(enc)?;
                    }
                }
            }
        }
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, (*w as f64 + 2.0).min(62.0))
            .map_err(enc)?;
    }
    if !t.names.is_empty() {
        ws.set_freeze_panes(1, 0).map_err(enc)?;
        ws.autofilter(0, 0, t.rows() as u32, (t.names.len() - 1) as u16)
            .map_err(enc)?;
    }
    let bytes = wb.save_to_buffer().map_err(enc)?;
    let io = |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::create(path).map_err(io)?;
    std::io::Write::write_all(&mut f, &bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Header names are ours or the profile author's; still never written as a formula.
fn neutral(s: &str) -> String {
    let t = csv_text(s, '\u{1}');
    t.trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_validate() {
        let b = builtin();
        for k in [
            "de",
            "machine",
            "parquet",
            "xlsx",
            "odoo",
            "business_central",
            "sap_pr",
        ] {
            assert!(b.contains_key(k), "{k}");
        }
        let cols = crate::export::proposal_columns();
        for (k, v) in &b {
            v.validate(k, &cols).unwrap();
        }
    }

    #[test]
    fn grouping_blanks_header_columns_after_the_first_row() {
        let mut t = OutTable::default();
        t.push(
            "supplier_id",
            ColData::Str(vec![
                Some("S2".into()),
                Some("S1".into()),
                Some("S2".into()),
            ]),
        )
        .push(
            "sku",
            ColData::Str(vec![Some("a".into()), Some("b".into()), Some("c".into())]),
        );
        let def: ProfileDef = toml::from_str(
            "format='csv'\ngroup_by=['supplier_id']\ncolumns=[{name='v', from='supplier_id', header=true},{name='p', from='sku'},{name='n', from='@row', step=10}]",
        )
        .unwrap();
        let p = project(&def, &t);
        let ColData::Str(v) = &p.cols[0] else {
            panic!()
        };
        assert_eq!(v, &vec![Some("S1".into()), Some("S2".into()), None]);
        let ColData::Str(s) = &p.cols[1] else {
            panic!()
        };
        assert_eq!(
            s,
            &vec![Some("b".into()), Some("a".into()), Some("c".into())]
        );
        let ColData::I64(n) = &p.cols[2] else {
            panic!()
        };
        assert_eq!(n, &vec![Some(10), Some(20), Some(30)]);
    }

    #[test]
    fn bad_profiles_are_config_errors() {
        let cols = crate::export::proposal_columns();
        let bad = |s: &str| {
            toml::from_str::<ProfileDef>(s)
                .unwrap()
                .validate("x", &cols)
                .unwrap_err()
                .to_string()
        };
        assert!(bad("format='csv'\ncolumns=[{name='a', from='nope'}]")
            .contains("not a proposal column"));
        assert!(bad("format='csv'\nfile='../x.csv'").contains("plain file name"));
        assert!(bad("format='csv'\ndate_format='%Q'").contains("strftime"));
        assert!(bad("format='csv'\nseparator=','\ndecimal=','").contains("differ"));
        assert!(
            bad("format='csv'\ncolumns=[{name='a', from='sku', value='x'}]")
                .contains("exactly one")
        );
    }
}
