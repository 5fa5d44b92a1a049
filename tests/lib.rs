//! The integration tests: one binary, one file per area, real sshd nodes (see `common`).

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "tests report what they measured")]

mod common;

mod dashboard;
mod deploy;
mod exec;
mod facts;
mod generated;
mod hotswap;
mod init;
mod interactive;
mod inventory;
mod keys;
mod lab;
mod lock;
mod model;
mod monitor;
mod placement;
mod report;
mod router;
mod router_crash;
mod router_limits;
mod routing;
mod soak;
mod store;
mod telemetry_compact;
mod telemetry_truth;
mod transport;
