//! What lives on a node and the steps that put it there: the probed [`target::Target`], the node
//! layout, service definitions, the monitor's config, and the step builders — `blocks` (shared),
//! `deploy`, `offboard` — with the local files they copy (`files`, the one place that reads them).

pub mod blocks;
pub mod config;
pub mod deploy;
pub mod facts;
pub mod files;
pub mod layout;
pub mod logs;
pub mod offboard;
pub mod service;
pub mod target;
