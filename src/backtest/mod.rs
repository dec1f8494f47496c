//! Backtests: the stages replayed on history cut at past origins, scored against what
//! happened afterwards. Only data known at each origin is used.

pub mod forecast;
pub mod policy;
pub mod returns;
