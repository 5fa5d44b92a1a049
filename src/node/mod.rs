//! What lives on a node: hardware facts now; service definitions and loader command lines later.

pub mod config;
pub mod deploy;
pub mod facts;
pub mod layout;
pub mod logs;
pub mod service;
