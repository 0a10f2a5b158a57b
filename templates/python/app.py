"""{{name}}: an onebot-host plugin (world `reactive-plugin`, wit/triggers.wit). `actions` lists
what it provides; `handle` answers one call with the JSON text of the envelope's data, or
raises Err(ActionError(retcode, message)). `handle_event` sees the events the sidecar names
before the bot does; `run_schedule` runs when one of the sidecar's schedules is due.

What {{prefix}}.json5 (copy it beside {{prefix}}.wasm) grants or starts: `config`
({{prefix}}_greet), `keyValue` ({{prefix}}_count, {{prefix}}_stats and the counters of the
handler and the schedule), `events` (the handler) and `schedules` (`tick`). Host functions
whose WIT result is `result<T, string>` return T or raise Err(message).
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.event_handler import Verdict, Verdict_Pass
from wit_world.imports import host, key_value, store
from wit_world.imports.types import ActionCall, ActionError


def echo(params: dict) -> dict:
    """{{prefix}}_echo: answers with the params it was given."""
    host.log(host.Level.INFO, f"echo {json.dumps(params)}")
    return params


def add(params: dict) -> dict:
    """{{prefix}}_add: adds two integers, given as JSON numbers or, as a query string or a
    form sends them (`?a=1&b=2`), as decimal text; anything else answers retcode 1400."""
    a, b = integer(params.get("a")), integer(params.get("b"))
    if type(a) is not int or type(b) is not int:
        raise Err(ActionError(1400, "{{prefix}}_add: params `a` and `b` must be integers"))
    return {"sum": a + b}


def integer(value):
    """A decimal string becomes its int (query strings and forms send every value as text);
    anything else is returned as it is, for the caller's own type check."""
    if isinstance(value, str) and value.removeprefix("-").isdecimal():
        return int(value)
    return value


def greet(params: dict) -> dict:
    """{{prefix}}_greet: greets `name` with the sidecar's config.greeting ("Hi" without one)."""
    greeting = store.get("greeting") or "Hi"
    return {"text": f"{greeting}, {params.get('name', 'world')}!"}


def count(params: dict) -> dict:
    """{{prefix}}_count: counts its calls in the key-value store "default" (sidecar keyValue);
    the count survives restarts of the host."""
    return {"count": key_value.increment("default", "count", 1)}


def stats(params: dict) -> dict:
    """{{prefix}}_stats: how many message events the handler has seen and how many times
    `tick` has run. Adding 0 reads a counter (one never incremented counts as 0)."""
    return {
        "messages": key_value.increment("default", "messages", 0),
        "ticks": key_value.increment("default", "ticks", 0),
    }


HANDLERS = {
    "{{prefix}}_echo": echo,
    "{{prefix}}_add": add,
    "{{prefix}}_greet": greet,
    "{{prefix}}_count": count,
    "{{prefix}}_stats": stats,
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


class EventHandler(exports.EventHandler):
    def handle_event(self, event: str) -> Verdict:
        """The event handler: `event` is the event as JSON. The answer is its verdict:
        Verdict_Pass(), Verdict_Replace(JSON text of another event) or Verdict_Drop(). Each
        message event is counted and goes on to the bot unchanged; Err(message) raised here
        (or by a host call) leaves the event as it was, and the host logs it."""
        if json.loads(event).get("post_type") == "message":
            key_value.increment("default", "messages", 1)
        return Verdict_Pass()


class ScheduleHandler(exports.ScheduleHandler):
    def run_schedule(self, name: str) -> None:
        """The schedule handler, called with the name of the sidecar's schedule that is due:
        `tick` (every minute) counts its runs. Returning is success; Err(message) is logged."""
        if name != "tick":
            raise Err(f"no schedule named {name}")
        key_value.increment("default", "ticks", 1)
