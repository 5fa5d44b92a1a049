//! The node config: what `deploy` writes to `<garnet home>/etc/node.json` and the monitor reads.
//! It holds no secret itself, only the paths of the 0600 files that do.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::inventory::StoreSpec;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub cluster: String,
    pub node: String,
    /// Seconds between samples.
    pub interval_secs: u32,
    /// Where the monitor's health endpoint listens (loopback).
    pub health_listen: String,
    pub spool_dir: PathBuf,
    pub spool_max: usize,
    pub store: StoreSpec,
    /// The router on this node, whose stats become the per-model part of each sample.
    #[serde(default)]
    pub router: Option<RouterAdmin>,
    /// The loaders on this node, watched for start/stop events.
    #[serde(default)]
    pub loaders: Vec<LoaderWatch>,
    /// A command printing this node's watts from its metered PDU outlet (`nodes[].power_command`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_command: Option<String>,
    /// This node's monitor compacts the cluster's telemetry into Parquet (yesterday and today,
    /// every `compact_every_secs`, default an hour); deploy picks the first router node.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compact: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_every_secs: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouterAdmin {
    /// e.g. `http://127.0.0.1:8081`
    pub admin_url: String,
    pub token_file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoaderWatch {
    pub model: String,
    pub service: String,
    /// The loader's base URL (its `/health` is polled).
    pub url: String,
    /// Where the process backend's supervisor records how the loader last ended.
    #[serde(default)]
    pub exit_file: Option<PathBuf>,
}

impl NodeConfig {
    pub fn load(path: &std::path::Path) -> anyhow::Result<NodeConfig> {
        use anyhow::Context;
        let text = std::fs::read(path).with_context(|| format!("cannot read node config `{}`", path.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("node config `{}` is not valid", path.display()))
    }
}
