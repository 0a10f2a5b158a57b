#!/usr/bin/env bash
# Interop with real OneBot 11 clients (issues 4, 15): aiocqhttp over HTTP and NoneBot2 +
# nonebot-adapter-onebot over forward WebSocket (interop.py); each of them as a reverse
# WebSocket server that the host dials (reverse_ws.py, websocketClients); NoneBot2 in HTTP POST
# mode with a signing secret (http_post.py, httpClients). Against the release binary with the
# example plugin mock-account; then the forward-WebSocket checks once more through a second host
# in gateway mode (issue 24: `upstream` pointing at the first host's websocketServers entry).
# Exits non-zero when a client check fails.
#
#   tests/interop/run.sh                  # after `cargo test --release` (or `cargo build --release`)
#
# It creates a venv (target/interop-venv, reused), installs tests/interop/requirements.txt,
# starts target/release/onebot-host (ONEBOT_HOST_BIN overrides) on a free port with a temp
# config (token, enableWebsocket, one websocketClients entry per reverse bot), runs interop.py
# and reverse_ws.py, and stops the host. Every step is bounded.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

venv=${INTEROP_VENV:-$root/target/interop-venv}
bin=${ONEBOT_HOST_BIN:-$root/target/release/onebot-host}
plugin=$root/plugins/mock-account.wasm

if [ ! -x "$bin" ] || [ ! -f "$plugin" ]; then
    echo "== building the host and the example plugin"
    timeout 1800 cargo build --release
fi

echo "== Python clients (venv $venv)"
[ -x "$venv/bin/python" ] || timeout 300 python3 -m venv "$venv"
timeout 600 "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -r tests/interop/requirements.txt

work=$(mktemp -d)
host_pid=
cleanup() {
    if [ -n "$host_pid" ]; then
        kill "$host_pid" 2>/dev/null || true
        wait "$host_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/plugins"
cp "$plugin" "$work/plugins/"
# Its sidecar too (key-value for get_msg), as the default config ships it.
cp "$(dirname "$plugin")/mock-account.json5" "$work/plugins/"
token=interop-$RANDOM$RANDOM
# Where the bots will listen (reverse WebSocket, HTTP POST): free ports, picked now, bound by the
# bots later (the host redials every 200 ms until they do; posts before that are retried or dropped).
free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
aiocqhttp_port=$(free_port)
nonebot_port=$(free_port)
post_port=$(free_port)
# Gateway mode (issue 24): a second host in front of this one, through this one's
# websocketServers entry, as a NapCat user would put onebot-host in front of NapCat.
upstream_port=$(free_port)
secret=interop-secret-$RANDOM$RANDOM
cat > "$work/onebot.json5" <<JSON
{
  network: {
    httpServers: [{ name: "interop", enable: true, host: "127.0.0.1", port: 0,
      enableWebsocket: true, token: "$token", heartInterval: 5000 }],
    websocketClients: [
      { name: "aiocqhttp", enable: true, url: "ws://127.0.0.1:$aiocqhttp_port/ws/",
        token: "$token", reconnectInterval: 200, heartInterval: 5000 },
      { name: "nonebot", enable: true, url: "ws://127.0.0.1:$nonebot_port/onebot/v11/ws",
        token: "$token", reconnectInterval: 200, heartInterval: 5000 },
    ],
    httpClients: [{ name: "nonebot-http", enable: true, token: "$secret",
      url: "http://127.0.0.1:$post_port/onebot/v11/http/" }],
    websocketServers: [{ name: "upstream", enable: true, host: "127.0.0.1", port: $upstream_port,
      token: "$token", reportSelfMessage: true, heartInterval: 5000 }],
  },
  plugins: { dir: "$work/plugins", watch: false, cacheDir: "$root/target/interop-cache" },
}
JSON

echo "== starting $bin"
RUST_LOG=${RUST_LOG:-info} "$bin" --config "$work/onebot.json5" 2>"$work/host.log" &
host_pid=$!

# Port 0 picks a free port; the host logs which one ("listening on http://127.0.0.1:PORT").
listening_port() { sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -n1; }
port=
for _ in $(seq 1 600); do
    port=$(listening_port "$work/host.log")
    [ -n "$port" ] && break
    kill -0 "$host_pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "the host did not start listening; its log:" >&2
    cat "$work/host.log" >&2
    exit 1
fi
echo "   listening on port $port"

echo "== interop checks"
status=0
timeout 300 "$venv/bin/python" tests/interop/interop.py --port "$port" --token "$token" || status=$?
if [ "$status" -eq 0 ]; then
    echo "== reverse WebSocket checks"
    for client in aiocqhttp nonebot; do
        bot_port=${client}_port
        timeout 300 "$venv/bin/python" tests/interop/reverse_ws.py --client "$client" \
            --host-port "$port" --port "${!bot_port}" --token "$token" || { status=$?; break; }
    done
    if [ "$status" -eq 0 ]; then
        echo "== HTTP POST checks"
        timeout 300 "$venv/bin/python" tests/interop/http_post.py --port "$port" --token "$token" \
            --secret "$secret" --bot-port "$post_port" || status=$?
    fi
fi
gateway_pid=
if [ "$status" -eq 0 ]; then
    echo "== the same checks through a gateway (a second host with upstream: the first one)"
    mkdir "$work/gateway-plugins"
    cat > "$work/gateway.json5" <<JSON
{
  network: {
    httpServers: [{ name: "gateway", enable: true, host: "127.0.0.1", port: 0,
      enableWebsocket: true, token: "$token", heartInterval: 5000 }],
  },
  upstream: { url: "ws://127.0.0.1:$upstream_port", token: "$token" },
  plugins: { dir: "$work/gateway-plugins", watch: false, cacheDir: "$root/target/interop-cache",
    dataDir: "$work/gateway-data" },
}
JSON
    RUST_LOG=${RUST_LOG:-info} "$bin" --config "$work/gateway.json5" 2>"$work/gateway.log" &
    gateway_pid=$!
    gport=
    for _ in $(seq 1 600); do
        gport=$(listening_port "$work/gateway.log")
        if [ -n "$gport" ] && curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$gport/" \
            | grep -q '"connected":true'; then
            break
        fi
        gport=
        kill -0 "$gateway_pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$gport" ]; then
        echo "the gateway did not connect to its upstream; its log:" >&2
        cat "$work/gateway.log" >&2
        status=1
    else
        echo "   gateway on port $gport, connected to ws://127.0.0.1:$upstream_port"
        timeout 300 "$venv/bin/python" tests/interop/interop.py --port "$gport" --token "$token" \
            || { status=$?; echo "interop through the gateway failed; its log:" >&2; tail -n 60 "$work/gateway.log" >&2; }
    fi
    kill "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
fi
if [ "$status" -ne 0 ]; then
    echo "interop failed ($status); the host's log:" >&2
    tail -n 60 "$work/host.log" >&2
fi
exit "$status"
