"""Interop with real OneBot 11 clients against a running onebot-host (issue 4; SPEC H6, W1-W5, E6).

Run by tests/interop/run.sh, which starts the host with the mock-account plugin, a token and
enableWebsocket. Two clients, each the real package from PyPI (versions in requirements.txt):

1. aiocqhttp calls actions over HTTP with the token: get_login_info, send_private_msg; a wrong
   token is refused with retcode 1403, an unknown action with 1404.
2. NoneBot2 with nonebot-adapter-onebot connects over forward WebSocket to `/`, registers its
   bot from the lifecycle event (W3), calls get_login_info over that socket (W4), and receives
   a private message event emitted by the plugin (mock_receive_private_msg, W5), which a
   matcher answers with bot.send (send_msg over the socket).

Exits 0 when every check passed, 1 with the failed check otherwise. Every step has a timeout.
"""

import argparse
import asyncio
import sys

from common import SELF_ID, STEP_TIMEOUT, check, friend_writes

FRIEND = 10001


async def aiocqhttp_over_http(base, token):
    from aiocqhttp import ActionFailed, CQHttp

    print("aiocqhttp over HTTP", flush=True)
    bot = CQHttp(api_root=base, access_token=token, api_timeout_sec=STEP_TIMEOUT)
    info = await bot.call_action("get_login_info")
    check(info["user_id"] == SELF_ID, f"get_login_info answers the plugin's user_id: {info}")
    sent = await bot.send_private_msg(user_id=FRIEND, message="hello [CQ:face,id=178]")
    check(isinstance(sent.get("message_id"), int), f"send_private_msg returns a message_id: {sent}")
    version = await bot.get_version_info()
    check(version["protocol_version"] == "v11", f"get_version_info: {version}")

    try:
        await CQHttp(api_root=base, access_token="wrong").call_action("get_login_info")
        check(False, "a wrong token is refused")
    except ActionFailed as e:
        check(e.retcode == 1403, f"a wrong token is refused with 1403 (H6): {e.result}")
    try:
        await bot.call_action("no_such_action")
        check(False, "an unknown action fails")
    except ActionFailed as e:
        check(e.retcode == 1404, f"an unknown action is 1404 (H8): {e.result}")


def nonebot_over_websocket(base, ws_url, token, deadline):
    """Runs NoneBot2 until the whole exchange is done, or the deadline passes."""
    import nonebot
    from nonebot.adapters.onebot.v11 import Adapter, Bot, PrivateMessageEvent

    print("NoneBot2 + nonebot-adapter-onebot over forward WebSocket", flush=True)
    nonebot.init(
        driver="~none+~websockets",
        onebot_ws_urls={ws_url},
        onebot_access_token=token,
        log_level="WARNING",
    )
    driver = nonebot.get_driver()
    driver.register_adapter(Adapter)
    state = {"failure": None, "done": False}

    def fail(what):
        if state["failure"] is None:
            state["failure"] = what
        driver.exit()

    matcher = nonebot.on_message()

    @matcher.handle()
    async def on_private_message(bot: Bot, event: PrivateMessageEvent):
        try:
            check(event.user_id == FRIEND, f"the message event's user_id: {event.user_id}")
            check(event.get_plaintext() == "ping", f"the message's text: {event.get_plaintext()!r}")
            check(event.self_id == SELF_ID, f"the event's self_id is filled (W5): {event.self_id}")
            check(event.sender.nickname == "Alice", f"the sender: {event.sender}")
            reply = await bot.send(event, "pong")
            check(isinstance(reply.get("message_id"), int), f"bot.send over the socket: {reply}")
            state["done"] = True
            driver.exit()
        except Exception as e:  # noqa: BLE001 - reported, then NoneBot stops
            fail(f"handling the message event: {e!r}")

    @driver.on_bot_connect
    async def on_connect(bot: Bot):
        try:
            check(bot.self_id == str(SELF_ID), f"bot registered from the lifecycle event (W3): {bot.self_id}")
            info = await asyncio.wait_for(bot.get_login_info(), STEP_TIMEOUT)
            check(info["user_id"] == SELF_ID, f"get_login_info over the WebSocket (W4): {info}")
            # The plugin emits a message event as if a friend had written to the bot (W5).
            await friend_writes(base, token, FRIEND, "ping", "Alice")
        except Exception as e:  # noqa: BLE001
            fail(f"after the bot connected: {e!r}")

    @driver.on_startup
    async def start_deadline():
        async def expire():
            await asyncio.sleep(deadline)
            if not state["done"]:
                fail("deadline passed: the bot never connected or the message never arrived")

        asyncio.get_running_loop().create_task(expire())

    nonebot.run()
    if state["failure"] is not None:
        raise AssertionError(state["failure"])
    check(state["done"], "NoneBot2 finished the exchange")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--ws-path", default="/", help="NoneBot2's path (never /api: W3)")
    parser.add_argument("--deadline", type=float, default=4 * STEP_TIMEOUT, help="NoneBot2 part, s")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    try:
        asyncio.run(asyncio.wait_for(aiocqhttp_over_http(base, args.token), 4 * STEP_TIMEOUT))
        ws_url = f"ws://127.0.0.1:{args.port}{args.ws_path}"
        nonebot_over_websocket(base, ws_url, args.token, args.deadline)
    except Exception as e:  # noqa: BLE001 - any failure fails the run
        print(f"INTEROP FAILED: {e!r}", file=sys.stderr, flush=True)
        return 1
    print("interop: all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
