# Sourced by the bench scripts (from the repository root).
#
# garnet_bin: the garnet to measure. GARNET_BIN names one (CI's smoke runs use the debug build it
# already has); else a release build, wherever cargo puts it (CARGO_TARGET_DIR or ./target).
garnet_bin() {
  if [ -n "${GARNET_BIN:-}" ]; then
    echo "$GARNET_BIN"
    return
  fi
  cargo build --release --quiet --bin garnet >&2
  echo "${CARGO_TARGET_DIR:-$PWD/target}/release/garnet"
}

# example_bin NAME: an example binary, built beside garnet (debug when GARNET_BIN is given;
# EXAMPLE_DIR names a folder holding it already built, e.g. a release build's `examples/`).
example_bin() {
  if [ -n "${EXAMPLE_DIR:-}" ]; then
    echo "$EXAMPLE_DIR/$1"
    return
  fi
  local dir=${CARGO_TARGET_DIR:-$PWD/target}
  if [ -n "${GARNET_BIN:-}" ]; then
    cargo build --quiet --example "$1" >&2
    echo "$dir/debug/examples/$1"
  else
    cargo build --release --quiet --example "$1" >&2
    echo "$dir/release/examples/$1"
  fi
}

# nginx_proxy_conf DIR LISTEN_PORT UPSTREAM_PORT WORKERS: writes DIR/nginx.conf, nginx as a reverse
# proxy to the canned backend (upstream keepalive, no buffering), logs and temp files in DIR/nginx.
# WORKERS=single: one process and no master (what callgrind_control can reach).
nginx_proxy_conf() {
  local procs="worker_processes $4;"
  [ "$4" = single ] && procs=$'worker_processes 1;\nmaster_process off;'
  mkdir -p "$1/nginx"
  cat > "$1/nginx.conf" <<N
$procs
daemon off;
pid $1/nginx.pid;
error_log $1/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/nginx;
  proxy_temp_path $1/nginx;
  upstream canned { server 127.0.0.1:$3; keepalive 128; }
  server {
    listen 127.0.0.1:$2;
    location / { proxy_pass http://canned; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
N
}

# wrk_post_lua FILE: wrk's script for the benchmarks' chat completion against the canned model.
wrk_post_lua() {
  cat > "$1" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-0123456789abcdef0123456789abcdef"
wrk.body = '{"model":"canned","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'
LUA
}

# wait_port PORT [TENTHS=600]: waits until something listens on 127.0.0.1:PORT (0.1 s steps).
wait_port() {
  local _
  for _ in $(seq 1 "${2:-600}"); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "port $1 never opened"
  return 1
}
