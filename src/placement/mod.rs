//! Placement: how much memory a model needs, and (later) where models should run.

pub mod diff;
pub mod gguf;
pub mod memory;
pub mod record;
