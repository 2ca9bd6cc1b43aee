"""Every business refusal of every mutation is a typed payload error `{field, message, code}`,
and a refused request writes nothing: no transaction, transfer, key, gift or audit row."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from graph.global_ids import to_global_id

from .queries import GRANT, SEND_GIFT

Post = Callable[..., Awaitable[Any]]

SEND_GIFT_CASES = [
    # (case, overrides of the valid input, code, field)
    ("malformed stream id", {"stream": "not-an-id"}, "INVALID_ID", "streamId"),
    ("stream id of a gift", {"stream": "GIFT"}, "INVALID_ID", "streamId"),
    ("malformed gift id", {"gift": "%%%"}, "INVALID_ID", "giftId"),
    ("zero quantity", {"quantity": 0}, "INVALID_QUANTITY", "quantity"),
    ("negative quantity", {"quantity": -3}, "INVALID_QUANTITY", "quantity"),
    ("quantity above the cap", {"quantity": 10_001}, "INVALID_QUANTITY", "quantity"),
    ("huge quantity", {"quantity": 2_000_000_000}, "INVALID_QUANTITY", "quantity"),
    ("empty key", {"key": ""}, "INVALID_IDEMPOTENCY_KEY", "idempotencyKey"),
    ("oversized key", {"key": "k" * 256}, "INVALID_IDEMPOTENCY_KEY", "idempotencyKey"),
    ("unknown stream", {"stream": "UNKNOWN_STREAM"}, "STREAM_NOT_FOUND", "streamId"),
    ("ended stream", {"stream": "ENDED"}, "STREAM_NOT_LIVE", "streamId"),
    ("own stream", {"sender": "CREATOR"}, "CANNOT_GIFT_OWN_STREAM", "streamId"),
    ("unknown gift", {"gift": "UNKNOWN_GIFT"}, "GIFT_NOT_FOUND", "giftId"),
    ("retired gift", {"gift": "RETIRED"}, "GIFT_UNAVAILABLE", "giftId"),
    ("too few coins", {"quantity": 11}, "INSUFFICIENT_COINS", "quantity"),
    ("reused key", {"key": "USED"}, "IDEMPOTENCY_CONFLICT", "idempotencyKey"),
]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [pytest.param(o, c, f, id=case) for case, o, c, f in SEND_GIFT_CASES],
)
async def test_send_gift_refusals_are_typed_and_write_nothing(
    overrides: dict[str, Any],
    code: str,
    field: str,
    graphql: Post,
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Any,
    live_stream: Any,
    economy: Any,
    row_counts: Callable[..., Awaitable[dict[str, int]]],
) -> None:
    rose = await gift("Rose", 1)
    retired = await gift("Retired", 1, active=False)
    viewer = await funded_viewer(10)
    live = await live_stream()
    ended = await live_stream()
    from economy.streams import end_stream

    await end_stream(economy, ended.creator, ended.stream.id, may_end_any=False)
    valid = {
        "stream": to_global_id("LiveStream", live.stream.id),
        "gift": to_global_id("Gift", rose.id),
        "quantity": 1,
        "key": "used-key",
    }
    first = await graphql(SEND_GIFT, valid, subject=viewer.subject)
    assert first.data["sendGift"]["errors"] == []

    symbolic = {
        "GIFT": to_global_id("Gift", rose.id),
        "UNKNOWN_STREAM": to_global_id("LiveStream", 999_999),
        "ENDED": to_global_id("LiveStream", ended.stream.id),
        "UNKNOWN_GIFT": to_global_id("Gift", 999_999),
        "RETIRED": to_global_id("Gift", retired.id),
        "USED": "used-key",
    }
    sender = live.creator.subject if overrides.get("sender") == "CREATOR" else viewer.subject
    variables = {**valid, "key": "fresh-key"}
    for name, value in overrides.items():
        if name != "sender":
            variables[name] = symbolic.get(value, value) if isinstance(value, str) else value
    if code == "IDEMPOTENCY_CONFLICT":
        variables["quantity"] = 2

    before = await row_counts()
    response = await graphql(SEND_GIFT, variables, subject=sender, roles=["VIEWER", "CREATOR"])
    assert response.status == 200
    assert response.errors == []
    payload = response.data["sendGift"]
    assert payload["giftSend"] is None
    assert len(payload["errors"]) == 1
    error = payload["errors"][0]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    assert await row_counts() == before


async def test_a_quantity_beyond_graphql_int_is_rejected_before_anything_runs(
    graphql: Post, row_counts: Callable[..., Awaitable[dict[str, int]]]
) -> None:
    before = await row_counts()
    response = await graphql(
        SEND_GIFT,
        {
            "stream": to_global_id("LiveStream", 1),
            "gift": to_global_id("Gift", 1),
            "quantity": 2**40,
            "key": "k",
        },
        subject="viewer:big",
    )
    assert response.data is None
    assert "Int cannot represent non 32-bit signed integer" in response.errors[0]["message"]
    assert await row_counts() == before


GRANT_CASES = [
    ("empty subject", {"subject": "  "}, "INVALID_SUBJECT", "subject"),
    ("oversized subject", {"subject": "s" * 256}, "INVALID_SUBJECT", "subject"),
    ("subject with DEL", {"subject": "viewer:\x7feve"}, "INVALID_SUBJECT", "subject"),
    ("zero coins", {"coins": 0}, "INVALID_AMOUNT", "coins"),
    ("negative coins", {"coins": -5}, "INVALID_AMOUNT", "coins"),
    ("coins above the cap", {"coins": 100_000_001}, "INVALID_AMOUNT", "coins"),
    ("empty reason", {"reason": ""}, "INVALID_REASON", "reason"),
    ("oversized reason", {"reason": "r" * 501}, "INVALID_REASON", "reason"),
    ("oversized key", {"key": "k" * 256}, "INVALID_IDEMPOTENCY_KEY", "idempotencyKey"),
    ("reused key", {"key": "used", "coins": 9}, "IDEMPOTENCY_CONFLICT", "idempotencyKey"),
]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [pytest.param(o, c, f, id=case) for case, o, c, f in GRANT_CASES],
)
async def test_grant_coins_refusals_are_typed_and_write_nothing(
    overrides: dict[str, Any],
    code: str,
    field: str,
    graphql: Post,
    row_counts: Callable[..., Awaitable[dict[str, int]]],
) -> None:
    valid = {"subject": "viewer:eve", "coins": 5, "reason": "apology", "key": "used"}
    first = await graphql(GRANT, valid, subject="admin:ops", roles=["ADMIN"])
    assert first.data["grantCoins"]["errors"] == []

    before = await row_counts()
    response = await graphql(GRANT, {**valid, **overrides}, subject="admin:ops", roles=["ADMIN"])
    payload = response.data["grantCoins"]
    assert payload["wallet"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await row_counts() == before


async def test_a_grant_is_audited_with_who_whom_how_much_and_why(
    graphql: Post, sql: Callable[..., Awaitable[list[Any]]]
) -> None:
    await graphql(
        GRANT,
        {"subject": "viewer:fay", "coins": 250, "reason": "stream outage", "key": "g"},
        subject="admin:ops",
        roles=["ADMIN"],
    )
    rows = await sql("SELECT actor_subject, action, target, details FROM audit_log")
    assert len(rows) == 1
    actor, action, target, details = rows[0]
    assert (actor, action, target) == ("admin:ops", "GRANT_COINS", "viewer:fay")
    if isinstance(details, str):
        import json

        details = json.loads(details)
    assert details["coins"] == 250
    assert details["reason"] == "stream outage"


@pytest.mark.parametrize(
    ("title", "code"),
    [("", "INVALID_TITLE"), ("   ", "INVALID_TITLE"), ("t" * 201, "INVALID_TITLE")],
)
async def test_start_stream_refuses_bad_titles(title: str, code: str, graphql: Post) -> None:
    response = await graphql(
        "mutation($t: String!) { startStream(input: {title: $t}) "
        "{ stream { id } errors { field code message } } }",
        {"t": title},
        subject="creator:gus",
        roles=["CREATOR"],
    )
    payload = response.data["startStream"]
    assert payload["stream"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("title", code)]


async def test_a_creator_has_one_live_stream_at_a_time(graphql: Post) -> None:
    start = (
        'mutation { startStream(input: {title: "again"}) '
        "{ stream { id } errors { field code message } } }"
    )
    first = await graphql(start, subject="creator:hal", roles=["CREATOR"])
    second = await graphql(start, subject="creator:hal", roles=["CREATOR"])
    assert first.data["startStream"]["errors"] == []
    live = first.data["startStream"]["stream"]["id"]
    assert live.startswith("TGl2ZVN0cmVhbTo")  # base64 "LiveStream:", as the API shows ids
    assert second.data["startStream"] == {
        "stream": None,
        "errors": [
            {
                "field": None,
                "code": "STREAM_ALREADY_LIVE",
                "message": f"you already have a live stream: {live}",
            }
        ],
    }


async def test_end_stream_refusals(graphql: Post) -> None:
    started = await graphql(
        'mutation { startStream(input: {title: "mine"}) { stream { id } } }',
        subject="creator:ivy",
        roles=["CREATOR"],
    )
    stream_id = started.data["startStream"]["stream"]["id"]
    end = (
        "mutation($id: ID!) { endStream(input: {streamId: $id}) "
        "{ stream { status } errors { field code } } }"
    )

    async def codes(stream: str, subject: str) -> list[tuple[str, str]]:
        response = await graphql(end, {"id": stream}, subject=subject, roles=["CREATOR"])
        return [(e["field"], e["code"]) for e in response.data["endStream"]["errors"]]

    assert await codes("junk", "creator:ivy") == [("streamId", "INVALID_ID")]
    assert await codes(stream_id, "creator:other") == [("streamId", "STREAM_NOT_FOUND")]
    assert await codes(stream_id, "creator:ivy") == []
    assert await codes(stream_id, "creator:ivy") == [("streamId", "STREAM_NOT_LIVE")]
