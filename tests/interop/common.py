"""What the interop scripts share: the bot's identity and one way to report a check."""

SELF_ID = 2854196310  # mock-account's get_login_info user_id (E6)
STEP_TIMEOUT = 30.0


def check(condition, what):
    """Fails the run with `what` unless `condition` holds; prints it when it does."""
    if not condition:
        raise AssertionError(what)
    print(f"  ok: {what}", flush=True)


async def friend_writes(base, token, user_id, message, nickname):
    """The plugin emits a private message event as if a friend had written to the bot (W5)."""
    import httpx

    async with httpx.AsyncClient(timeout=STEP_TIMEOUT) as client:
        response = await client.post(
            f"{base}/mock_receive_private_msg",
            json={"user_id": user_id, "message": message, "nickname": nickname},
            headers={"Authorization": f"Bearer {token}"},
        )
    check(response.json()["retcode"] == 0, f"mock_receive_private_msg: {response.text}")
