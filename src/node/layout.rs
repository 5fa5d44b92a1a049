//! Every path under a node's garnet home (`nodes[].garnet_home`, `~/.garnet` by default), in one
//! place: deploy writes them, hot-swap, status, offboard and the runbooks name them. `h` is the
//! home as the transport resolved it, without a trailing slash.

/// `bin/garnet`: the garnet binary deploy installs (node-side helpers, the monitor, the router).
pub fn garnet(h: &str) -> String {
    format!("{h}/bin/garnet")
}

/// `run/`: pidfiles, supervisor logs and exit logs, the router's state.
pub fn run(h: &str) -> String {
    format!("{h}/run")
}

/// `run/router-state`: the router's counters and journal (`--state-dir`).
pub fn router_state(h: &str) -> String {
    format!("{h}/run/router-state")
}

/// `run/<service>.exit`: the supervisor's record of each exit.
pub fn exit_file(h: &str, service: &str) -> String {
    format!("{h}/run/{service}.exit")
}

/// `etc/<file>`: configuration and secrets (`node.json`, `routes.json`, `router.token`,
/// `store.credentials`).
pub fn etc(h: &str, file: &str) -> String {
    format!("{h}/etc/{file}")
}

/// `venv/`: the loader runtime deploy creates when the inventory names no python.
pub fn venv(h: &str) -> String {
    format!("{h}/venv")
}

/// `hf/`: `HF_HOME` for the loaders.
pub fn hf(h: &str) -> String {
    format!("{h}/hf")
}

/// `tmp/`: the loaders' `TMPDIR`. MLX's CPU backend compiles kernels into `$TMPDIR/mlx` and
/// loads them from there: under a shared `/tmp` that directory belongs to whichever user made it
/// first, so another user's loader cannot write to it (its generation thread dies) and could be
/// handed code planted in it.
pub fn tmp(h: &str) -> String {
    format!("{h}/tmp")
}

/// `models/<model>/<file>`: a model's files as deploy copies them.
pub fn model_file(h: &str, model: &str, rel: &str) -> String {
    format!("{h}/models/{model}/{rel}")
}

/// `store/`: the local-folder store of a node whose inventory store is local.
pub fn store(h: &str) -> String {
    format!("{h}/store")
}

/// `spool/`: samples waiting to be shipped.
pub fn spool(h: &str) -> String {
    format!("{h}/spool")
}

/// `services/<name>.sh`: the process backend's start scripts.
pub fn service_script(h: &str, name: &str) -> String {
    format!("{h}/services/{name}.sh")
}
