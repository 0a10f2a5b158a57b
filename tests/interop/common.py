"""What the interop scripts share: the bot's identity and one way to report a check."""

SELF_ID = 2854196310  # mock-account's get_login_info user_id (E6)
STEP_TIMEOUT = 30.0


def check(condition, what):
    """Fails the run with `what` unless `condition` holds; prints it when it does."""
    if not condition:
        raise AssertionError(what)
    print(f"  ok: {what}", flush=True)
