#!/usr/bin/env bash
# Benchmark: `garnet exec -- true` on 32 loopback sshd nodes, against Ansible ad-hoc
# (`ansible all -m command -a true -f 32`) and a plain parallel `ssh` loop with ControlMaster
# (the practical limit: OpenSSH connecting and running, nothing else). Every run is cold: no
# connection survives from one run to the next, for any tool. Prints medians and ratios.
#
#   sudo bench/fanout.sh [NODES=32] [RUNS=7]
#
# Needs root (a node user), openssh-server, python3 (a venv with ansible-core is made in
# bench/.venv). Only 127.0.0.0/8 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-32}
runs=${2:-7}
user=garnet-bench
work=$(mktemp -d /tmp/gb.XXXX)
chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

id -u "$user" >/dev/null 2>&1 || { useradd -m -s /bin/sh "$user"; usermod -p '*' "$user"; }
mkdir -p /run/sshd
# ANSIBLE_VENV: where the Ansible peer is installed (default bench/.venv).
venv=${ANSIBLE_VENV:-bench/.venv}
[ -x "$venv/bin/ansible" ] || { python3 -m venv "$venv" && "$venv/bin/pip" -q install 'ansible-core==2.19.14'; }
. bench/lib.sh
garnet=$(garnet_bin)

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
  ip=127.0.9.$i; port=$((22000 + i))
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
MaxStartups 200:30:400
MaxSessions 200
Subsystem sftp internal-sftp
CONF
  /usr/sbin/sshd -D -e -f "$work/sshd_$i.conf" 2> "$work/sshd_$i.log" &
  pids+=($!)
  echo "[$ip]:$port $hostpub" >> "$work/known_hosts"
  echo "  - {name: n$i, host: $ip, port: $port}" >> "$work/inv.yaml"
  echo "n$i ansible_host=$ip ansible_port=$port" >> "$work/hosts.ini"
  echo "$ip $port" >> "$work/targets"
done
for i in $(seq 1 "$nodes"); do
  until grep -q "Server listening" "$work/sshd_$i.log" 2>/dev/null; do sleep 0.05; done
done
sed "s#ssh_config: $work/ssh_config,#ssh_config: $work/ssh_config_c25519,#" "$work/inv.yaml" > "$work/inv-c25519.yaml"
sed 's/transport: openssh/transport: russh/' "$work/inv.yaml" | sed 's/defaults: {/defaults: {transport: russh, /' > "$work/inv-russh.yaml"

export ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_PRIVATE_KEY_FILE="$work/id" \
  ANSIBLE_REMOTE_USER="$user" ANSIBLE_SSH_ARGS="-F $work/ssh_config -o ControlMaster=auto -o ControlPersist=60s" \
  ANSIBLE_LOCAL_TEMP="$work/ansible-local" ANSIBLE_NOCOLOR=1

run_garnet() { GARNET_STATE_DIR="$work/state" "$garnet" -i "$work/inv.yaml" --yes -q exec -- true > /dev/null; }
run_garnet_russh() { GARNET_STATE_DIR="$work/state" "$garnet" -i "$work/inv-russh.yaml" --yes -q exec -- true > /dev/null; }
run_garnet_c25519() { GARNET_STATE_DIR="$work/state" "$garnet" -i "$work/inv-c25519.yaml" --yes -q exec -- true > /dev/null; }
run_ansible() {
  # A fresh control-socket directory per run: no master survives from the previous run.
  ANSIBLE_SSH_CONTROL_PATH_DIR=$(mktemp -d "$work/acp.XXXX") \
    "$venv/bin/ansible" all -i "$work/hosts.ini" -m command -a true -f 32 > "$work/ansible.out" || { cat "$work/ansible.out"; return 1; }
}
run_ssh() { ssh_loop "$work/ssh_config"; }
run_ssh_c25519() { ssh_loop "$work/ssh_config_c25519"; }
ssh_loop() {
  local cm jobs=() p; cm=$(mktemp -d "$work/cm.XXXX")
  while read -r ip port; do
    ssh -F "$1" -p "$port" -o ControlMaster=auto -o "ControlPath=$cm/%C" -o ControlPersist=no "$ip" true &
    jobs+=($!)
  done < "$work/targets"
  for p in "${jobs[@]}"; do wait "$p"; done
}

# Warm-up (page cache, ansible's first-run work), and a check that each tool really works.
run_garnet; run_garnet_russh; run_garnet_c25519; run_ansible; run_ssh; run_ssh_c25519
grep -cE "\| (CHANGED|SUCCESS) \|" "$work/ansible.out" | grep -qx "$nodes" || { echo "ansible did not reach every node"; cat "$work/ansible.out"; exit 1; }

declare -A times
now() { date +%s%N; }
for r in $(seq 1 "$runs"); do
  for tool in garnet garnet_russh garnet_c25519 ansible ssh ssh_c25519; do
    t0=$(now); "run_$tool"; t1=$(now)
    times[$tool]+="$(( (t1 - t0) / 1000000 )) "
  done
done

python3 - "$nodes" "$runs" "${times[garnet]}" "${times[garnet_russh]}" "${times[garnet_c25519]}" "${times[ansible]}" "${times[ssh]}" "${times[ssh_c25519]}" <<'PY'
import statistics, sys
nodes, runs = sys.argv[1], sys.argv[2]
names = ["garnet (openssh)", "garnet (russh)", "garnet (openssh, c25519 kex)", "ansible ad-hoc", "ssh loop + ControlMaster", "ssh loop (c25519 kex)"]
med = {}
print(f"exec -- true on {nodes} loopback sshd nodes, {runs} cold runs each (ms)")
print(f"{'tool':28} {'median':>8} {'min':>8} {'max':>8}")
for name, raw in zip(names, sys.argv[3:]):
    xs = [int(x) for x in raw.split()]
    med[name] = statistics.median(xs)
    print(f"{name:28} {med[name]:8.0f} {min(xs):8d} {max(xs):8d}")
g = med["garnet (openssh)"]
print(f"ansible / garnet(openssh):          {med['ansible ad-hoc'] / g:5.2f}x  (goal >= 5)")
print(f"garnet(openssh) / ssh loop:         {g / med['ssh loop + ControlMaster']:5.2f}x  (goal <= 1.5)")
print(f"garnet(russh) / ssh loop:           {med['garnet (russh)'] / med['ssh loop + ControlMaster']:5.2f}x")
print(f"ansible / garnet(russh):            {med['ansible ad-hoc'] / med['garnet (russh)']:5.2f}x")
print(f"ansible / garnet(openssh, c25519):  {med['ansible ad-hoc'] / med['garnet (openssh, c25519 kex)']:5.2f}x")
print(f"garnet(openssh, c25519) / loop(c25519): {med['garnet (openssh, c25519 kex)'] / med['ssh loop (c25519 kex)']:5.2f}x")
PY
