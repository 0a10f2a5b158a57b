"""Interop over reverse WebSocket (NapCat's websocketClients; SPEC RW1-RW3, W3-W5): the bot
listens, onebot-host dials it.

Run by tests/interop/run.sh, whose host config has one websocketClients entry per bot here,
both with the token; the host redials every reconnectInterval until the bot listens. One bot
per run (`--client`), each the real package from PyPI (versions in requirements.txt):

- aiocqhttp: `CQHttp.run_task` serves `/ws/`. It checks the Authorization header, reads
  X-Client-Role (universal) and X-Self-ID, receives the lifecycle event, calls get_login_info
  back through the socket, receives a private message emitted by the plugin
  (mock_receive_private_msg, triggered over the host's HTTP API) and answers it with bot.send.
- nonebot: NoneBot2 (quart driver on uvicorn) with nonebot-adapter-onebot serves
  `/onebot/v11/ws`; it registers the bot from X-Self-ID once the token checks out, then the
  same calls and message as above.

Exits 0 when every check passed, 1 with the failed check otherwise. Every step has a timeout.
"""

import argparse
import asyncio
import os
import signal
import sys
import threading

from common import SELF_ID, STEP_TIMEOUT, check, friend_writes

FRIEND = 10001


async def aiocqhttp_reverse(base, port, token):
    from aiocqhttp import CQHttp

    print("aiocqhttp as a reverse WebSocket server (/ws/)", flush=True)
    bot = CQHttp(access_token=token, api_timeout_sec=STEP_TIMEOUT)
    connected = asyncio.Event()
    answered = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    @bot.on_meta_event("lifecycle.connect")
    async def on_connect(event):
        check(event.self_id == SELF_ID, f"the lifecycle event arrives first (W3): {event}")
        connected.set()

    @bot.on_message("private")
    async def on_private(event):
        try:
            check(event.user_id == FRIEND, f"the message event's user_id: {event.user_id}")
            check(event.raw_message == "ping", f"the message's raw_message: {event.raw_message!r}")
            reply = await bot.send(event, "pong")
            check(isinstance(reply.get("message_id"), int), f"bot.send over the socket: {reply}")
            answered.set_result(True)
        except Exception as e:  # noqa: BLE001 - reported by the waiting side
            answered.set_exception(e)

    loop = asyncio.get_running_loop()

    def quiet_cancellation(loop, context):
        # Hypercorn reports the connections it cancels at shutdown (the host redialling).
        if not isinstance(context.get("exception"), asyncio.CancelledError):
            loop.default_exception_handler(context)

    loop.set_exception_handler(quiet_cancellation)
    server = asyncio.create_task(bot.run_task(host="127.0.0.1", port=port, shutdown_trigger=stop.wait))
    try:
        await asyncio.wait_for(connected.wait(), STEP_TIMEOUT)
        info = await asyncio.wait_for(bot.call_action("get_login_info"), STEP_TIMEOUT)
        check(info["user_id"] == SELF_ID, f"get_login_info back through the socket (W4): {info}")
        await friend_writes(base, token, FRIEND, "ping", "Alice")
        await asyncio.wait_for(answered, STEP_TIMEOUT)
    finally:
        stop.set()
        await asyncio.wait_for(server, STEP_TIMEOUT)


def nonebot_reverse(base, port, token, deadline):
    """Runs NoneBot2 until the whole exchange is done or the deadline passes."""
    import nonebot
    from nonebot.adapters.onebot.v11 import Adapter, Bot, PrivateMessageEvent

    print("NoneBot2 + nonebot-adapter-onebot as a reverse WebSocket server (/onebot/v11/ws)", flush=True)
    nonebot.init(
        driver="~quart",
        host="127.0.0.1",
        port=port,
        onebot_access_token=token,
        log_level="WARNING",
    )
    driver = nonebot.get_driver()
    driver.register_adapter(Adapter)
    state = {"failure": None, "done": False}

    def finish():
        # uvicorn shuts down gracefully on SIGINT; a backstop in case it never does.
        threading.Timer(STEP_TIMEOUT, lambda: os._exit(2)).start()
        signal.raise_signal(signal.SIGINT)

    def fail(what):
        if state["failure"] is None:
            state["failure"] = what
        finish()

    matcher = nonebot.on_message()

    @matcher.handle()
    async def on_private_message(bot: Bot, event: PrivateMessageEvent):
        try:
            check(event.user_id == FRIEND, f"the message event's user_id: {event.user_id}")
            check(event.get_plaintext() == "ping", f"the message's text: {event.get_plaintext()!r}")
            check(event.self_id == SELF_ID, f"the event's self_id (W5): {event.self_id}")
            reply = await bot.send(event, "pong")
            check(isinstance(reply.get("message_id"), int), f"bot.send over the socket: {reply}")
            state["done"] = True
            finish()
        except Exception as e:  # noqa: BLE001 - reported, then NoneBot stops
            fail(f"handling the message event: {e!r}")

    @driver.on_bot_connect
    async def on_connect(bot: Bot):
        try:
            check(bot.self_id == str(SELF_ID), f"bot registered from X-Self-ID with the token (RW1): {bot.self_id}")
            info = await asyncio.wait_for(bot.get_login_info(), STEP_TIMEOUT)
            check(info["user_id"] == SELF_ID, f"get_login_info back through the socket (W4): {info}")
            await friend_writes(base, token, FRIEND, "ping", "Alice")
        except Exception as e:  # noqa: BLE001
            fail(f"after the bot connected: {e!r}")

    @driver.on_startup
    async def start_deadline():
        async def expire():
            await asyncio.sleep(deadline)
            if not state["done"]:
                fail("deadline passed: the host never connected or the message never arrived")

        asyncio.get_running_loop().create_task(expire())

    nonebot.run()
    if state["failure"] is not None:
        raise AssertionError(state["failure"])
    check(state["done"], "NoneBot2 finished the exchange")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=["aiocqhttp", "nonebot"], required=True)
    parser.add_argument("--host-port", type=int, required=True, help="the host's HTTP port")
    parser.add_argument("--port", type=int, required=True, help="where the bot listens")
    parser.add_argument("--token", required=True)
    parser.add_argument("--deadline", type=float, default=4 * STEP_TIMEOUT, help="NoneBot2 part, s")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.host_port}"
    try:
        if args.client == "aiocqhttp":
            asyncio.run(asyncio.wait_for(aiocqhttp_reverse(base, args.port, args.token), 4 * STEP_TIMEOUT))
        else:
            nonebot_reverse(base, args.port, args.token, args.deadline)
    except Exception as e:  # noqa: BLE001 - any failure fails the run
        print(f"INTEROP FAILED ({args.client}, reverse WebSocket): {e!r}", file=sys.stderr, flush=True)
        return 1
    print(f"interop: {args.client} over reverse WebSocket passed", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # A timer thread left by NoneBot's backstop must not keep the process alive.
    os._exit(code)
