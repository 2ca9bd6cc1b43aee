"""Staff accounts are not shown to callers who are not staff (issue 14, item 13): `node(id:)` of a
staff user is null for them, leaderboards leave staff out, and fields naming a gift's sender too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from diamonds.demo import ADMIN, CREATOR, FINANCE, VIEWER, load_demo
from economy.app import Economy
from economy.streams import leaderboard
from economy.users import by_subject
from graph.global_ids import to_global_id

from .live_fixtures import GIFT_RECEIVED, connect
from .queries import SEND_GIFT

Post = Callable[..., Awaitable[Any]]

USER_BY_ID = "query($id: ID!) { node(id: $id) { id ... on User { subject } } }"
ME = "{ me { id } }"


async def test_a_finance_user_is_null_to_a_viewer_and_seen_by_staff_and_themselves(
    graphql: Post,
) -> None:
    signed_in = await graphql(ME, subject="finance:fay", roles=["FINANCE"])
    fay = signed_in.data["me"]["id"]
    unknown = to_global_id("User", 999_999)

    for subject, roles, seen in (
        ("viewer:nosy", ["VIEWER"], None),
        ("creator:cat", ["CREATOR", "VIEWER"], None),
        ("finance:fay", ["FINANCE"], {"id": fay, "subject": "finance:fay"}),
        ("finance:fred", ["FINANCE"], {"id": fay, "subject": "finance:fay"}),
        ("admin:ada", ["ADMIN"], {"id": fay, "subject": "finance:fay"}),
    ):
        found = await graphql(USER_BY_ID, {"id": fay}, subject=subject, roles=roles)
        assert found.errors == [], subject
        assert found.data == {"node": seen}, subject
    anonymous = await graphql(USER_BY_ID, {"id": fay})
    assert anonymous.data == {"node": None}
    # The same answer as for a user that does not exist: nothing tells the two apart.
    nobody = await graphql(USER_BY_ID, {"id": unknown}, subject="viewer:nosy")
    assert nobody.body == (await graphql(USER_BY_ID, {"id": unknown}, subject="viewer:nosy")).body
    assert nobody.data == {"node": None}


async def test_any_operation_as_staff_marks_an_existing_user_staff_for_good(
    graphql: Post, make_user: Callable[..., Awaitable[Any]], economy: Economy
) -> None:
    kim = await make_user("ops:kim")
    kim_id = to_global_id("User", kim.id)
    before = await graphql(USER_BY_ID, {"id": kim_id}, subject="viewer:nosy")
    assert before.data == {"node": {"id": kim_id, "subject": "ops:kim"}}

    # A read that touches no user record still marks its staff caller.
    await graphql("{ giftCatalog { name } }", subject="ops:kim", roles=["ADMIN"])
    after = await graphql(USER_BY_ID, {"id": kim_id}, subject="viewer:nosy")
    assert after.data == {"node": None}

    # Calling later with no staff role changes nothing: once staff, always staff.
    await graphql(ME, subject="ops:kim", roles=["VIEWER"])
    async with economy.db.read() as conn:
        found = await by_subject(conn, "ops:kim")
    assert found is not None
    assert found.is_staff
    assert (await graphql(USER_BY_ID, {"id": kim_id}, subject="viewer:nosy")).data == {"node": None}
    own = await graphql(USER_BY_ID, {"id": kim_id}, subject="ops:kim", roles=["VIEWER"])
    assert own.data == {"node": {"id": kim_id, "subject": "ops:kim"}}


async def _gift_as(graphql: Post, subject: str, stream: str, gift: str, quantity: int) -> Any:
    sent = await graphql(
        SEND_GIFT,
        {"stream": stream, "gift": gift, "quantity": quantity, "key": f"k-{subject}"},
        subject=subject,
        roles=["VIEWER"],
    )
    assert sent.data["sendGift"]["errors"] == [], sent.body
    return sent.data["sendGift"]["giftSend"]


async def test_leaderboards_leave_staff_out_for_every_caller(
    graphql: Post,
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Callable[..., Awaitable[Any]],
    live_stream: Callable[..., Awaitable[Any]],
    economy: Economy,
) -> None:
    rose = to_global_id("Gift", (await gift("Rose", 1)).id)
    live = await live_stream()
    stream = to_global_id("LiveStream", live.stream.id)
    for subject, coins in (("viewer:ann", 2), ("staff:sam", 5), ("viewer:bob", 1)):
        await funded_viewer(coins, subject)
        await _gift_as(graphql, subject, stream, rose, coins)
    await graphql(ME, subject="staff:sam", roles=["FINANCE"])  # sam acts as staff: sam is staff

    query = "query($id: ID!) { stream(id: $id) { leaderboard { rank user { subject } total } } }"
    expected = [
        {"rank": 1, "user": {"subject": "viewer:ann"}, "total": 2},
        {"rank": 2, "user": {"subject": "viewer:bob"}, "total": 1},
    ]
    for subject, roles in (("viewer:carl", ["VIEWER"]), ("finance:fay", ["FINANCE"])):
        board = await graphql(query, {"id": stream}, subject=subject, roles=roles)
        assert board.data["stream"]["leaderboard"] == expected, subject
    # `leaderboardChanged` sends what this read gives.
    async with economy.db.read() as conn:
        entries = await leaderboard(conn, live.stream.id, 10)
    assert [(e.rank, e.subject, e.coins) for e in entries] == [
        (1, "viewer:ann", 2),
        (2, "viewer:bob", 1),
    ]


async def test_a_staff_senders_gift_names_no_one_to_its_creator(
    graphql: Post,
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Callable[..., Awaitable[Any]],
    live_stream: Callable[..., Awaitable[Any]],
) -> None:
    rose = to_global_id("Gift", (await gift("Rose", 1)).id)
    live = await live_stream()
    stream = to_global_id("LiveStream", live.stream.id)
    await funded_viewer(3, "staff:sam")
    await graphql(ME, subject="staff:sam", roles=["ADMIN"])
    sent = await _gift_as(graphql, "staff:sam", stream, rose, 3)
    assert sent["sender"] == {"subject": "staff:sam"}  # the sender sees themselves

    send_query = "query($id: ID!) { node(id: $id) { ... on GiftSend { sender { subject } } } }"
    wallet_query = (
        "{ me { diamondWallet { transactions(first: 5) { edges { node { sender { subject } } } } "
        "} } }"
    )
    creator = {"subject": live.creator.subject, "roles": ["CREATOR"]}
    by_creator = await graphql(send_query, {"id": sent["id"]}, **creator)
    assert by_creator.data == {"node": {"sender": None}}
    transactions = await graphql(wallet_query, **creator)
    edges = transactions.data["me"]["diamondWallet"]["transactions"]["edges"]
    assert [e["node"]["sender"] for e in edges] == [None]

    by_finance = await graphql(send_query, {"id": sent["id"]}, subject="fin:f", roles=["FINANCE"])
    assert by_finance.data == {"node": {"sender": {"subject": "staff:sam"}}}


async def test_a_staff_senders_gift_reaches_the_streams_watchers_as_staff_not_by_name(
    api: TestClient[Any, Any],
    graphql: Post,
    gift: Callable[..., Awaitable[Any]],
    funded_viewer: Callable[..., Awaitable[Any]],
    live_stream: Callable[..., Awaitable[Any]],
) -> None:
    rose = to_global_id("Gift", (await gift("Rose", 1)).id)
    stream = to_global_id("LiveStream", (await live_stream()).stream.id)
    await funded_viewer(2, "staff:sam")
    await funded_viewer(1, "viewer:ann")
    await graphql(ME, subject="staff:sam", roles=["FINANCE"])
    watcher = await connect(api.session, str(api.make_url("/graphql")))
    try:
        op = await watcher.subscribe(GIFT_RECEIVED, {"stream": stream})
        assert (await watcher.data_for(op))["giftReceived"]["gifts"] == []
        await _gift_as(graphql, "staff:sam", stream, rose, 2)
        [by_staff] = (await watcher.data_for(op))["giftReceived"]["gifts"]
        await _gift_as(graphql, "viewer:ann", stream, rose, 1)
        [by_ann] = (await watcher.data_for(op))["giftReceived"]["gifts"]
    finally:
        await watcher.ws.close()
    assert (by_staff["senderName"], by_ann["senderName"]) == ("Staff", "viewer:ann")


async def test_the_demo_seeds_its_admin_and_finance_as_staff(economy: Economy) -> None:
    await load_demo(economy)
    async with economy.db.read() as conn:
        staff = {s: (await by_subject(conn, s)) for s in (VIEWER, CREATOR, ADMIN, FINANCE)}
    assert {s: u is not None and u.is_staff for s, u in staff.items()} == {
        VIEWER: False,
        CREATOR: False,
        ADMIN: True,
        FINANCE: True,
    }
