"""NoneBot2 in HTTP POST mode against a running onebot-host (issue 15; SPEC R1-R3).

Run by tests/interop/run.sh, which starts the host with an `httpClients` endpoint pointing at
this bot (`--bot-port`) with the secret `--secret`. NoneBot2 (fastapi driver for the POSTs
in, httpx for API calls out) with nonebot-adapter-onebot, the real packages from PyPI:

1. the script asks the host's mock-account plugin to emit a private message event
   (mock_receive_private_msg);
2. the host POSTs it to NoneBot2, which verifies X-Signature with ONEBOT_SECRET (it answers
   403 to a bad one) and registers the bot from X-Self-ID;
3. a matcher answers with bot.send, an API call back to the host through ONEBOT_API_ROOTS
   with the access token, which mock-account answers with a message_id.

Exits 0 when every check passed, 1 with the failed check otherwise. Every step has a timeout.
"""

import argparse
import asyncio
import os
import signal
import sys
import time

from common import SELF_ID, STEP_TIMEOUT, check, friend_writes

FRIEND = 10002


async def wait_listening(port, deadline):
    """Until something accepts on 127.0.0.1:port (uvicorn binds after NoneBot's startup)."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


def nonebot_over_http_post(base, token, secret, bot_port, deadline):
    import nonebot
    from nonebot.adapters.onebot.v11 import Adapter, Bot, PrivateMessageEvent

    print("NoneBot2 + nonebot-adapter-onebot in HTTP POST mode", flush=True)
    nonebot.init(
        driver="~fastapi+~httpx",
        host="127.0.0.1",
        port=bot_port,
        onebot_secret=secret,
        onebot_access_token=token,
        onebot_api_roots={str(SELF_ID): f"{base}/"},
        log_level="WARNING",
    )
    driver = nonebot.get_driver()
    driver.register_adapter(Adapter)
    state = {"failure": None, "done": False, "connected": False}

    def stop():
        # The fastapi driver runs uvicorn, which stops gracefully on SIGINT (it has no exit()).
        os.kill(os.getpid(), signal.SIGINT)

    def fail(what):
        if state["failure"] is None:
            state["failure"] = what
        stop()

    @driver.on_bot_connect
    async def on_connect(bot: Bot):
        state["connected"] = True
        print(f"  ok: bot registered from X-Self-ID: {bot.self_id}", flush=True)

    matcher = nonebot.on_message()

    @matcher.handle()
    async def on_private_message(bot: Bot, event: PrivateMessageEvent):
        if event.user_id != FRIEND:
            # An event from an earlier phase (the reverse-WebSocket clients' user), which the
            # host's httpClients endpoint was still retrying when NoneBot came up (SPEC R4
            # retries): a late delivery, not this phase's event. Wait for ours.
            print(f"  (ignored an earlier phase's event for user {event.user_id})", flush=True)
            return
        try:
            check(event.get_plaintext() == "ping-http", f"its text: {event.get_plaintext()!r}")
            check(bot.self_id == str(SELF_ID), f"X-Self-ID is the bot's id: {bot.self_id}")
            check(state["connected"], "the bot connected on the first signed POST")
            reply = await bot.send(event, "pong-http")
            check(isinstance(reply.get("message_id"), int), f"bot.send via ONEBOT_API_ROOTS: {reply}")
            state["done"] = True
            stop()
        except Exception as e:  # noqa: BLE001 - reported, then NoneBot stops
            fail(f"handling the POSTed message event: {e!r}")

    async def trigger():
        try:
            await wait_listening(bot_port, time.monotonic() + STEP_TIMEOUT)
            await friend_writes(base, token, FRIEND, "ping-http", "Bob")
        except Exception as e:  # noqa: BLE001
            fail(f"asking the plugin for a message event: {e!r}")

    @driver.on_startup
    async def start():
        loop = asyncio.get_running_loop()
        loop.create_task(trigger())

        async def expire():
            await asyncio.sleep(deadline)
            if not state["done"]:
                fail("deadline passed: the POSTed event never reached the matcher")

        loop.create_task(expire())

    nonebot.run()
    if state["failure"] is not None:
        raise AssertionError(state["failure"])
    check(state["done"], "NoneBot2 finished the HTTP POST exchange")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the host's HTTP port")
    parser.add_argument("--token", required=True, help="the host's access token")
    parser.add_argument("--secret", required=True, help="the httpClients token (ONEBOT_SECRET)")
    parser.add_argument("--bot-port", type=int, required=True, help="where NoneBot2 listens")
    parser.add_argument("--deadline", type=float, default=4 * STEP_TIMEOUT, help="seconds")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    try:
        nonebot_over_http_post(base, args.token, args.secret, args.bot_port, args.deadline)
    except Exception as e:  # noqa: BLE001 - any failure fails the run
        print(f"INTEROP (HTTP POST) FAILED: {e!r}", file=sys.stderr, flush=True)
        return 1
    print("interop (HTTP POST): all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
