//! Crate-level error type and the exit-code contract.
//!
//! Every fatal failure maps to one documented exit code (see README, "Exit codes"),
//! so cron and monitoring can tell a bad export from a bad config from a full disk.

use std::path::PathBuf;

/// Exit codes; the README table is generated from the same numbers and the tests check them.
pub mod exit {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const CONFIG: i32 = 3;
    pub const INPUT: i32 = 4;
    pub const CHECK_FAILED: i32 = 5;
    pub const OUTPUT: i32 = 6;
    pub const LOCKED: i32 = 7;
    pub const GUARD: i32 = 8;
}

/// An input problem, located as precisely as the data allows.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{input} file {path}: not found")]
    Missing { input: &'static str, path: PathBuf },
    #[error("{input} file {path}: cannot be read: {source}")]
    Io {
        input: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{input} file {path}: not a readable Parquet file: {detail}")]
    NotParquet {
        input: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("{input} file {path}: not a readable CSV file: {detail}")]
    BadCsv {
        input: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("{input} file {path}: the file has no data rows")]
    Empty { input: &'static str, path: PathBuf },
    #[error("{input} file {path}: required column '{column}' (canonical '{canonical}') not found; columns present: {present}")]
    MissingColumn {
        input: &'static str,
        path: PathBuf,
        column: String,
        canonical: &'static str,
        present: String,
    },
    #[error("{input} file {path}, column '{column}': type {found} cannot be read as {expected}")]
    WrongType {
        input: &'static str,
        path: PathBuf,
        column: String,
        found: String,
        expected: &'static str,
    },
    #[error("{input} file {path}, column '{column}', row {row}: {detail}")]
    BadValue {
        input: &'static str,
        path: PathBuf,
        column: String,
        /// 1-based data row (header not counted).
        row: usize,
        detail: String,
    },
    #[error("{input} file {path}: {detail}")]
    Other {
        input: &'static str,
        path: PathBuf,
        detail: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("pipeline file {path}: cannot be read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pipeline file {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("setting '{key}': {detail}")]
    Invalid { key: String, detail: String },
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("output {path}: {detail}")]
    Encode { path: PathBuf, detail: String },
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("data check failed: {0}")]
    CheckFailed(String),
    #[error("{0}")]
    Locked(String),
    #[error("guard tripped, nothing written: {0}")]
    Guard(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl InputError {
    fn path_mut(&mut self) -> &mut PathBuf {
        match self {
            InputError::Missing { path, .. }
            | InputError::Io { path, .. }
            | InputError::NotParquet { path, .. }
            | InputError::BadCsv { path, .. }
            | InputError::Empty { path, .. }
            | InputError::MissingColumn { path, .. }
            | InputError::WrongType { path, .. }
            | InputError::BadValue { path, .. }
            | InputError::Other { path, .. } => path,
        }
    }
}

impl Error {
    /// Names a remote input by its URL rather than by the staged local copy that was read,
    /// so the message points at the object the user gave.
    /// `sources`: (local copy, URL) of every staged input.
    pub fn with_sources(mut self, sources: &[(PathBuf, String)]) -> Self {
        if let Error::Input(e) = &mut self {
            let path = e.path_mut();
            *path = crate::config::source_in(sources, path);
        }
        self
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => exit::INPUT,
            Error::Config(_) => exit::CONFIG,
            Error::Output(_) => exit::OUTPUT,
            Error::CheckFailed(_) => exit::CHECK_FAILED,
            Error::Locked(_) => exit::LOCKED,
            Error::Guard(_) => exit::GUARD,
            Error::Internal(_) => exit::INTERNAL,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
