//! Telemetry: the per-node sample and its collectors. Parsers for macOS command outputs live in
//! [`macos`] and are tested everywhere on captured outputs; [`linux`] reads `/proc` and `/sys`.

pub mod linux;
pub mod macos;
pub mod spool;

use serde::{Deserialize, Serialize};

/// Version of the sample layout (stored with every sample).
pub const SCHEMA_VERSION: u32 = 1;

/// Memory of one node at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub total_bytes: Option<u64>,
    pub used_bytes: Option<u64>,
    pub free_bytes: Option<u64>,
    /// Held by the memory compressor (macOS).
    pub compressed_bytes: Option<u64>,
    pub swap_total_bytes: Option<u64>,
    pub swap_used_bytes: Option<u64>,
    /// `normal`, `warn` or `critical` (macOS memorystatus), or from PSI on Linux.
    pub pressure: Option<String>,
    /// Cumulative pages swapped in/out since boot.
    pub swapins: Option<u64>,
    pub swapouts: Option<u64>,
}

/// Temperatures and throttling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thermal {
    /// Hottest sensor, °C.
    pub max_celsius: Option<f64>,
    /// `nominal`, `moderate`, `heavy`, … or a CPU speed limit below 100 %.
    pub pressure: Option<String>,
    /// CPU speed limit in percent (100 = not throttled).
    pub cpu_speed_limit: Option<u32>,
}
