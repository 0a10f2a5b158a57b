"""The bot of the Matrix bridge checks (tests/interop/matrix_bridge.py): NoneBot2 with
nonebot-adapter-onebot as they come from PyPI, serving the reverse WebSocket the host dials.
It knows nothing of Matrix; its commands are what any OneBot bot would write:

- `/echo <text>` answers `<text>`;
- `/mention` answers with a reply to the message and a mention of its sender;
- `/unsend` sends `this goes away`, then deletes it (delete_msg);
- a message that mentions the bot and says `/tome` answers `you mentioned me` (to_me()).

Usage: matrix_bot.py --port PORT --token TOKEN
"""

import argparse

import nonebot
from nonebot import on_command
from nonebot.adapters import Message
from nonebot.adapters.onebot.v11 import Adapter, Bot, MessageEvent, MessageSegment
from nonebot.params import CommandArg
from nonebot.rule import to_me


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    nonebot.init(
        driver="~fastapi",
        host="127.0.0.1",
        port=args.port,
        onebot_access_token=args.token,
        command_start={"/"},
        log_level="WARNING",
    )
    nonebot.get_driver().register_adapter(Adapter)

    echo = on_command("echo")

    @echo.handle()
    async def _(arg: Message = CommandArg()):
        await echo.send(arg)

    mention = on_command("mention")

    @mention.handle()
    async def _(bot: Bot, event: MessageEvent):
        reply = MessageSegment.reply(event.message_id) + MessageSegment.at(event.user_id)
        await bot.send(event, reply + " hi")

    unsend = on_command("unsend")

    @unsend.handle()
    async def _(bot: Bot, event: MessageEvent):
        sent = await bot.send(event, "this goes away")
        await bot.delete_msg(message_id=sent["message_id"])

    tome = on_command("tome", rule=to_me())

    @tome.handle()
    async def _():
        await tome.send("you mentioned me")

    nonebot.run()


if __name__ == "__main__":
    main()
