"""python-text: the Python example plugin of onebot-host, built with componentize-py into a
WebAssembly component of the world `capable-plugin` in wit/capabilities.wit (see build beside this
file).

Actions (names carry the prefix below so that every example can sit in one plugin folder):
  py_text_reverse      {text}               -> {"text": reversed, by code point}
  py_text_word_count   {text}               -> {"words": n}, words split on Unicode whitespace
  py_send_private_msg  {user_id, message}   -> {"message_id": n}, logs what it "sent"
  py_count             {}                   -> {"count": n}, its calls so far, kept in the
                                               key-value store "default" across restarts
                                               (granted by ../python-text.json5: `keyValue`)
Bad or missing params are answered with retcode 1400 and a message naming the param.
"""

import json
import time
import zlib

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, key_value
from wit_world.imports.types import ActionCall, ActionError

# Set to "" to serve the real OneBot action `send_private_msg` (and un-prefixed text actions).
PREFIX = "py_"


class Invalid(Exception):
    """Bad params: becomes retcode 1400 with the action's name in front of the message."""


def text_param(params: dict) -> str:
    value = required(params, "text", "string")
    if not isinstance(value, str):
        raise Invalid(f"param `text` must be a string, got {type(value).__name__}")
    return value


def text_reverse(params: dict) -> dict:
    return {"text": text_param(params)[::-1]}


def text_word_count(params: dict) -> dict:
    return {"words": len(text_param(params).split())}


def send_private_msg(params: dict, action: str) -> dict:
    user_id = required(params, "user_id", "integer")
    if isinstance(user_id, bool) or not str(user_id).strip().isascii() or not str(user_id).strip().isdecimal() or int(user_id) <= 0:
        raise Invalid(f"param `user_id` must be a positive integer, got {json.dumps(user_id)}")
    message = required(params, "message", "array of segments")
    if not isinstance(message, list) or not message:
        raise Invalid("param `message` must be a non-empty array of segments")
    preview = []
    for segment in message:
        kind = segment.get("type") if isinstance(segment, dict) else None
        if not isinstance(kind, str):
            raise Invalid(f"each message segment needs a string `type`, got {json.dumps(segment)}")
        data = segment.get("data") or {}
        preview.append(str(data.get("text", "")) if kind == "text" else f"[{kind}]")
    host.log(host.Level.INFO, f"{action} to user {str(user_id).strip()}: {''.join(preview)}")
    # Instances are fresh, so there is no counter to keep: a hash of the time and the call.
    seed = f"{time.time_ns()}:{user_id}:{json.dumps(message)}".encode()
    return {"message_id": (zlib.crc32(seed) >> 1) or 1}


def count(params: dict) -> dict:
    # Raises Err(message) when the store is not granted; handle() makes that a 1200.
    return {"count": key_value.increment("default", "count", 1)}


def required(params: dict, name: str, expected: str):
    value = params.get(name)
    if value is None:
        raise Invalid(f"missing required param `{name}` ({expected})")
    return value


HANDLERS = {
    "text_reverse": lambda params, action: text_reverse(params),
    "text_word_count": lambda params, action: text_word_count(params),
    "send_private_msg": send_private_msg,
    "count": lambda params, action: count(params),
}


class OnebotAction(exports.OnebotAction):
    def actions(self) -> list[str]:
        return [PREFIX + name for name in HANDLERS]

    def handle(self, call: ActionCall) -> str:
        """Returns the envelope's data as JSON text; raising Err(ActionError) fails the call."""
        name = call.action[len(PREFIX):] if call.action.startswith(PREFIX) else None
        handler = HANDLERS.get(name)
        if handler is None:
            raise Err(ActionError(1404, f"不支持的API {call.action}"))
        try:
            params = json.loads(call.params or "{}")
            if not isinstance(params, dict):
                raise Invalid("params must be a JSON object")
            return json.dumps(handler(params, call.action), ensure_ascii=False)
        except json.JSONDecodeError as e:
            raise Err(ActionError(1400, f"{call.action}: params are not valid JSON: {e}"))
        except Invalid as e:
            raise Err(ActionError(1400, f"{call.action}: {e}"))
        except Err as e:
            if isinstance(e.value, ActionError):
                raise
            # A host call's error: a string saying what to fix (e.g. which sidecar key).
            raise Err(ActionError(1200, f"{call.action}: {e.value}"))
