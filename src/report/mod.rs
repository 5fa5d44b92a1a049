//! Monthly reporting and the cost model it shares with `status` and `placement-diff`.

pub mod chart;
pub mod cost;
pub mod mail;
pub mod monthly;
#[cfg(feature = "pdf")]
pub mod render;
pub mod schedule;
