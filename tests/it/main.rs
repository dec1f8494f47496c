//! One integration-test binary: end-to-end runs of the `restock` binary.
#![allow(clippy::needless_range_loop)]

mod bad_input;
mod conformance;
mod dominicks;
mod forecast_backtest;
mod helpers;
mod libreoffice;
mod online_retail;
mod policies;
mod policy_backtest;
mod returns;
mod safety;
mod sample_run;
mod shard;
