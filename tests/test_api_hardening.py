"""Hostile HTTP requests and arguments (issue 14) are refused with a clear error and a 4xx or a
typed GraphQL error, never HTTP 500 or "Unexpected error."."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from graph.global_ids import to_global_id

from .queries import GRANT, SEND_GIFT


@pytest.mark.parametrize("body", [b"42", b"null", b"[]", b'"{ giftCatalog { id } }"', b"true"])
async def test_a_json_body_that_is_not_an_object_is_a_400_graphql_error(
    api: Any, body: bytes
) -> None:
    response = await api.post("/graphql", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    payload = await response.json()
    assert payload["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "must be a JSON object" in payload["errors"][0]["message"]


async def test_get_variables_may_still_be_null(api: Any) -> None:
    response = await api.get(
        "/graphql", params={"query": "{ giftCatalog { id } }", "variables": "null"}
    )
    assert response.status == 200
    assert (await response.json())["data"] == {"giftCatalog": []}


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def arabic_indic(number: int) -> str:
    return "".join(chr(0x660 + int(digit)) for digit in str(number))


def non_canonical_ids(type_name: str, pk: int) -> list[str]:
    """Ids the old decoder took as aliases of (type_name, pk), and "²" that crashed it."""
    canonical = to_global_id(type_name, pk)
    return [
        b64(f"{type_name}:{arabic_indic(pk)}"),
        canonical + "====",
        canonical.rstrip("=") if canonical.endswith("=") else canonical + "=",
        b64(f"{type_name}:0{pk}"),
        b64(f"{type_name}:²"),
    ]


async def test_node_refuses_unicode_digits_and_non_canonical_ids(
    graphql: Any, make_user: Any
) -> None:
    user = await make_user()
    query = "query($id: ID!) { node(id: $id) { id } }"
    for text in non_canonical_ids("User", user.id):
        response = await graphql(query, {"id": text}, subject=user.subject)
        assert response.error_codes == ["BAD_USER_INPUT"], text
        assert response.data == {"node": None}
    canonical = await graphql(query, {"id": to_global_id("User", user.id)}, subject=user.subject)
    assert canonical.data == {"node": {"id": to_global_id("User", user.id)}}


async def test_a_mutation_refuses_a_non_canonical_stream_id_as_invalid_id(
    graphql: Any, funded_viewer: Any, live_stream: Any, gift: Any
) -> None:
    rose = await gift("Rose", 1)
    viewer = await funded_viewer(10)
    live = await live_stream()
    for n, stream_id in enumerate(non_canonical_ids("LiveStream", live.stream.id)):
        variables = {
            "stream": stream_id,
            "gift": to_global_id("Gift", rose.id),
            "quantity": 1,
            "key": f"alias-{n}",
        }
        response = await graphql(SEND_GIFT, variables, subject=viewer.subject)
        assert response.errors == []
        assert response.data["sendGift"]["errors"][0]["code"] == "INVALID_ID", stream_id


@pytest.mark.parametrize(
    "cursor", [b64("cursor:²"), b64(f"cursor:{arabic_indic(1)}"), b64("cursor:1") + "===="]
)
async def test_a_non_canonical_cursor_is_bad_input(graphql: Any, cursor: str) -> None:
    response = await graphql(
        "query($a: String) { liveStreams(after: $a) { edges { cursor } } }", {"a": cursor}
    )
    assert response.error_codes == ["BAD_USER_INPUT"]


GRANT_LITERAL = """mutation { grantCoins(input: {subject: "viewer:lit", coins: %s, reason: "r",
  idempotencyKey: "k"}) { replayed errors { code } } }"""


@pytest.mark.parametrize("literal", ["18446744073709551616", "1.0", '"²"', "true", '"1e3"'])
async def test_an_invalid_bigint_literal_is_a_validation_error_like_a_variable(
    graphql: Any, admin: Any, literal: str, caplog: pytest.LogCaptureFixture
) -> None:
    as_literal = await graphql(GRANT_LITERAL % literal, subject=admin.subject, roles=["ADMIN"])
    value = json.loads(literal)
    as_variable = await graphql(
        GRANT,
        {"subject": "viewer:lit", "coins": value, "reason": "r", "key": "k"},
        subject=admin.subject,
        roles=["ADMIN"],
    )
    assert as_variable.status == as_literal.status == 200
    for response in (as_literal, as_variable):
        assert response.data is None
        (error,) = response.errors
        assert error["message"] != "Unexpected error."
        assert "BigInt" in error["message"]
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []


@pytest.mark.parametrize("literal", ["5", '"5"', "-0"])
async def test_a_valid_bigint_literal_still_works(graphql: Any, admin: Any, literal: str) -> None:
    response = await graphql(GRANT_LITERAL % literal, subject=admin.subject, roles=["ADMIN"])
    assert response.errors == []


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "yesterday", "2026-13-01"]
)
async def test_an_out_of_range_or_malformed_datetime_is_bad_user_input(
    graphql: Any, moment: str, caplog: pytest.LogCaptureFixture
) -> None:
    as_variable = await graphql(
        "query($after: DateTime) { payouts(createdAfter: $after) { edges { cursor } } }",
        {"after": moment},
        subject="finance:fay",
        roles=["FINANCE"],
    )
    as_literal = await graphql(
        '{ payouts(createdBefore: "' + moment + '") { edges { cursor } } }',
        subject="finance:fay",
        roles=["FINANCE"],
    )
    for response in (as_variable, as_literal):
        assert response.status == 200
        assert response.error_codes == ["BAD_USER_INPUT"]
        assert "DateTime cannot represent" in response.errors[0]["message"]
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []


@pytest.mark.parametrize(
    "query",
    [
        "query($t: String) { payouts(provider: $t) { edges { cursor } } }",
        "query($t: String) { reconciliationRuns(provider: $t) { edges { cursor } } }",
        "query($t: String) { auditLog(actor: $t) { edges { cursor } } }",
        "query($t: String!) { payoutEligibility(provider: $t) { eligible } }",
    ],
    ids=["payouts", "reconciliationRuns", "auditLog", "payoutEligibility"],
)
@pytest.mark.parametrize("text", ["a\x00b", "x" * 256], ids=["NUL", "256 characters"])
async def test_a_filter_text_with_nul_or_too_long_is_bad_user_input(
    graphql: Any, query: str, text: str
) -> None:
    response = await graphql(query, {"t": text}, subject="finance:fay", roles=["FINANCE"])
    assert response.status == 200
    assert response.error_codes == ["BAD_USER_INPUT"]


async def test_a_datetime_in_range_is_read_in_utc(graphql: Any) -> None:
    for moment in ("2026-01-01T00:00:00+14:00", "2026-01-01T00:00:00", "2026-01-01T00:00:00Z"):
        response = await graphql(
            '{ payouts(createdAfter: "' + moment + '") { edges { cursor } } }',
            subject="finance:fay",
            roles=["FINANCE"],
        )
        assert response.errors == []


async def test_a_subscription_over_http_post_is_refused_clearly(
    api: Any, token_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    response = await api.post(
        "/graphql",
        json={"query": "subscription { walletChanged { balance } }"},
        headers={"Authorization": f"Bearer {token_for('viewer:sub', 'VIEWER')}"},
    )
    assert response.status == 405
    body = await response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "websocket" in body["errors"][0]["message"]
    assert "graphql-transport-ws" in body["errors"][0]["message"]
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []


async def test_a_subscription_or_mutation_over_get_is_refused_clearly(api: Any) -> None:
    subscription = await api.get(
        "/graphql", params={"query": "subscription { walletChanged { balance } }"}
    )
    assert subscription.status == 405
    assert "websocket" in (await subscription.json())["errors"][0]["message"]
    mutation = await api.get(
        "/graphql",
        params={"query": 'mutation { endStream(input: {streamId: "x"}) { errors { code } } }'},
    )
    assert mutation.status == 405
    assert (await mutation.json())["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
