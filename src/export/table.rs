//! One column-oriented output table, written as Parquet or as CSV through a profile.
//!
//! Both formats come from the same definition, so the CSV a planner opens and the Parquet
//! an analyst reads can never disagree on columns or values.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::OutputError;
use crate::ingest::Day;

pub enum ColData {
    Str(Vec<Option<String>>),
    F64(Vec<Option<f64>>),
    I64(Vec<Option<i64>>),
    Date(Vec<Option<Day>>),
}

impl ColData {
    fn len(&self) -> usize {
        match self {
            ColData::Str(v) => v.len(),
            ColData::F64(v) => v.len(),
            ColData::I64(v) => v.len(),
            ColData::Date(v) => v.len(),
        }
    }
}

#[derive(Default)]
pub struct OutTable {
    pub names: Vec<String>,
    pub cols: Vec<ColData>,
}

impl OutTable {
    pub fn push(&mut self, name: impl Into<String>, col: ColData) -> &mut Self {
        self.names.push(name.into());
        self.cols.push(col);
        self
    }

    pub fn rows(&self) -> usize {
        self.cols.first().map(ColData::len).unwrap_or(0)
    }

    pub fn to_batch(&self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let mut fields = Vec::with_capacity(self.cols.len());
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.cols.len());
        for (n, c) in self.names.iter().zip(&self.cols) {
            let (dt, a): (DataType, ArrayRef) = match c {
                ColData::Str(v) => (DataType::Utf8, Arc::new(StringArray::from(v.clone()))),
                ColData::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
                ColData::I64(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
                ColData::Date(v) => (DataType::Date32, Arc::new(Date32Array::from(v.clone()))),
            };
            fields.push(Field::new(n, dt, true));
            arrays.push(a);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
    }

    pub fn write_parquet(&self, path: &Path) -> Result<(), OutputError> {
        let enc = |e: String| OutputError::Encode {
            path: path.to_path_buf(),
            detail: e,
        };
        let batch = self.to_batch().map_err(|e| enc(e.to_string()))?;
        let f = File::create(path).map_err(|source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).map_err(|e| enc(e.to_string()))?,
            ))
            .build();
        let mut w =
            ArrowWriter::try_new(f, batch.schema(), Some(props)).map_err(|e| enc(e.to_string()))?;
        w.write(&batch).map_err(|e| enc(e.to_string()))?;
        let f = w.into_inner().map_err(|e| enc(e.to_string()))?;
        f.sync_all().map_err(|source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(())
    }

    pub fn write_csv(&self, path: &Path, profile: &dyn CsvFormat) -> Result<(), OutputError> {
        let io = |source| OutputError::Io {
            path: path.to_path_buf(),
            source,
        };
        let f = File::create(path).map_err(io)?;
        let mut w = BufWriter::new(f);
        let sep = profile.separator();
        let mut line = String::new();
        if profile.bom() {
            w.write_all(&[0xEF, 0xBB, 0xBF]).map_err(io)?;
        }
        for (i, n) in self.names.iter().enumerate() {
            if i > 0 {
                line.push(sep);
            }
            line.push_str(&csv_text(n, sep));
        }
        line.push_str("\r\n");
        w.write_all(line.as_bytes()).map_err(io)?;
        for r in 0..self.rows() {
            line.clear();
            for (i, c) in self.cols.iter().enumerate() {
                if i > 0 {
                    line.push(sep);
                }
                match c {
                    ColData::Str(v) => line.push_str(
                        &v[r]
                            .as_deref()
                            .map(|s| csv_text(s, sep))
                            .unwrap_or_default(),
                    ),
                    ColData::F64(v) => {
                        line.push_str(&v[r].map(|x| profile.number(x)).unwrap_or_default())
                    }
                    ColData::I64(v) => {
                        line.push_str(&v[r].map(|x| x.to_string()).unwrap_or_default())
                    }
                    ColData::Date(v) => {
                        line.push_str(&v[r].map(|d| profile.date(d)).unwrap_or_default())
                    }
                }
            }
            line.push_str("\r\n");
            w.write_all(line.as_bytes()).map_err(io)?;
        }
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        Ok(())
    }
}

/// How numbers, dates and separators look in a CSV (the export-profile seam).
pub trait CsvFormat {
    fn separator(&self) -> char;
    fn bom(&self) -> bool;
    fn number(&self, x: f64) -> String;
    fn date(&self, d: Day) -> String;
}

/// Up to 4 decimals, no trailing zeros, no thousands separator (ERP importers choke on them).
pub fn plain_number(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let mut s = format!("{x:.4}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

pub struct GermanCsv;

impl CsvFormat for GermanCsv {
    fn separator(&self) -> char {
        ';'
    }
    fn bom(&self) -> bool {
        true
    }
    fn number(&self, x: f64) -> String {
        plain_number(x).replace('.', ",")
    }
    fn date(&self, d: Day) -> String {
        crate::panel::to_date(d).format("%d.%m.%Y").to_string()
    }
}

pub struct MachineCsv;

impl CsvFormat for MachineCsv {
    fn separator(&self) -> char {
        ','
    }
    fn bom(&self) -> bool {
        false
    }
    fn number(&self, x: f64) -> String {
        plain_number(x)
    }
    fn date(&self, d: Day) -> String {
        crate::panel::to_date(d).format("%Y-%m-%d").to_string()
    }
}

/// Text a spreadsheet would evaluate as a formula (or that hides a control character).
pub fn starts_like_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Quotes when needed and neutralises formula injection: a text cell starting with
/// `=`, `+`, `-`, `@`, tab or CR gets a leading apostrophe, so Excel/LibreOffice show it
/// as text instead of evaluating it.
pub fn csv_text(s: &str, sep: char) -> String {
    let s: String = s.chars().filter(|c| *c != '\0').collect();
    let s = if starts_like_formula(&s) {
        format!("'{s}")
    } else {
        s
    };
    if s.contains([sep, '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_numbers_and_dates() {
        let g = GermanCsv;
        assert_eq!(g.number(1234.5), "1234,5");
        assert_eq!(g.number(12.0), "12");
        assert_eq!(g.number(-0.00001), "0");
        assert_eq!(g.number(0.1 + 0.2), "0,3");
        assert_eq!(
            g.date(crate::panel::from_date(
                chrono::NaiveDate::from_ymd_opt(2011, 12, 9).unwrap()
            )),
            "09.12.2011"
        );
    }

    #[test]
    fn injection_and_quoting() {
        assert_eq!(
            csv_text("=HYPERLINK(\"x\")", ';'),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(csv_text("a;b", ';'), "\"a;b\"");
        assert_eq!(csv_text("a;b", ','), "a;b");
        assert_eq!(csv_text("-5", ';'), "'-5");
        assert_eq!(csv_text("ok\0", ';'), "ok");
    }
}
