#!/usr/bin/env bash
# The Matrix bridge end to end (issue 23; docs/matrix.md): a real Synapse homeserver (PyPI
# matrix-synapse, SQLite, loopback only, no federation), onebot-host with plugins/matrix, and
# an unmodified NoneBot2 (nonebot-adapter-onebot, reverse WebSocket) with an echo command.
# The person's side is plain Client-Server API calls. tests/interop/matrix_bridge.py has the
# checks; this script sets up the homeserver and its two accounts.
#
#   tests/interop/matrix.sh              # after `plugins/build rust` and `cargo build --release`
#   MATRIX_LATENCY_MESSAGES=50 tests/interop/matrix.sh    # also measure reply latency
#
# Venvs: target/matrix-venv (Synapse, tests/interop/matrix-requirements.txt) and
# target/interop-venv (NoneBot2, httpx; tests/interop/requirements.txt), reused across runs.
# Every step is bounded; the homeserver and the host are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

synapse_venv=${MATRIX_VENV:-$root/target/matrix-venv}
venv=${INTEROP_VENV:-$root/target/interop-venv}
bin=${ONEBOT_HOST_BIN:-$root/target/release/onebot-host}
plugin=$root/plugins/optional/matrix.wasm

if [ ! -x "$bin" ] || [ ! -f "$plugin" ]; then
    echo "== building the host and the matrix plugin"
    timeout 1800 cargo build --release
    timeout 900 plugins/build rust
fi

started=$SECONDS
echo "== Synapse (venv $synapse_venv) and the Python clients (venv $venv)"
[ -x "$synapse_venv/bin/python" ] || timeout 300 python3 -m venv "$synapse_venv"
timeout 900 "$synapse_venv/bin/pip" install --quiet --disable-pip-version-check \
    -r tests/interop/matrix-requirements.txt
[ -x "$venv/bin/python" ] || timeout 300 python3 -m venv "$venv"
timeout 600 "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -r tests/interop/requirements.txt
echo "   installed in $((SECONDS - started)) s"

work=$(mktemp -d)
synapse_pid=
cleanup() {
    if [ -n "$synapse_pid" ]; then
        kill "$synapse_pid" 2>/dev/null || true
        wait "$synapse_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
hs_port=$(free_port)
hs=http://127.0.0.1:$hs_port

echo "== homeserver config ($work/hs)"
mkdir "$work/hs"
# From inside $work/hs: the generated log config writes homeserver.log to the current folder.
(cd "$work/hs" && timeout 120 "$synapse_venv/bin/python" -m synapse.app.homeserver \
    --server-name localhost --config-path "$work/hs/hs.yaml" --data-directory "$work/hs" \
    --generate-config --report-stats=no >/dev/null)
# Loopback only, client API only (no federation listener), SQLite as generated, no key
# servers, rate limits out of the way of a test that sends as fast as a bot answers.
timeout 60 "$synapse_venv/bin/python" - "$work/hs/hs.yaml" "$hs_port" <<'PY'
import sys, yaml
path, port = sys.argv[1], int(sys.argv[2])
with open(path) as f:
    config = yaml.safe_load(f)
config["listeners"] = [{
    "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
    "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}],
}]
config["trusted_key_servers"] = []
config["suppress_key_server_warning"] = True
config["federation_domain_whitelist"] = []
config["enable_registration"] = False
config["presence"] = {"enabled": False}
fast = {"per_second": 10000, "burst_count": 10000}
for key in ["rc_message", "rc_registration", "rc_admin_redaction", "rc_joins_per_room",
            "rc_3pid_validation", "rc_room_creation", "rc_presence"]:
    config[key] = dict(fast)
config["rc_login"] = {"address": fast, "account": fast, "failed_attempts": fast}
config["rc_joins"] = {"local": fast, "remote": fast}
config["rc_invites"] = {"per_room": fast, "per_user": fast, "per_issuer": fast}
with open(path, "w") as f:
    yaml.safe_dump(config, f)
PY
# Quieter logs: warnings only, to a file (read on failure).
sed -i 's/level: INFO/level: WARNING/' "$work/hs/localhost.log.config"

echo "== starting Synapse on $hs"
(cd "$work/hs" && exec "$synapse_venv/bin/python" -m synapse.app.homeserver -c hs.yaml) \
    >"$work/hs/stdout.log" 2>&1 &
synapse_pid=$!
up=
for _ in $(seq 1 1200); do
    if curl -fsS "$hs/_matrix/client/versions" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$synapse_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$up" ]; then
    echo "Synapse did not start; its output:" >&2
    tail -n 60 "$work/hs/stdout.log" "$work/hs/homeserver.log" >&2 || true
    exit 1
fi
echo "   up after $((SECONDS - started)) s"

password=pw-$RANDOM$RANDOM
for user in bot person; do
    timeout 120 "$synapse_venv/bin/register_new_matrix_user" -c "$work/hs/hs.yaml" \
        -u "$user" -p "$password" --no-admin "$hs" >/dev/null
done

echo "== bridge checks"
status=0
timeout 600 "$venv/bin/python" tests/interop/matrix_bridge.py --homeserver "$hs" \
    --password "$password" --host-bin "$bin" --plugin "$plugin" --work "$work" \
    --cache "$root/target/interop-cache" --latency "${MATRIX_LATENCY_MESSAGES:-0}" || status=$?
if [ "$status" -ne 0 ]; then
    echo "matrix bridge checks failed ($status); the homeserver's log:" >&2
    tail -n 30 "$work/hs/homeserver.log" >&2 || true
fi
echo "== matrix bridge: $((SECONDS - started)) s in all"
exit "$status"
