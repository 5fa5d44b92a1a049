//! Monthly reporting and the cost model it shares with `status` and `placement-diff`.

pub mod cost;
