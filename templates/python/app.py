"""{{name}}: an onebot-host plugin. `actions` lists what it provides; `handle` answers one call
with the JSON text of the envelope's data, or raises Err(ActionError(retcode, message))."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.types import ActionCall, ActionError


def echo(params: dict) -> dict:
    """{{prefix}}_echo: answers with the params it was given."""
    host.log(host.Level.INFO, f"echo {json.dumps(params)}")
    return params


def add(params: dict) -> dict:
    """{{prefix}}_add: adds two integers; anything else answers retcode 1400."""
    a, b = params.get("a"), params.get("b")
    if type(a) is not int or type(b) is not int:
        raise Err(ActionError(1400, "{{prefix}}_add: params `a` and `b` must be integers"))
    return {"sum": a + b}


HANDLERS = {"{{prefix}}_echo": echo, "{{prefix}}_add": add}


class OnebotAction(exports.OnebotAction):
    def actions(self) -> list[str]:
        return list(HANDLERS)

    def handle(self, call: ActionCall) -> str:
        handler = HANDLERS.get(call.action)
        if handler is None:
            raise Err(ActionError(1404, f"不支持的API {call.action}"))
        return json.dumps(handler(json.loads(call.params or "{}")), ensure_ascii=False)
