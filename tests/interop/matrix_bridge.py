"""The Matrix bridge end to end (issue 23; docs/matrix.md; SPEC E6a), run by tests/interop/matrix.sh
against a Synapse it started, with two registered accounts, `bot` and `person`.

The person speaks plain Client-Server API (httpx); onebot-host runs plugins/matrix as the bot
account; NoneBot2 (tests/interop/matrix_bot.py, unmodified nonebot-adapter-onebot) is the bot,
dialled by the host over reverse WebSocket. Checks, each waiting on a condition with a deadline:

1. a message written before the bridge's first sync is never delivered (history skipped);
2. `/echo hello` in a group room → `hello` from the bot in the room;
3. `/mention` → the bot's answer replies to the message (`m.in_reply_to`) and mentions the
   person (pill and `m.mentions`); a message mentioning the bot reaches it as a mention (to_me);
4. `/unsend` → the bot's message is redacted in the room;
5. a direct room the person opens is joined and is a private chat: `/echo` answers there;
6. the host is stopped, the person writes in both rooms (60 messages in one, more than one
   sync carries), the host starts again: every message is answered exactly once (none lost,
   none twice);
7. the OneBot API: get_login_info, get_group_list, get_group_member_list, send_group_msg +
   get_msg, send_private_msg, get_stranger_info;
8. with --latency N, the time from the person's `/echo` to the bot's answer in the room over N
   messages (median and p95, printed).
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from urllib.parse import quote

import httpx

from common import check

STEP = 30.0
# Messages written in one room while the host is down: more than the bridge's sync filter
# carries per room (plugins/matrix/src/sync.rs TIMELINE_LIMIT, 50).
BURST = 60


def wait_for(what, probe, timeout=STEP, every=0.05):
    """Calls `probe` until it returns something truthy; fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Account:
    """One Matrix account speaking the Client-Server API, keeping what its syncs saw."""

    def __init__(self, homeserver, user, password):
        self.hs = homeserver
        self.http = httpx.Client(timeout=STEP + 15)
        answer = self.http.post(f"{homeserver}/_matrix/client/v3/login", json={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
        })
        answer.raise_for_status()
        login = answer.json()
        self.token = login["access_token"]
        self.user_id = login["user_id"]
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        self.since = None
        self.timeline = {}

    def call(self, method, path, **kwargs):
        answer = self.http.request(method, f"{self.hs}/_matrix/client/v3{path}", **kwargs)
        if answer.status_code >= 400:
            raise AssertionError(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def create_room(self, invite, direct=False):
        body = {"invite": [invite], "is_direct": direct,
                "preset": "trusted_private_chat" if direct else "private_chat"}
        if not direct:
            body["name"] = "bridge test"
        return self.call("POST", "/createRoom", json=body)["room_id"]

    def join(self, room):
        self.call("POST", f"/join/{quote(room, safe='')}", json={})

    def members(self, room):
        return self.call("GET", f"/rooms/{quote(room, safe='')}/joined_members")["joined"]

    def send(self, room, body=None, content=None):
        content = content or {"msgtype": "m.text", "body": body}
        path = f"/rooms/{quote(room, safe='')}/send/m.room.message/{uuid.uuid4().hex}"
        return self.call("PUT", path, json=content)["event_id"]

    def event(self, room, event_id):
        return self.call("GET", f"/rooms/{quote(room, safe='')}/event/{quote(event_id, safe='')}")

    def sync(self, timeout_ms):
        params = {"timeout": int(timeout_ms), "filter": json.dumps(
            {"room": {"timeline": {"limit": 200}}, "presence": {"types": []}})}
        if self.since:
            params["since"] = self.since
        answer = self.call("GET", "/sync", params=params)
        self.since = answer["next_batch"]
        for room, data in answer.get("rooms", {}).get("join", {}).items():
            self.timeline.setdefault(room, []).extend(data.get("timeline", {}).get("events", []))

    def wait_event(self, room, what, match, timeout=STEP):
        """The first event of `room` (as this account's syncs saw it) that `match`es."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.timeline.get(room, []):
                if match(event):
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            self.sync(min(left, 5) * 1000)

    def said(self, room, sender, body):
        """Events of `room` from `sender` with exactly `body`."""
        return [e for e in self.timeline.get(room, [])
                if e["type"] == "m.room.message" and e["sender"] == sender
                and e["content"].get("body") == body]


class Host:
    """onebot-host with the matrix plugin, started and stopped like a user would."""

    def __init__(self, binary, config, log, env, token):
        self.binary, self.config, self.log, self.env = binary, config, log, env
        self.token = token
        self.process = None
        self.port = None
        self.api = httpx.Client(timeout=STEP + 15, headers={"Authorization": f"Bearer {token}"})

    def read_log(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()

    def start(self):
        offset = len(self.read_log()) if os.path.exists(self.log) else 0
        log = open(self.log, "a")
        self.process = subprocess.Popen([self.binary, "--config", self.config], stderr=log,
                                        stdout=log, env=self.env)

        def listening():
            if self.process.poll() is not None:
                raise AssertionError(f"the host exited: {self.read_log()[-3000:]}")
            text = self.read_log()[offset:]
            marker = "listening on http://127.0.0.1:"
            if marker not in text:
                return None
            rest = text.split(marker, 1)[1]
            return int("".join(c for c in rest[:6] if c.isdigit()))

        self.port = wait_for("the host to listen", listening)
        return offset

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=STEP)

    def call(self, action, **params):
        answer = self.api.post(f"http://127.0.0.1:{self.port}/{action}", json=params).json()
        if answer["retcode"] != 0:
            raise AssertionError(f"{action} failed: {answer}")
        return answer["data"]

    def bot_connected(self):
        return self.call("get_status")["stat"]["event_subscribers"] >= 1


def run(args):
    bot = Account(args.homeserver, "bot", args.password)
    person = Account(args.homeserver, "person", args.password)
    person.sync(0)
    work = args.work

    print("group room: created by the person, the bot joins", flush=True)
    group = person.create_room(bot.user_id)
    bot.join(group)
    check(bot.user_id in person.members(group), "the bot is in the group room")
    person.send(group, "/echo old-history")

    token = f"matrix-{uuid.uuid4().hex}"
    bot_port = free_port()
    plugins = os.path.join(work, "plugins")
    os.makedirs(plugins)
    with open(args.plugin, "rb") as src, open(os.path.join(plugins, "matrix.wasm"), "wb") as dst:
        dst.write(src.read())
    with open(os.path.join(plugins, "matrix.json5"), "w") as f:
        json.dump({
            "config": {"homeserver": args.homeserver, "user_id": bot.user_id,
                       "access_token": "${MATRIX_TOKEN}", "rooms": "*"},
            "allowedOutboundHosts": [args.homeserver],
            "keyValue": ["default"],
            "callActions": ["get_status"],
            "schedules": [{"name": "sync", "every": "100ms", "timeoutMs": 60000}],
            "timeoutMs": 15000,
        }, f)
    config = os.path.join(work, "onebot.json5")
    with open(config, "w") as f:
        json.dump({
            "network": {
                "httpServers": [{"name": "api", "enable": True, "host": "127.0.0.1", "port": 0,
                                 "token": token, "heartInterval": 0}],
                "websocketClients": [{"name": "nonebot", "enable": True, "token": token,
                                      "url": f"ws://127.0.0.1:{bot_port}/onebot/v11/ws",
                                      "reconnectInterval": 200, "heartInterval": 5000}],
            },
            "plugins": {
                "dir": plugins, "watch": False, "cacheDir": args.cache,
                "dataDir": os.path.join(work, "data"),
                "env": {"matrix": ["MATRIX_TOKEN"]},
                "ceilings": {"matrix": {"allowedOutboundHosts": [args.homeserver],
                                        "callActions": ["get_status"], "timeoutMs": 60000}},
            },
        }, f)
    env = dict(os.environ, MATRIX_TOKEN=bot.token, RUST_LOG="info")
    host = Host(args.host_bin, config, os.path.join(work, "host.log"), env, token)
    nonebot_log = open(os.path.join(work, "nonebot.log"), "w")
    nonebot = subprocess.Popen(
        [sys.executable, os.path.join(os.path.dirname(__file__), "matrix_bot.py"),
         "--port", str(bot_port), "--token", token], stdout=nonebot_log, stderr=nonebot_log)
    try:
        checks(args, bot, person, group, host)
    except BaseException:
        print("--- host log (tail)", file=sys.stderr)
        print(host.read_log()[-4000:] if os.path.exists(host.log) else "(none)", file=sys.stderr)
        with open(os.path.join(work, "nonebot.log")) as f:
            print("--- NoneBot log (tail)\n" + f.read()[-3000:], file=sys.stderr)
        raise
    finally:
        if host.process and host.process.poll() is None:
            host.stop()
        nonebot.send_signal(signal.SIGINT)
        try:
            nonebot.wait(timeout=STEP)
        except subprocess.TimeoutExpired:
            nonebot.kill()


def echo(person, room, bot, text, what):
    """The person writes `/echo <text>`; the bot's `<text>` shows in the room."""
    person.send(room, f"/echo {text}")
    person.wait_event(room, what, lambda e: e["type"] == "m.room.message"
                      and e["sender"] == bot.user_id and e["content"].get("body") == text)
    check(True, what)


def checks(args, bot, person, group, host):
    print("onebot-host with plugins/matrix; NoneBot2 over reverse WebSocket", flush=True)
    offset = host.start()
    wait_for("NoneBot2 to be connected (get_status event_subscribers, E6a)", host.bot_connected)
    check(True, "NoneBot2 connected")
    wait_for("the bridge's first sync", lambda: "earlier history skipped" in host.read_log()[offset:])
    check(True, "first sync done: history before it is skipped")

    echo(person, group, bot, "hello", "`/echo hello` in the room → `hello` from the bot")

    asked = person.send(group, "/mention")
    answer = person.wait_event(group, "the bot's reply to /mention", lambda e:
                               e["sender"] == bot.user_id
                               and e["content"].get("m.relates_to", {}).get("m.in_reply_to"))
    content = answer["content"]
    check(content["m.relates_to"]["m.in_reply_to"]["event_id"] == asked,
          "the reply segment is an m.in_reply_to relation to the person's message")
    check(person.user_id in content.get("m.mentions", {}).get("user_ids", []),
          f"the at segment mentions the person (m.mentions): {content}")
    check(f"https://matrix.to/#/{person.user_id}" in content.get("formatted_body", ""),
          "…with a pill in formatted_body")

    person.send(group, content={
        "msgtype": "m.text", "body": "bot /tome", "format": "org.matrix.custom.html",
        "formatted_body": f'<a href="https://matrix.to/#/{bot.user_id}">bot</a> /tome',
        "m.mentions": {"user_ids": [bot.user_id]}})
    person.wait_event(group, "the answer to a mention of the bot", lambda e:
                      e["sender"] == bot.user_id and e["content"].get("body") == "you mentioned me")
    check(True, "a pill of the bot reaches NoneBot2 as an at of its self_id (to_me)")

    person.send(group, "/unsend")
    redaction = person.wait_event(group, "the bot's redaction", lambda e:
                                  e["type"] == "m.room.redaction" and e["sender"] == bot.user_id)
    gone = redaction.get("redacts") or redaction["content"].get("redacts")
    event = person.event(group, gone)
    check(event["sender"] == bot.user_id and event["content"] == {}
          and "redacted_because" in event.get("unsigned", {}),
          f"delete_msg redacted the bot's message: {event}")

    print("direct room: opened by the person, joined by the bridge", flush=True)
    direct = person.create_room(bot.user_id, direct=True)
    wait_for("the bridge to join the direct room", lambda: bot.user_id in person.members(direct))
    check(True, "the bridge accepted the direct invite")
    echo(person, direct, bot, "private hello", "`/echo` in the direct room is answered there")

    print("the host restarted between two messages", flush=True)
    echo(person, group, bot, "before restart", "answered before the restart")
    host.stop()
    offset = len(host.read_log())
    person.send(group, "/echo group while down")
    person.send(direct, "/echo direct while down")
    # More than one sync carries for a room (its timeline comes back `limited`): the bridge
    # reads the rest back with /messages.
    burst = [f"burst {i}" for i in range(BURST)]
    for text in burst:
        person.send(group, f"/echo {text}")
    host.start()
    wait_for("NoneBot2 to be connected again", host.bot_connected)
    person.send(group, "/echo group after restart")
    person.send(direct, "/echo direct after restart")
    for room, text in [(group, "group while down"), (direct, "direct while down"),
                       (group, "group after restart"), (direct, "direct after restart")]:
        person.wait_event(room, f"the answer {text!r}", lambda e, t=text:
                          e["sender"] == bot.user_id and e["content"].get("body") == t)
    # Sentinels: answered in order after everything above, so a late duplicate would be in.
    echo(person, group, bot, "sentinel", "the group sentinel answered")
    echo(person, direct, bot, "sentinel", "the direct sentinel answered")
    for text in burst:
        person.wait_event(group, f"the answer {text!r}", lambda e, t=text:
                          e["sender"] == bot.user_id and e["content"].get("body") == t)
    check("more news than one sync carries" in host.read_log()[offset:],
          "the room's timeline came back limited and was read back with /messages")
    wrong = {text: n for text in burst if (n := len(person.said(group, bot.user_id, text))) != 1}
    check(not wrong, f"all {BURST} messages written while the host was down answered exactly "
          f"once{f': {wrong}' if wrong else ''}")
    for room, texts in [(group, ["hello", "group while down", "group after restart", "sentinel"]),
                        (direct, ["private hello", "direct while down", "direct after restart"])]:
        for text in texts:
            count = len(person.said(room, bot.user_id, text))
            check(count == 1, f"{text!r} answered exactly once (got {count})")
    check(not person.said(group, bot.user_id, "old-history"),
          "the message from before the first sync was never delivered")

    print("the OneBot API", flush=True)
    login = host.call("get_login_info")
    groups = host.call("get_group_list")
    mine = [g for g in groups if g["group_name"] == "bridge test"]
    check(len(mine) == 1, f"get_group_list lists the group room once, not the direct one: {groups}")
    group_id = mine[0]["group_id"]
    check(mine[0]["member_count"] == 2, f"…with its 2 members: {mine[0]}")
    members = host.call("get_group_member_list", group_id=group_id)
    roles = {m["nickname"]: m["role"] for m in members}
    check(roles == {"bot": "member", "person": "owner"}, f"get_group_member_list: {roles}")
    person_id = next(m["user_id"] for m in members if m["nickname"] == "person")
    check(any(m["user_id"] == login["user_id"] for m in members), "the bot is itself a member")
    sent = host.call("send_group_msg", group_id=group_id, message="from the API [CQ:face,id=178]")
    person.wait_event(group, "the API's message", lambda e: e["sender"] == bot.user_id
                      and e["content"].get("body") == "from the API [face:178]")
    check(True, "send_group_msg posts, a face as its text fallback")
    got = host.call("get_msg", message_id=sent["message_id"])
    check(got["message"] == [{"type": "text", "data": {"text": "from the API [face:178]"}}]
          and got["group_id"] == group_id and got["sender"]["user_id"] == login["user_id"],
          f"get_msg reads it back: {got}")
    host.call("send_private_msg", user_id=person_id, message="psst")
    person.wait_event(direct, "the private message", lambda e: e["sender"] == bot.user_id
                      and e["content"].get("body") == "psst")
    check(True, "send_private_msg goes to the direct room")
    stranger = host.call("get_stranger_info", user_id=person_id)
    check(stranger["nickname"] == "person", f"get_stranger_info: {stranger}")

    if args.latency:
        print(f"latency over {args.latency} messages", flush=True)
        times = []
        for i in range(args.latency):
            start = time.monotonic()
            person.send(group, f"/echo ping {i}")
            person.wait_event(group, f"ping {i}", lambda e, t=f"ping {i}":
                              e["sender"] == bot.user_id and e["content"].get("body") == t)
            times.append((time.monotonic() - start) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
        print(f"LATENCY person's /echo → bot's answer in the room, {len(times)} messages: "
              f"median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
              f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homeserver", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--host-bin", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--latency", type=int, default=0)
    args = parser.parse_args()
    try:
        run(args)
    except Exception as e:  # noqa: BLE001 - any failure fails the run
        print(f"MATRIX BRIDGE FAILED: {e!r}", file=sys.stderr, flush=True)
        return 1
    print("matrix bridge: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
