#!/usr/bin/env bash
# Benchmark: garnet's fan-out over SSH against Ansible and a plain `ssh` loop, on loopback sshd nodes.
#
#   sudo bench/fanout.sh [NODES=32] [RUNS=7]
#
# Three parts, each tool measured in the same run, medians of RUNS rounds:
# 1. Cold: one `exec -- true` on NODES nodes with no connection left from before, for every tool:
#    garnet (openssh with `--ssh-persist 0`, russh, openssh with classical kex), Ansible ad-hoc
#    (`ansible all -m command -a true`) at each fork count of ANSIBLE_FORKS (default: 32, and 64 128
#    256 past 64 nodes; its best is used), and a parallel `ssh` loop with ControlMaster (the
#    practical limit). garnet runs at each fork count of GARNET_FORKS (default 32).
# 2. A sequence: SEQ (10) consecutive `exec -- true` on min(NODES, 32) nodes, starting cold:
#    garnet keeping its masters (the default `--ssh-persist 60s`), Ansible with its default
#    ControlPersist=60s, and the ssh loop with ControlPersist=60s.
# 3. From 64 nodes: garnet's peak memory (cold and kept), and 10 random nodes killed (sshd and its
#    sessions) in the middle of an `exec -- sleep 2`: every other node must succeed and the exit code
#    must say partial (3).
#
# OPENSSH picks the OpenSSH that the nodes and every client (garnet's openssh transport, Ansible,
# the ssh loop) run: unset, this machine's; `backports`, Debian bookworm-backports' OpenSSH 10
# (whose default key exchange is the post-quantum mlkem768x25519-sha256, which russh speaks too),
# fetched by apt with its signatures checked and unpacked into bench/.openssh-backports; or a folder
# holding such an unpacked tree (usr/bin/ssh, usr/sbin/sshd, usr/lib/openssh/). A probe node logs
# the key exchange each tool negotiated, and the report prints it.
#
# Needs root (a node user), openssh-server, python3 (a venv with ansible-core is made in
# bench/.venv). Only 127.0.0.0/8 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-32}
runs=${2:-7}
seq_len=${SEQ:-10}
seq_nodes=$(( nodes < 32 ? nodes : 32 ))
if [ -z "${ANSIBLE_FORKS:-}" ]; then ANSIBLE_FORKS=32; [ "$nodes" -gt 64 ] && ANSIBLE_FORKS="32 64 128 256"; fi
# Ansible reads ANSIBLE_FORKS from the environment itself (one number): the list is the script's.
ansible_forks=$ANSIBLE_FORKS; unset ANSIBLE_FORKS
GARNET_FORKS=${GARNET_FORKS:-32}
user=garnet-bench
work=$(mktemp -d /tmp/gb.XXXX)
chmod 755 "$work"
declare -A sshd_pid
kill_tree() { local c; for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done; kill -9 "$1" 2>/dev/null || true; }
cleanup() {
  GARNET_STATE_DIR="$work/state" "${garnet:-true}" connections close --all >/dev/null 2>&1 || true
  for p in "${sshd_pid[@]}"; do kill_tree "$p"; done
  rm -rf "$work"
}
trap cleanup EXIT

id -u "$user" >/dev/null 2>&1 || { useradd -m -s /bin/sh "$user"; usermod -p '*' "$user"; }
mkdir -p /run/sshd
# ANSIBLE_VENV: where the Ansible peer is installed (default bench/.venv).
venv=${ANSIBLE_VENV:-bench/.venv}
[ -x "$venv/bin/ansible" ] || { python3 -m venv "$venv" && "$venv/bin/pip" -q install 'ansible-core==2.19.14'; }
. bench/lib.sh
garnet=$(garnet_bin)

# fetch_openssh DIR: Debian bookworm-backports' openssh-client and openssh-server, unpacked in DIR.
fetch_openssh() {
  local apt="$work/apt" o
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$1"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" > "$apt/sources.list"
  o=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1)
  apt-get "${o[@]}" -qq update
  (cd "$apt/debs" && apt-get "${o[@]}" -qq download openssh-client/bookworm-backports openssh-server/bookworm-backports 2>/dev/null)
  for d in "$apt"/debs/*.deb; do dpkg -x "$d" "$1"; done
}
sshd_bin=/usr/sbin/sshd; sshd_extra=; ossh=
case "${OPENSSH:-}" in
  "") ;;
  backports) ossh=bench/.openssh-backports; [ -x "$ossh/usr/sbin/sshd" ] || fetch_openssh "$ossh" ;;
  *) ossh=$OPENSSH ;;
esac
if [ -n "$ossh" ]; then
  ossh=$(cd "$ossh" && pwd)
  [ -x "$ossh/usr/bin/ssh" ] && [ -x "$ossh/usr/sbin/sshd" ] || { echo "no usr/bin/ssh and usr/sbin/sshd in $ossh"; exit 1; }
  export PATH="$ossh/usr/bin:$PATH"
  sshd_bin=$ossh/usr/sbin/sshd
  # OpenSSH 9.8+ execs these helpers by their built-in paths unless told where they are.
  for h in Session:sshd-session Auth:sshd-auth; do
    if [ -x "$ossh/usr/lib/openssh/${h#*:}" ]; then sshd_extra+="Sshd${h%%:*}Path $ossh/usr/lib/openssh/${h#*:}"$'\n'; fi
  done
fi
echo "OpenSSH: client $(ssh -V 2>&1), sshd $("$sshd_bin" -V 2>&1 | head -1 || true)"
# Past a few hundred sessions the defaults of this shell and of sshd's listen queue are too small.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

ssh-keygen -q -t ed25519 -N '' -f "$work/id" -C bench
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey" -C bench-host
cp "$work/id.pub" "$work/authorized_keys"; chmod 644 "$work/authorized_keys"
: > "$work/known_hosts"
printf 'cluster: {slug: bench, tier: pro}\ndefaults: {user: %s, identity_file: %s/id, known_hosts: %s/known_hosts, ssh_config: %s/ssh_config, host_key_checking: strict}\nstore: {kind: local, path: %s/store}\nnodes:\n' "$user" "$work" "$work" "$work" "$work" > "$work/inv.yaml"
printf '[all]\n' > "$work/hosts.ini"
printf 'Host *\n  BatchMode yes\n  IdentitiesOnly yes\n  IdentityFile %s/id\n  User %s\n  GlobalKnownHostsFile /dev/null\n  UserKnownHostsFile %s/known_hosts\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n' "$work" "$user" "$work" > "$work/ssh_config"
# The same with classical key exchange only (OpenSSH 9.x defaults to post-quantum sntrup761x25519,
# which costs client and server CPU per connection): shows what the KEX choice weighs.
sed 's/^Host \*$/Host *\n  KexAlgorithms curve25519-sha256/' "$work/ssh_config" > "$work/ssh_config_c25519"
hostpub=$(cut -d' ' -f1,2 "$work/hostkey.pub")
for i in $(seq 1 "$nodes"); do
  ip=127.0.$(( 9 + (i - 1) / 250 )).$(( (i - 1) % 250 + 1 )); port=$((22000 + i))
  cat > "$work/sshd_$i.conf" <<CONF
Port $port
ListenAddress $ip
HostKey $work/hostkey
PidFile $work/sshd_$i.pid
AuthorizedKeysFile $work/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 300:30:600
MaxSessions 300
Subsystem sftp internal-sftp
$sshd_extra
CONF
  "$sshd_bin" -D -e -f "$work/sshd_$i.conf" 2> "$work/sshd_$i.log" &
  sshd_pid[$i]=$!
  disown
  echo "[$ip]:$port $hostpub" >> "$work/known_hosts"
  echo "  - {name: n$i, host: $ip, port: $port}" >> "$work/inv.yaml"
  echo "n$i ansible_host=$ip ansible_port=$port" >> "$work/hosts.ini"
  echo "$ip $port" >> "$work/targets"
done
for i in $(seq 1 "$nodes"); do
  until grep -q "Server listening" "$work/sshd_$i.log" 2>/dev/null; do sleep 0.05; done
done
head -n "$seq_nodes" "$work/targets" > "$work/targets_seq"
sed "s#ssh_config: $work/ssh_config,#ssh_config: $work/ssh_config_c25519,#" "$work/inv.yaml" > "$work/inv-c25519.yaml"
sed 's/transport: openssh/transport: russh/' "$work/inv.yaml" | sed 's/defaults: {/defaults: {transport: russh, /' > "$work/inv-russh.yaml"

export ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_PRIVATE_KEY_FILE="$work/id" \
  ANSIBLE_REMOTE_USER="$user" ANSIBLE_SSH_ARGS="-F $work/ssh_config -o ControlMaster=auto -o ControlPersist=60s" \
  ANSIBLE_LOCAL_TEMP="$work/ansible-local" ANSIBLE_NOCOLOR=1

g() { GARNET_STATE_DIR="$work/state" "$garnet" "$@"; }
# Cold garnet: masters closed when the command ends (`--ssh-persist 0`), so no run helps the next.
run_garnet() { GARNET_SSH_PERSIST=0 g -i "$work/inv.yaml" --yes -q -f "${1:-32}" exec -- true > /dev/null; }
run_garnet_russh() { g -i "$work/inv-russh.yaml" --yes -q exec -- true > /dev/null; }
run_garnet_c25519() { GARNET_SSH_PERSIST=0 g -i "$work/inv-c25519.yaml" --yes -q exec -- true > /dev/null; }
run_ansible() {
  # A fresh control-socket directory per run: no master survives from the previous run.
  ANSIBLE_SSH_CONTROL_PATH_DIR=$(mktemp -d "$work/acp.XXXX") \
    "$venv/bin/ansible" all -i "$work/hosts.ini" -m command -a true -f "${1:-32}" > "$work/ansible.out" || { cat "$work/ansible.out"; return 1; }
}
run_ssh() { ssh_loop "$work/ssh_config" "$(mktemp -d "$work/cm.XXXX")" no "$work/targets"; }
run_ssh_c25519() { ssh_loop "$work/ssh_config_c25519" "$(mktemp -d "$work/cm.XXXX")" no "$work/targets"; }
# ssh_loop CONFIG CONTROL_DIR PERSIST TARGETS
ssh_loop() {
  local jobs=() p
  while read -r ip port; do
    # -n: stdin from /dev/null. Without it the first ssh reads the rest of the targets list (the
    # loop's stdin) as its command's input, and the loop reaches only a part of the nodes.
    ssh -n -F "$1" -p "$port" -o ControlMaster=auto -o "ControlPath=$2/%C" -o "ControlPersist=$3" "$ip" true &
    jobs+=($!)
  done < "$4"
  for p in "${jobs[@]}"; do wait "$p"; done
}

# Which key exchange each tool negotiates: one login each on a probe node whose sshd logs it
# (LogLevel DEBUG1; not one of the timed nodes, whose logs stay quiet).
sed -e "s/^Port .*/Port 21999/; s/^ListenAddress .*/ListenAddress 127.0.8.1/; s#sshd_1.pid#sshd_probe.pid#" "$work/sshd_1.conf" > "$work/sshd_probe.conf"
echo "LogLevel DEBUG1" >> "$work/sshd_probe.conf"
"$sshd_bin" -D -e -f "$work/sshd_probe.conf" 2> "$work/sshd_probe.log" &
sshd_pid[probe]=$!
disown
echo "[127.0.8.1]:21999 $hostpub" >> "$work/known_hosts"
until grep -q "Server listening" "$work/sshd_probe.log" 2>/dev/null; do sleep 0.05; done
sed -n '/^nodes:/q;p' "$work/inv.yaml" > "$work/inv-probe.yaml"
echo "nodes:" >> "$work/inv-probe.yaml"; echo "  - {name: probe, host: 127.0.8.1, port: 21999}" >> "$work/inv-probe.yaml"
sed 's/defaults: {/defaults: {transport: russh, /' "$work/inv-probe.yaml" > "$work/inv-probe-russh.yaml"
printf '[all]\nprobe ansible_host=127.0.8.1 ansible_port=21999\n' > "$work/probe.ini"
# kex_of COMMAND...: the key exchange of the login COMMAND made on the probe node.
kex_of() {
  local before; before=$(grep -c "kex: algorithm:" "$work/sshd_probe.log" || true)
  "$@" > /dev/null 2>&1 || { echo "failed"; return; }
  sleep 0.3
  grep "kex: algorithm:" "$work/sshd_probe.log" | sed -n "$((before + 1))p" | awk '{print $4}'
}
kex_line="key exchange negotiated: garnet (openssh) $(kex_of env GARNET_SSH_PERSIST=0 GARNET_STATE_DIR="$work/state" "$garnet" -i "$work/inv-probe.yaml" --yes -q exec -- true)"
kex_line+=", garnet (russh) $(kex_of "$garnet" -i "$work/inv-probe-russh.yaml" --yes -q exec -- true)"
kex_line+=", ansible $(kex_of env ANSIBLE_SSH_CONTROL_PATH_DIR="$work/acp-probe" "$venv/bin/ansible" all -i "$work/probe.ini" -m command -a true)"
kex_line+=", ssh loop $(kex_of ssh -n -F "$work/ssh_config" -p 21999 127.0.8.1 true)"
echo "$kex_line"

# Warm-up (page cache, ansible's first-run work), and a check that each tool really works.
run_garnet; run_garnet_russh; run_garnet_c25519; run_ansible 32; run_ssh; run_ssh_c25519
grep -cE "\| (CHANGED|SUCCESS) \|" "$work/ansible.out" | grep -qx "$nodes" || { echo "ansible did not reach every node"; cat "$work/ansible.out"; exit 1; }
# The ssh loop reaches every node: one more accepted login in each sshd's log.
logins() { cat "$work"/sshd_*.log | grep -c "Accepted publickey" || true; }
before=$(logins); run_ssh; after=$(logins)
[ $(( after - before )) -eq "$nodes" ] || { echo "the ssh loop logged in $(( after - before )) times on $nodes nodes"; exit 1; }

declare -A times
now() { date +%s%N; }
timed() { local name=$1 t0 t1; shift; t0=$(now); "$@"; t1=$(now); times[$name]+="$(( (t1 - t0) / 1000000 )) "; }

# Part 1: cold.
for r in $(seq 1 "$runs"); do
  for f in $GARNET_FORKS; do timed "garnet (openssh) -f $f" run_garnet "$f"; done
  timed "garnet (russh)" run_garnet_russh
  timed "garnet (openssh, c25519 kex)" run_garnet_c25519
  for f in $ansible_forks; do timed "ansible ad-hoc -f $f" run_ansible "$f"; done
  timed "ssh loop + ControlMaster" run_ssh
  timed "ssh loop (c25519 kex)" run_ssh_c25519
done

# Part 2: SEQ consecutive commands on seq_nodes nodes, each round starting with no connection.
seq_garnet() {
  g connections close --all > /dev/null
  local k; for k in $(seq 1 "$seq_len"); do g -i "$work/inv.yaml" --yes -q -l "$(seq -s, -f 'n%g' 1 "$seq_nodes")" exec -- true > /dev/null; done
}
seq_ansible() {
  local d k; d=$(mktemp -d "$work/acp.XXXX")
  for k in $(seq 1 "$seq_len"); do
    ANSIBLE_SSH_CONTROL_PATH_DIR=$d "$venv/bin/ansible" all -i "$work/hosts.ini" -l "all[0:$((seq_nodes - 1))]" -m command -a true -f 32 > "$work/ansible.out" || { cat "$work/ansible.out"; return 1; }
  done
  for s in "$d"/*; do [ -S "$s" ] && ssh -S "$s" -O exit x 2>/dev/null; done; true
}
seq_ssh() {
  local d k; d=$(mktemp -d "$work/cm.XXXX")
  for k in $(seq 1 "$seq_len"); do ssh_loop "$work/ssh_config" "$d" 60s "$work/targets_seq"; done
  for s in "$d"/*; do [ -S "$s" ] && ssh -S "$s" -O exit x 2>/dev/null; done; true
}
for r in $(seq 1 "$runs"); do
  timed "seq garnet (kept masters)" seq_garnet
  timed "seq ansible (ControlPersist=60s)" seq_ansible
  timed "seq ssh loop (ControlPersist=60s)" seq_ssh
done
g connections close --all > /dev/null

cat > "$work/report.py" <<'PY'
import statistics, sys
nodes, runs, seq_len, seq_nodes = sys.argv[1:5]
rows = {}
for line in sys.stdin:
    name, raw = line.rstrip("\n").split("\t")
    rows[name] = [int(x) for x in raw.split()]
med = {k: statistics.median(v) for k, v in rows.items()}
print(f"exec -- true on {nodes} loopback sshd nodes, medians of {runs} rounds (ms)")
print(f"{'tool':36} {'median':>8} {'min':>8} {'max':>8}")
for k in sorted(rows, key=lambda k: (k.startswith("seq"), k)):
    print(f"{k:36} {med[k]:8.0f} {min(rows[k]):8d} {max(rows[k]):8d}")
garnets = {k: v for k, v in med.items() if k.startswith("garnet (openssh) -f")}
ansibles = {k: v for k, v in med.items() if k.startswith("ansible ad-hoc -f")}
gk, g = min(garnets.items(), key=lambda kv: kv[1])
ak, a = min(ansibles.items(), key=lambda kv: kv[1])
loop = med["ssh loop + ControlMaster"]
print(f"cold: best garnet ({gk}) {g:.0f} ms; best ansible ({ak}) {a:.0f} ms")
print(f"cold: ansible(best forks) / garnet(openssh):  {a / g:5.2f}x  (goal >= 10 at 256 nodes)")
print(f"cold: garnet(openssh) / ssh loop:              {g / loop:5.2f}x")
print(f"cold: garnet(russh) / ssh loop:                {med['garnet (russh)'] / loop:5.2f}x")
print(f"cold: ansible(best) / garnet(russh):          {a / med['garnet (russh)']:5.2f}x")
print(f"cold: ansible(best) / garnet(openssh, c25519): {a / med['garnet (openssh, c25519 kex)']:5.2f}x")
sg, sa, ss = med["seq garnet (kept masters)"], med["seq ansible (ControlPersist=60s)"], med["seq ssh loop (ControlPersist=60s)"]
print(f"sequence of {seq_len} on {seq_nodes} nodes: garnet {sg:.0f} ms, ansible {sa:.0f} ms, ssh loop {ss:.0f} ms")
print(f"sequence: ansible / garnet:                    {sa / sg:5.2f}x  (goal >= 10)")
print(f"sequence: garnet / ssh loop:                   {sg / ss:5.2f}x")
PY
echo "$kex_line"
for name in "${!times[@]}"; do printf '%s\t%s\n' "$name" "${times[$name]}"; done | python3 "$work/report.py" "$nodes" "$runs" "$seq_len" "$seq_nodes"

# Part 3: memory and nodes dying mid-run, from 64 nodes.
if [ "$nodes" -ge 64 ]; then
  rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
  g connections close --all > /dev/null
  cold_kb=$(GARNET_SSH_PERSIST=0 rss "$garnet" -i "$work/inv.yaml" --yes -q exec -- true)
  first_kb=$(GARNET_STATE_DIR="$work/state" rss "$garnet" -i "$work/inv.yaml" --yes -q exec -- true)
  kept_kb=$(GARNET_STATE_DIR="$work/state" rss "$garnet" -i "$work/inv.yaml" --yes -q exec -- true)
  echo "garnet peak RSS on $nodes nodes: cold $((cold_kb / 1024)) MiB, opening kept masters $((first_kb / 1024)) MiB, over kept masters $((kept_kb / 1024)) MiB (goal < 200 MB)"
  g connections close --all > /dev/null
  victims=$(seq 1 "$nodes" | shuf -n 10 | sort -n | tr '\n' ' ')
  set +e
  GARNET_STATE_DIR="$work/state" "$garnet" -i "$work/inv.yaml" --yes -o json exec -- sleep 2 > "$work/kill.jsonl" 2> "$work/kill.err" &
  gp=$!
  sleep 1.5
  for v in $victims; do kill_tree "${sshd_pid[$v]}"; done
  wait "$gp"; code=$?
  set -e
  python3 - "$work/kill.jsonl" "$code" $victims <<'PY'
import json, sys
path, code, victims = sys.argv[1], int(sys.argv[2]), {f"n{v}" for v in sys.argv[3:]}
out = {}
for line in open(path):
    e = json.loads(line)
    if e.get("event") == "node_finished":
        out[e["node"]] = e["outcome"]
others = {n: o for n, o in out.items() if n not in victims}
bad = {n: o for n, o in others.items() if o != "changed"}
hit = {n: out.get(n) for n in sorted(victims)}
print(f"10 nodes killed mid-run ({' '.join(sorted(victims))}): exit {code}; victims {hit}; "
      f"{len(others) - len(bad)}/{len(others)} other nodes changed")
ok = code == 3 and not bad and len(others) == len(out) - len(victims) and any(o != "changed" for o in hit.values())
print("kill check:", "PASS" if ok else f"FAIL {bad}")
sys.exit(0 if ok else 1)
PY
fi
