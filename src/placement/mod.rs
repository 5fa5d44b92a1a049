//! Placement: how much memory a model needs, where models run (the record), and where they should
//! (the weekly diff, judged by a replay of the span's demand).

pub mod cost_diff;
pub mod diff;
pub mod gguf;
pub mod memory;
pub mod record;
pub mod replay;
