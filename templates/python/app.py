"""{{name}}: an onebot-host plugin. `actions` lists what it provides; `handle` answers one call
with the JSON text of the envelope's data, or raises Err(ActionError(retcode, message)).

{{prefix}}_greet and {{prefix}}_count use capabilities that {{prefix}}.json5 (copy it beside
{{prefix}}.wasm) grants: `config` and `keyValue`. Host functions whose WIT result is
`result<T, string>` return T or raise Err(message).
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, key_value, store
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


def greet(params: dict) -> dict:
    """{{prefix}}_greet: greets `name` with the sidecar's config.greeting ("Hi" without one)."""
    greeting = store.get("greeting") or "Hi"
    return {"text": f"{greeting}, {params.get('name', 'world')}!"}


def count(params: dict) -> dict:
    """{{prefix}}_count: counts its calls in the key-value store "default" (sidecar keyValue);
    the count survives restarts of the host."""
    return {"count": key_value.increment("default", "count", 1)}


HANDLERS = {
    "{{prefix}}_echo": echo,
    "{{prefix}}_add": add,
    "{{prefix}}_greet": greet,
    "{{prefix}}_count": count,
}


class OnebotAction(exports.OnebotAction):
    def actions(self) -> list[str]:
        return list(HANDLERS)

    def handle(self, call: ActionCall) -> str:
        handler = HANDLERS.get(call.action)
        if handler is None:
            raise Err(ActionError(1404, f"不支持的API {call.action}"))
        try:
            return json.dumps(handler(json.loads(call.params or "{}")), ensure_ascii=False)
        except Err as e:
            if isinstance(e.value, ActionError):
                raise
            # A host call's error (a string naming what to fix) fails the action with 1200.
            raise Err(ActionError(1200, str(e.value)))
