//! Reading one input file (Parquet or CSV) and pulling typed columns out of it.
//!
//! Every typed getter knows the file, the column and the 1-based row, so a bad value is
//! reported where the user can find it. CSV is read as text and parsed here, so both
//! formats go through the same value rules.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use chrono::{NaiveDate, NaiveDateTime};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use sha2::{Digest, Sha256};

use crate::error::InputError;

/// Seconds since 1970-01-01 00:00 (wall-clock of the export; time zones are not converted).
pub type Secs = i64;

pub const SECS_PER_DAY: i64 = 86_400;

/// Size limits for one input file.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_rows: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: u64::MAX,
            max_rows: u64::MAX,
        }
    }
}

/// A file loaded into memory as Arrow arrays, with the facts the manifest needs.
pub struct Table {
    pub input: &'static str,
    pub path: PathBuf,
    pub sha256: String,
    pub rows: usize,
    /// Rows of the file before this table's first (a batch of `read_batches`).
    first_row: usize,
    /// Rows of the whole file when known up front (the Parquet footer), for sizing.
    rows_hint: usize,
    names: Vec<String>,
    /// Per column, the chunks in file order.
    columns: Vec<Vec<ArrayRef>>,
}

impl Table {
    /// Column names as in the file.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Rows of the whole file (a batch of `read_batches` knows the file's count).
    pub fn file_rows(&self) -> usize {
        self.rows_hint.max(self.first_row + self.rows)
    }
}

fn hash_file(input: &'static str, path: &Path) -> Result<(String, Vec<u8>), InputError> {
    let mut f = File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            InputError::Missing {
                input,
                path: path.to_path_buf(),
            }
        } else {
            InputError::Io {
                input,
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let mut head = Vec::with_capacity(4);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|source| InputError::Io {
            input,
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        if head.len() < 4 {
            head.extend_from_slice(&buf[..n.min(4 - head.len())]);
        }
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    let hex = digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok((hex, head))
}

impl Table {
    /// Reads Parquet (recognised by its magic bytes) or CSV (by a `.csv` extension).
    pub fn read(input: &'static str, path: &Path) -> Result<Table, InputError> {
        Self::read_limited(input, path, Limits::default())
    }

    /// Reads a file unless it is larger than `limits` allow: checked from the file size and
    /// the Parquet footer before anything is decoded, so a runaway export fails with a clear
    /// message instead of an out-of-memory kill.
    pub fn read_limited(
        input: &'static str,
        path: &Path,
        limits: Limits,
    ) -> Result<Table, InputError> {
        Self::read_columns(input, path, limits, None)
    }

    /// Like `read_limited`, but decodes only the Parquet columns named in `wanted` (exact or
    /// case-insensitive match): real exports carry dozens of columns restock never reads.
    /// All names stay known, so a missing-column error still lists what the file has.
    pub fn read_columns(
        input: &'static str,
        path: &Path,
        limits: Limits,
        wanted: Option<&[&str]>,
    ) -> Result<Table, InputError> {
        let mut columns: Vec<Vec<ArrayRef>> = Vec::new();
        let mut t = Self::read_batches(input, path, limits, wanted, |b| {
            columns.resize(b.columns.len(), Vec::new());
            for (all, part) in columns.iter_mut().zip(&b.columns) {
                all.extend(part.iter().cloned());
            }
            Ok(())
        })?;
        t.columns = columns;
        Ok(t)
    }

    /// Reads the file one batch at a time: `f` sees each batch as a table of its rows
    /// (row numbers in its errors count from the file's first row), so a caller that
    /// converts as it goes never holds the whole decoded file. CSV is one batch.
    /// Returns the file's facts (path, hash, row count) without its data.
    pub fn read_batches(
        input: &'static str,
        path: &Path,
        limits: Limits,
        wanted: Option<&[&str]>,
        mut f: impl FnMut(&Table) -> Result<(), InputError>,
    ) -> Result<Table, InputError> {
        if let Ok(md) = std::fs::metadata(path) {
            if md.len() > limits.max_file_bytes {
                return Err(InputError::Other {
                    input,
                    path: path.to_path_buf(),
                    detail: format!(
                        "file is {} MiB, above limits.max_file_mib = {} MiB",
                        md.len() >> 20,
                        limits.max_file_bytes >> 20
                    ),
                });
            }
        }
        let (sha256, head) = hash_file(input, path)?;
        let is_csv = path
            .extension()
            .map(|e| e.eq_ignore_ascii_case("csv"))
            .unwrap_or(false);
        if head.is_empty() {
            return Err(InputError::Empty {
                input,
                path: path.to_path_buf(),
            });
        }
        let mut t = Table {
            input,
            path: path.to_path_buf(),
            sha256,
            rows: 0,
            first_row: 0,
            rows_hint: 0,
            names: Vec::new(),
            columns: Vec::new(),
        };
        let mut total = 0usize;
        let mut sink = |names: &[String], rows: usize, hint: usize, columns: Vec<Vec<ArrayRef>>| {
            if t.names.is_empty() {
                t.names = names.to_vec();
            }
            t.rows_hint = hint;
            t.first_row = total;
            t.rows = rows;
            t.columns = columns;
            total += rows;
            f(&t)
        };
        if is_csv {
            let (names, columns, rows) = read_csv(input, path)?;
            sink(&names, rows, rows, columns)?;
        } else {
            if head != b"PAR1" {
                return Err(InputError::NotParquet {
                    input,
                    path: path.to_path_buf(),
                    detail: "the file does not start with the Parquet magic bytes 'PAR1' \
                             (name it *.csv if it is CSV)"
                        .into(),
                });
            }
            parquet_batches(input, path, limits.max_rows, wanted, &mut sink)?;
        }
        if total == 0 {
            return Err(InputError::Empty {
                input,
                path: path.to_path_buf(),
            });
        }
        t.rows = total;
        t.first_row = 0;
        t.columns = vec![Vec::new(); t.names.len()];
        Ok(t)
    }

    pub fn column_names(&self) -> &[String] {
        &self.names
    }

    /// Looks a column up by exact name, then case-insensitively.
    fn find(&self, name: &str) -> Option<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .or_else(|| self.names.iter().position(|n| n.eq_ignore_ascii_case(name)))
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    fn locate(
        &self,
        name: &str,
        canonical: &'static str,
        required: bool,
    ) -> Result<Option<usize>, InputError> {
        match self.find(name) {
            // Every decoded column has a chunk (empty files are refused on reading).
            Some(i) if self.columns[i].is_empty() => Err(InputError::Other {
                input: self.input,
                path: self.path.clone(),
                detail: format!("column '{name}' was not decoded (not among the wanted columns)"),
            }),
            Some(i) => Ok(Some(i)),
            None if required => Err(InputError::MissingColumn {
                input: self.input,
                path: self.path.clone(),
                column: name.to_string(),
                canonical,
                present: self.names.join(", "),
            }),
            None => Ok(None),
        }
    }

    fn wrong_type(&self, column: &str, found: &DataType, expected: &'static str) -> InputError {
        InputError::WrongType {
            input: self.input,
            path: self.path.clone(),
            column: column.to_string(),
            found: found.to_string(),
            expected,
        }
    }

    fn bad_value(&self, column: &str, row: usize, detail: String) -> InputError {
        InputError::BadValue {
            input: self.input,
            path: self.path.clone(),
            column: column.to_string(),
            row: self.first_row + row + 1,
            detail,
        }
    }

    /// Text column; numbers are rendered without a spurious ".0" (IDs stored as floats).
    pub fn strings(
        &self,
        name: &str,
        canonical: &'static str,
        required: bool,
    ) -> Result<Option<Vec<Option<String>>>, InputError> {
        let mut out = Vec::with_capacity(self.rows);
        let found = self.each_str(name, canonical, required, |v| {
            out.push(v.map(str::to_string))
        })?;
        Ok(found.then_some(out))
    }

    /// Text column as codes into a dictionary of its distinct values, appended to `into`
    /// (one dictionary across the batches of a file): what the large columns of an order
    /// file (order id, SKU, customer) are read as, one `u32` a row.
    pub fn interned_into(
        &self,
        name: &str,
        canonical: &'static str,
        required: bool,
        into: &mut Codes,
    ) -> Result<bool, InputError> {
        let Codes { codes, dict } = into;
        let start = codes.len();
        if self.first_row == 0 {
            codes.reserve_exact(self.file_rows());
        }
        self.each_str(name, canonical, required, |v| {
            codes.push(v.map_or(Codes::NULL, |s| dict.intern(s)));
            // A column of mostly distinct values (order ids) will hold about one name per
            // row of the file: size the dictionary once instead of rehashing it ~24 times.
            if codes.len() - start == 4096 && dict.len() > 2048 && self.first_row == 0 {
                dict.reserve(self.file_rows().saturating_sub(dict.len()));
            }
        })
    }

    /// Calls `f` with every value of a text column in row order; false if the optional
    /// column is absent.
    fn each_str(
        &self,
        name: &str,
        canonical: &'static str,
        required: bool,
        mut f: impl FnMut(Option<&str>),
    ) -> Result<bool, InputError> {
        let Some(ci) = self.locate(name, canonical, required)? else {
            return Ok(false);
        };
        let mut buf = String::new();
        for chunk in &self.columns[ci] {
            match chunk.data_type() {
                DataType::Utf8 => chunk.as_string::<i32>().iter().for_each(&mut f),
                DataType::LargeUtf8 => chunk.as_string::<i64>().iter().for_each(&mut f),
                DataType::Utf8View => chunk.as_string_view().iter().for_each(&mut f),
                DataType::Dictionary(_, v)
                    if matches!(**v, DataType::Utf8 | DataType::LargeUtf8) =>
                {
                    let c = arrow::compute::cast(chunk, &DataType::Utf8)
                        .map_err(|_| self.wrong_type(name, chunk.data_type(), "text"))?;
                    c.as_string::<i32>().iter().for_each(&mut f);
                }
                DataType::Float32 | DataType::Float64 => {
                    let c = arrow::compute::cast(chunk, &DataType::Float64)
                        .map_err(|_| self.wrong_type(name, chunk.data_type(), "text"))?;
                    for v in c.as_primitive::<Float64Type>().iter() {
                        f(v.map(|x| {
                            use std::fmt::Write;
                            buf.clear();
                            let _ = if x.fract() == 0.0 && x.abs() < 1e15 {
                                write!(buf, "{}", x as i64)
                            } else {
                                write!(buf, "{x}")
                            };
                            buf.as_str()
                        }));
                    }
                }
                t if t.is_integer() => {
                    let c = arrow::compute::cast(chunk, &DataType::Int64)
                        .map_err(|_| self.wrong_type(name, t, "text"))?;
                    for v in c.as_primitive::<Int64Type>().iter() {
                        f(v.map(|x| {
                            use std::fmt::Write;
                            buf.clear();
                            let _ = write!(buf, "{x}");
                            buf.as_str()
                        }));
                    }
                }
                t => return Err(self.wrong_type(name, t, "text")),
            }
        }
        Ok(true)
    }

    /// Numeric column. Text is accepted when it holds numbers ("12.5" or "12,5").
    pub fn f64s(
        &self,
        name: &str,
        canonical: &'static str,
        required: bool,
    ) -> Result<Option<Vec<Option<f64>>>, InputError> {
        let Some(ci) = self.locate(name, canonical, required)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(self.rows);
        for chunk in &self.columns[ci] {
            let t = chunk.data_type();
            if is_numeric(t) {
                let c = arrow::compute::cast(chunk, &DataType::Float64)
                    .map_err(|_| self.wrong_type(name, t, "a number"))?;
                let a = c.as_primitive::<Float64Type>();
                for (i, v) in a.iter().enumerate() {
                    if let Some(x) = v {
                        if !x.is_finite() {
                            return Err(self.bad_value(
                                name,
                                out.len() + i,
                                format!("{x} is not a finite number"),
                            ));
                        }
                    }
                }
                out.extend(a.iter());
            } else if matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
                let c = arrow::compute::cast(chunk, &DataType::Utf8)
                    .map_err(|_| self.wrong_type(name, t, "a number"))?;
                for v in c.as_string::<i32>().iter() {
                    let row = out.len();
                    match v.map(str::trim) {
                        None | Some("") => out.push(None),
                        Some(s) => match parse_number(s) {
                            Some(x) => out.push(Some(x)),
                            None => {
                                return Err(self.bad_value(
                                    name,
                                    row,
                                    format!("'{}' is not a number", clip(s)),
                                ))
                            }
                        },
                    }
                }
            } else {
                return Err(self.wrong_type(name, t, "a number"));
            }
        }
        Ok(Some(out))
    }

    /// Date or timestamp column: Date32/Date64, Timestamp (any unit), or ISO / German text.
    pub fn datetimes(
        &self,
        name: &str,
        canonical: &'static str,
        required: bool,
    ) -> Result<Option<Vec<Option<Secs>>>, InputError> {
        let Some(ci) = self.locate(name, canonical, required)? else {
            return Ok(None);
        };
        let mut out: Vec<Option<Secs>> = Vec::with_capacity(self.rows);
        for chunk in &self.columns[ci] {
            match chunk.data_type() {
                DataType::Date32 => out.extend(
                    chunk
                        .as_primitive::<Date32Type>()
                        .iter()
                        .map(|v| v.map(|d| d as i64 * SECS_PER_DAY)),
                ),
                DataType::Date64 => out.extend(
                    chunk
                        .as_primitive::<Date64Type>()
                        .iter()
                        .map(|v| v.map(|ms| ms.div_euclid(1000))),
                ),
                DataType::Timestamp(unit, _) => {
                    let div: i64 = match unit {
                        TimeUnit::Second => 1,
                        TimeUnit::Millisecond => 1_000,
                        TimeUnit::Microsecond => 1_000_000,
                        TimeUnit::Nanosecond => 1_000_000_000,
                    };
                    let vals: Vec<Option<i64>> = match unit {
                        TimeUnit::Second => {
                            chunk.as_primitive::<TimestampSecondType>().iter().collect()
                        }
                        TimeUnit::Millisecond => chunk
                            .as_primitive::<TimestampMillisecondType>()
                            .iter()
                            .collect(),
                        TimeUnit::Microsecond => chunk
                            .as_primitive::<TimestampMicrosecondType>()
                            .iter()
                            .collect(),
                        TimeUnit::Nanosecond => chunk
                            .as_primitive::<TimestampNanosecondType>()
                            .iter()
                            .collect(),
                    };
                    out.extend(vals.into_iter().map(|v| v.map(|x| x.div_euclid(div))));
                }
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    let c = arrow::compute::cast(chunk, &DataType::Utf8)
                        .map_err(|_| self.wrong_type(name, chunk.data_type(), "a date"))?;
                    for v in c.as_string::<i32>().iter() {
                        let row = out.len();
                        match v.map(str::trim) {
                            None | Some("") => out.push(None),
                            Some(s) => match parse_datetime(s) {
                                Some(x) => out.push(Some(x)),
                                None => {
                                    return Err(self.bad_value(
                                        name,
                                        row,
                                        format!(
                                            "'{}' is not a date (expected YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] or DD.MM.YYYY)",
                                            clip(s)
                                        ),
                                    ))
                                }
                            },
                        }
                    }
                }
                t => return Err(self.wrong_type(name, t, "a date")),
            }
        }
        Ok(Some(out))
    }

    /// Boolean-ish column: booleans, 0/1, or yes/no/true/false/ja/nein text.
    pub fn bools(
        &self,
        name: &str,
        canonical: &'static str,
    ) -> Result<Option<Vec<Option<bool>>>, InputError> {
        let Some(ci) = self.locate(name, canonical, false)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(self.rows);
        for chunk in &self.columns[ci] {
            match chunk.data_type() {
                DataType::Boolean => out.extend(chunk.as_boolean().iter()),
                t if is_numeric(t) => {
                    let c = arrow::compute::cast(chunk, &DataType::Float64)
                        .map_err(|_| self.wrong_type(name, t, "yes/no"))?;
                    out.extend(
                        c.as_primitive::<Float64Type>()
                            .iter()
                            .map(|v| v.map(|x| x != 0.0)),
                    );
                }
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    let c = arrow::compute::cast(chunk, &DataType::Utf8)
                        .map_err(|_| self.wrong_type(name, chunk.data_type(), "yes/no"))?;
                    for v in c.as_string::<i32>().iter() {
                        let row = out.len();
                        let b = match v.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
                            None | Some("") => None,
                            Some("1" | "true" | "yes" | "y" | "ja" | "j" | "x") => Some(true),
                            Some("0" | "false" | "no" | "n" | "nein") => Some(false),
                            Some(s) => {
                                return Err(self.bad_value(
                                    name,
                                    row,
                                    format!("'{}' is not yes/no", clip(s)),
                                ))
                            }
                        };
                        out.push(b);
                    }
                }
                t => return Err(self.wrong_type(name, t, "yes/no")),
            }
        }
        Ok(Some(out))
    }
}

/// A text column as dictionary codes (`NULL` for an empty cell).
#[derive(Debug, Default)]
pub struct Codes {
    pub codes: Vec<u32>,
    pub dict: super::Dict,
}

impl Codes {
    pub const NULL: u32 = super::NO_CODE;

    pub fn code(&self, row: usize) -> Option<u32> {
        let c = self.codes[row];
        (c != Self::NULL).then_some(c)
    }

    pub fn get(&self, row: usize) -> Option<&str> {
        self.code(row).map(|c| self.dict.name(c))
    }
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
}

fn clip(s: &str) -> String {
    let mut c: String = s.chars().take(60).collect();
    if c.len() < s.len() {
        c.push('…');
    }
    c.escape_debug().to_string()
}

/// "12.5", "12,5", "1.234,5" (German thousands) and "1,234.5" are all numbers.
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let has_dot = s.contains('.');
    let has_comma = s.contains(',');
    let norm = match (has_dot, has_comma) {
        (false, true) => s.replace(',', "."),
        (true, true) => {
            if s.rfind(',') > s.rfind('.') {
                s.replace('.', "").replace(',', ".")
            } else {
                s.replace(',', "")
            }
        }
        _ => return None,
    };
    norm.parse::<f64>().ok().filter(|v| v.is_finite())
}

pub fn parse_datetime(s: &str) -> Option<Secs> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, f) {
            return Some(dt.and_utc().timestamp());
        }
    }
    // Fractional seconds / trailing zone: parse the leading part.
    if s.len() > 19 && s.is_char_boundary(19) {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&s[..19], "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(&s[..19], "%Y-%m-%d %H:%M:%S"))
        {
            return Some(dt.and_utc().timestamp());
        }
    }
    for f in ["%Y-%m-%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc().timestamp());
        }
    }
    None
}

/// Column names, per-column chunks, row count.
type Loaded = (Vec<String>, Vec<Vec<ArrayRef>>, usize);

/// The message of a panic inside the Parquet reader.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown failure".into())
}

/// Receives (column names, batch rows, file rows, columns of the batch).
type Sink<'a> =
    dyn FnMut(&[String], usize, usize, Vec<Vec<ArrayRef>>) -> Result<(), InputError> + 'a;

fn parquet_batches(
    input: &'static str,
    path: &Path,
    max_rows: u64,
    wanted: Option<&[&str]>,
    sink: &mut Sink<'_>,
) -> Result<(), InputError> {
    let not_parquet = |detail: String| InputError::NotParquet {
        input,
        path: path.to_path_buf(),
        detail,
    };
    // The parquet crate panics on some corrupt files (found by fuzzing: a negative column
    // chunk offset); a bad export must be an input error, not a crash. Only the reader runs
    // under catch_unwind, not the caller's conversion.
    let corrupt = |p| {
        not_parquet(format!(
            "corrupt file (the Parquet reader failed: {})",
            panic_text(p)
        ))
    };
    let f = File::open(path).map_err(|source| InputError::Io {
        input,
        path: path.to_path_buf(),
        source,
    })?;
    let builder = std::panic::catch_unwind(|| ParquetRecordBatchReaderBuilder::try_new(f))
        .map_err(corrupt)?
        .map_err(|e| not_parquet(e.to_string()))?;
    let n = builder.metadata().file_metadata().num_rows().max(0) as u64;
    if n > max_rows {
        return Err(InputError::Other {
            input,
            path: path.to_path_buf(),
            detail: format!("{n} rows, above limits.max_rows = {max_rows}"),
        });
    }
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    // Top-level columns to decode: the wanted ones, or all when none of them is there
    // (then the getter reports the missing column with the full list).
    let keep: Vec<usize> = match wanted {
        Some(w) => (0..names.len())
            .filter(|&i| w.iter().any(|n| names[i].eq_ignore_ascii_case(n)))
            .collect(),
        None => Vec::new(),
    };
    let builder = if keep.is_empty() {
        builder
    } else {
        let mask = ProjectionMask::roots(builder.parquet_schema(), keep.iter().copied());
        builder.with_projection(mask)
    };
    let slots: Vec<usize> = if keep.is_empty() {
        (0..names.len()).collect()
    } else {
        keep
    };
    let mut reader = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        builder.with_batch_size(64 * 1024).build()
    }))
    .map_err(corrupt)?
    .map_err(|e| not_parquet(e.to_string()))?;
    loop {
        let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next()))
            .map_err(corrupt)?;
        let Some(batch) = next else {
            break;
        };
        let batch: RecordBatch = batch.map_err(|e| not_parquet(e.to_string()))?;
        let mut columns: Vec<Vec<ArrayRef>> = vec![Vec::new(); names.len()];
        for (c, &slot) in batch.columns().iter().zip(&slots) {
            columns[slot].push(c.clone());
        }
        sink(&names, batch.num_rows(), n as usize, columns)?;
    }
    Ok(())
}

fn read_csv(input: &'static str, path: &Path) -> Result<Loaded, InputError> {
    let bad = |detail: String| InputError::BadCsv {
        input,
        path: path.to_path_buf(),
        detail,
    };
    let mut bytes = std::fs::read(path).map_err(|source| InputError::Io {
        input,
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    // German exports use ';'; pick whichever separator the header line uses more.
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let semis = first_line.iter().filter(|b| **b == b';').count();
    let commas = first_line.iter().filter(|b| **b == b',').count();
    let delim = if semis > commas { b';' } else { b',' };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .flexible(false)
        .from_reader(bytes.as_slice());
    let names: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let mut cols: Vec<Vec<Option<String>>> = vec![Vec::new(); names.len()];
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("row {}: {e}", i + 1)))?;
        for (c, v) in rec.iter().enumerate() {
            let v = v.trim();
            cols[c].push(if v.is_empty() {
                None
            } else {
                Some(v.to_string())
            });
        }
    }
    let rows = cols.first().map(|c| c.len()).unwrap_or(0);
    let columns = cols
        .into_iter()
        .map(|c| vec![Arc::new(StringArray::from(c)) as ArrayRef])
        .collect();
    Ok((names, columns, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_both_notations() {
        assert_eq!(parse_number("12,5"), Some(12.5));
        assert_eq!(parse_number("1.234,5"), Some(1234.5));
        assert_eq!(parse_number("1,234.5"), Some(1234.5));
        assert_eq!(parse_number("-3"), Some(-3.0));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("inf"), None);
    }

    #[test]
    fn dates_in_common_notations() {
        let d = parse_datetime("2011-12-09").unwrap();
        assert_eq!(d, parse_datetime("09.12.2011").unwrap());
        assert_eq!(
            parse_datetime("2011-12-09 08:26").unwrap() - d,
            8 * 3600 + 26 * 60
        );
        assert_eq!(
            parse_datetime("2011-12-09T08:26:00.000Z").unwrap() - d,
            8 * 3600 + 26 * 60
        );
        assert!(parse_datetime("2011-13-09").is_none());
        assert!(parse_datetime("yesterday").is_none());
    }

    /// Writes one Parquet file with a text column `d` and a numeric column `q`.
    fn parquet(path: &Path, d: Vec<Option<String>>, q: Vec<f64>) {
        use arrow::array::Float64Array;
        use arrow::datatypes::{Field, Schema};
        let schema = Arc::new(Schema::new(vec![
            Field::new("d", DataType::Utf8, true),
            Field::new("q", DataType::Float64, true),
            Field::new("unused", DataType::Float64, true),
        ]));
        let n = q.len();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(d)),
                Arc::new(Float64Array::from(q)),
                Arc::new(Float64Array::from(vec![1.0; n])),
            ],
        )
        .unwrap();
        let f = File::create(path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    #[test]
    fn batches_report_rows_of_the_file_and_decode_only_wanted_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        // Three batches of 64 Ki rows; a bad date far into the third.
        let n = 150_000;
        let mut d: Vec<Option<String>> = (0..n).map(|_| Some("2024-01-02".into())).collect();
        d[140_000] = Some("not a date".into());
        parquet(&path, d, (0..n).map(|i| i as f64).collect());
        let mut batches = 0;
        let mut q = Vec::new();
        let t = Table::read_batches("orders", &path, Limits::default(), Some(&["Q"]), |b| {
            batches += 1;
            q.extend(b.f64s("q", "quantity", true)?.unwrap_or_default());
            // Not decoded: asking for it is an error, not an empty column.
            assert!(b.f64s("unused", "x", true).is_err());
            Ok(())
        })
        .unwrap();
        assert_eq!(batches, 3);
        assert_eq!(t.rows, n);
        assert_eq!(q.len(), n);
        assert_eq!(q[n - 1], Some((n - 1) as f64));
        let res = Table::read_batches("orders", &path, Limits::default(), Some(&["d"]), |b| {
            b.datetimes("d", "order_date", true).map(|_| ())
        });
        let Err(err) = res else {
            panic!("a bad date must fail the read")
        };
        let msg = err.to_string();
        assert!(msg.contains("row 140001"), "{msg}");
        assert!(msg.contains("not a date"), "{msg}");
        // A missing column still lists every column of the file.
        let err = Table::read_columns("orders", &path, Limits::default(), Some(&["sku"]))
            .unwrap()
            .strings("sku", "sku", true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unused"), "{err}");
    }

    #[test]
    fn interned_codes_share_one_dictionary_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        let n = 100_000;
        // Mostly distinct (sizes the dictionary up front), with repeats and blanks.
        let d: Vec<Option<String>> = (0..n)
            .map(|i| (i % 7 != 0).then(|| format!("O{}", i % 90_000)))
            .collect();
        parquet(&path, d.clone(), vec![0.0; n]);
        let mut c = Codes::default();
        Table::read_batches("orders", &path, Limits::default(), None, |b| {
            b.interned_into("d", "order_id", true, &mut c).map(|_| ())
        })
        .unwrap();
        assert_eq!(c.codes.len(), n);
        for (i, v) in d.iter().enumerate() {
            assert_eq!(c.get(i), v.as_deref(), "row {i}");
        }
        let distinct: std::collections::HashSet<_> = d.iter().flatten().collect();
        assert_eq!(c.dict.len(), distinct.len());
        assert_eq!(c.dict.get("O5"), c.code(5));
        assert_eq!(c.dict.get("nope"), None);
    }
}
