//! restock: a batch engine that turns order, return and stock history into replenishment
//! proposals an ERP can import.
//!
//! The pipeline is one-way; each stage is a module that takes immutable input and config:
//! [`ingest`] → [`panel`] → [`forecast`] → [`replenish`] → [`export`], wired by [`pipeline`].
//! Only `ingest` reads files and only `export` (and `sample`) write them.

// Row-indexed loops over parallel column vectors read more clearly than zipped iterators.
#![allow(clippy::needless_range_loop)]

pub mod backtest;
pub mod check;
pub mod cli;
pub mod config;
pub mod error;
pub mod export;
pub mod forecast;
pub mod ingest;
pub mod monitor;
pub mod panel;
pub mod pipeline;
pub mod progress;
pub mod remote;
pub mod replenish;
pub mod report;
pub mod returns;
pub mod sample;
pub mod shard;

pub use error::{Error, Result};
