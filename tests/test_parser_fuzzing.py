"""Hypothesis over every parser that takes outside input: webhook bodies and signature headers
of each provider (Stripe, PayPal with the fake's signing, the example Acme provider), bank status
files (pain.002 XML, ACH returns), the OFAC sanctions CSV, the persisted-query extension and
websocket frames. Each returns a value of its declared type or raises its module's typed error,
never anything else (no KeyError, TypeError, UnicodeError or RecursionError leaking).

Deterministic unless `DIAMONDS_PROPERTY_RANDOM` is set; `DIAMONDS_FUZZ_EXAMPLES` raises the
examples per property (default 200, about a second each).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from diamonds_fakes.paypal_server import FakePayPal
from diamonds_fakes.stripe_server import FakeStripe
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from compliance.sanctions.rules import SdnFormatError, SdnList, load_list
from graph.apq import PersistedQueries, PersistedQueryError, query_hash
from providers.bank.status import StatusFileError, StatusReport, read_status_report
from providers.base import PayoutState, StatusUpdate, unappliable_update
from providers.config import StripeConfig
from providers.errors import ProviderError, WebhookVerificationError
from providers.paypal import PayPalConfig, PayPalProvider
from providers.stripe import PAYOUT_EVENTS, StripeProvider, verify_signature

from .acme_fixtures import EXAMPLE
from .hostile_inputs import what_went_wrong

EXAMPLES = int(os.environ.get("DIAMONDS_FUZZ_EXAMPLES", "200"))
fuzzing = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("DIAMONDS_PROPERTY_RANDOM") is None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""The fixtures these tests take (fake servers, a client) keep no state an example changes."""

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
"""Whatever a JSON document may hold."""

header_text = st.text(st.characters(codec="latin-1"), max_size=120)
"""What an HTTP header can carry (aiohttp decodes header bytes as Latin-1 at worst)."""


def is_update(update: object) -> bool:
    """A `StatusUpdate` whose every field has its declared type."""
    return (
        isinstance(update, StatusUpdate)
        and isinstance(update.event_id, str)
        and isinstance(update.state, PayoutState)
        and isinstance(update.occurred_at, datetime)
        and update.occurred_at.tzinfo is not None
        and all(
            value is None or isinstance(value, str)
            for value in (
                update.payout_id,
                update.provider_reference,
                update.raw_type,
                update.failure_code,
                update.failure_message,
            )
        )
    )


async def updates_or_refusal(
    parse: Callable[[dict[str, str], bytes], Awaitable[list[StatusUpdate]]],
    headers: dict[str, str],
    body: bytes,
) -> list[StatusUpdate] | None:
    """What a provider's `parse_webhook` gives: updates the pipeline can apply or record as
    unappliable (`unappliable_update` says which, for any provider), or None when it raised
    one of the providers' typed errors. Anything else fails the test."""
    try:
        updates = await parse(headers, body)
    except ProviderError as exc:
        event(f"refused: {type(exc).__name__}")
        return None
    event(f"{len(updates)} updates")
    assert isinstance(updates, list)
    for update in updates:
        assert isinstance(update, StatusUpdate), update
        unappliable_update("fuzz", update)  # never raises, whatever the fields hold
    return updates


def payload(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """An object with these keys holding values as drawn, mostly; or with any of the keys
    missing or holding any JSON; or any JSON at all."""
    shaped = st.fixed_dictionaries(fields)
    odd = st.fixed_dictionaries({}, optional={k: v | json_values for k, v in fields.items()})
    return st.one_of(shaped, shaped, shaped, odd, json_values)


# Stripe ------------------------------------------------------------------------------------------

stripe_payouts = payload(
    {
        "object": st.just("payout"),
        "id": st.text(max_size=12),
        "status": st.sampled_from(["paid", "failed", "canceled", "pending", "in_transit", "x"]),
        "metadata": payload({"payout_id": st.text(max_size=8), "transfer": st.text(max_size=8)}),
        "failure_code": st.text(max_size=12),
        "failure_message": st.text(max_size=12),
    }
)
stripe_events = payload(
    {
        "object": st.just("event"),
        "id": st.text(max_size=12),
        "type": st.sampled_from([*sorted(PAYOUT_EVENTS), "transfer.created"]),
        "created": st.integers(0, 2**40) | st.integers(),
        "data": payload({"object": stripe_payouts, "previous_attributes": json_values}),
    }
)


@pytest.fixture
async def stripe_provider() -> AsyncIterator[tuple[FakeStripe, StripeProvider]]:
    async with FakeStripe() as fake:
        provider = StripeProvider(
            StripeConfig(
                api_key=fake.secret_key,
                api_base=fake.url,
                webhook_secret=fake.webhook_secret,
                timeout_seconds=5.0,
            )
        )
        try:
            yield fake, provider
        finally:
            await provider.close()


now_or_any = st.builds(lambda: str(int(time.time()))) | header_text | st.integers().map(str)
stripe_signatures = st.one_of(
    st.builds(lambda t, v1: f"t={t},v1={v1}", now_or_any, st.text(max_size=70)),
    st.lists(
        st.tuples(st.sampled_from(["t", "v1", "v0", ""]), now_or_any).map("=".join), max_size=4
    ).map(",".join),
)
"""`t=...,v1=...` headers: their time current or any text, the signature any text; or their
parts in any number and order."""


@fuzzing
@given(header=stripe_signatures | header_text | st.none(), body=st.binary(max_size=200))
def test_a_stripe_signature_header_is_verified_or_refused(header: str | None, body: bytes) -> None:
    try:
        stamp = verify_signature(header, body, "whsec_fuzz")
    except WebhookVerificationError:
        return
    assert isinstance(stamp, int)


@fuzzing
@given(event=stripe_events, signed=st.sampled_from([True, True, True, False]), header=header_text)
async def test_a_stripe_webhook_gives_updates_or_its_typed_refusal(
    stripe_provider: tuple[FakeStripe, StripeProvider], event: Any, signed: bool, header: str
) -> None:
    fake, provider = stripe_provider
    headers, body = fake.webhook_delivery(event)
    if not signed:
        headers["Stripe-Signature"] = header
    await updates_or_refusal(provider.parse_webhook, headers, body)


# PayPal ------------------------------------------------------------------------------------------

paypal_resources = payload(
    {
        "payout_item": payload({"sender_item_id": st.text(max_size=8)}),
        "sender_batch_id": st.text(max_size=8),
        "payout_batch_id": st.text(max_size=8),
        "transaction_status": st.sampled_from(["SUCCESS", "FAILED", "UNCLAIMED", "RETURNED"]),
        "errors": payload({"name": st.text(max_size=8), "message": st.text(max_size=8)}),
        "batch_header": payload(
            {
                "sender_batch_header": payload({"sender_batch_id": st.text(max_size=8)}),
                "batch_status": st.sampled_from(["SUCCESS", "DENIED", "CANCELED", "PENDING"]),
                "payout_batch_id": st.text(max_size=8),
            }
        ),
        "items": st.lists(payload({"transaction_status": st.just("FAILED")}), max_size=2),
    }
)
paypal_events = payload(
    {
        "id": st.text(max_size=12),
        "event_type": st.sampled_from(
            [
                "PAYMENT.PAYOUTS-ITEM.SUCCEEDED",
                "PAYMENT.PAYOUTS-ITEM.FAILED",
                "PAYMENT.PAYOUTS-ITEM.RETURNED",
                "PAYMENT.PAYOUTSBATCH.SUCCESS",
                "PAYMENT.PAYOUTSBATCH.DENIED",
                "PAYMENT.CAPTURE.COMPLETED",
            ]
        ),
        "create_time": st.text(max_size=25) | st.just("2024-01-01T00:00:00Z"),
        "resource": paypal_resources,
    }
)


@pytest.fixture
async def paypal_provider() -> AsyncIterator[tuple[FakePayPal, PayPalProvider]]:
    async with FakePayPal() as fake:
        provider = PayPalProvider(
            PayPalConfig(
                client_id=fake.settings.client_id,
                client_secret=fake.settings.client_secret,
                api_base=fake.url,
                webhook_id=fake.settings.webhook_id,
                cert_hosts=("http://127.0.0.1",),
                timeout_seconds=5.0,
            )
        )
        try:
            yield fake, provider
        finally:
            await provider.close()


@fuzzing
@given(
    event=paypal_events,
    raw=st.none() | st.binary(max_size=100),
    spoiled=st.none()
    | st.tuples(
        st.sampled_from(
            [
                "PAYPAL-TRANSMISSION-SIG",
                "PAYPAL-TRANSMISSION-TIME",
                "PAYPAL-TRANSMISSION-ID",
                "PAYPAL-CERT-URL",
                "PAYPAL-AUTH-ALGO",
            ]
        ),
        header_text,
    ),
)
async def test_a_paypal_webhook_gives_updates_or_its_typed_refusal(
    paypal_provider: tuple[FakePayPal, PayPalProvider],
    event: Any,
    raw: bytes | None,
    spoiled: tuple[str, str] | None,
) -> None:
    fake, provider = paypal_provider
    body = json.dumps(event).encode() if raw is None else raw
    headers = fake.sign(body)
    if spoiled is not None:
        name, value = spoiled
        headers = {k: v for k, v in headers.items() if k.upper() != name}
        headers[name] = value
    await updates_or_refusal(provider.parse_webhook, headers, body)


# Acme (examples/acme-payouts) --------------------------------------------------------------------

acme_events = payload(
    {
        "id": st.text(max_size=8),
        "type": st.text(max_size=8),
        "created": st.integers(0, 2**34) | st.integers() | st.text(max_size=8),
        "payment": payload(
            {
                "id": st.text(max_size=8),
                "payout_id": st.text(max_size=8),
                "status": st.sampled_from(["paid", "failed", "pending"]),
                "failure": st.none() | st.text(max_size=8),
            }
        ),
    }
)


@pytest.fixture
def acme_provider() -> Any:
    sys.path.insert(0, str(EXAMPLE))
    try:
        from acme_payouts.api import AcmeApi
        from acme_payouts.provider import AcmeProvider
    finally:
        sys.path.remove(str(EXAMPLE))
    return AcmeProvider(AcmeApi("acme_fuzz", "acme-secret"), "acme_fuzz", "acme-secret")


@fuzzing
@given(event=acme_events, stamp=st.none() | header_text, signature=st.none() | header_text)
async def test_an_acme_webhook_gives_updates_or_its_typed_refusal(
    acme_provider: Any, event: Any, stamp: str | None, signature: str | None
) -> None:
    body = json.dumps(event).encode()
    when = str(int(time.time())) if stamp is None else stamp
    digest = hmac.new(b"acme-secret", when.encode("latin-1") + b"." + body, hashlib.sha256)
    headers = {"Acme-Signature": f"{when}:{digest.hexdigest() if signature is None else signature}"}
    await updates_or_refusal(acme_provider.parse_webhook, headers, body)


# Bank status files -------------------------------------------------------------------------------

xml_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"], exclude_characters="<&"),
    max_size=12,
)
"""Text an XML element can hold as it is."""
SAMPLES = sorted((Path(__file__).parent / "data" / "bank").glob("*.[ax][cm][hl]"))
"""The bank status files the bank tests read: pain.002 reports and an ACH return file."""


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """A sample status file with a few of its lines changed in place (the same length, so a
    NACHA record stays 94 characters), dropped or repeated."""
    lines = draw(st.sampled_from(SAMPLES)).read_bytes().split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["change", "change", "drop", "repeat"]))
        if how == "drop":
            del lines[at]
        elif how == "repeat":
            lines.insert(at, lines[at])
        elif lines[at]:
            start = draw(st.integers(0, len(lines[at]) - 1))
            size = draw(st.integers(1, min(12, len(lines[at]) - start)))
            text = draw(st.text(st.sampled_from("0123456789 AR9-:T+Z<>/é"), min_size=size))
            lines[at] = lines[at][:start] + text.encode()[:size] + lines[at][start + size :]
        if not lines:
            break
    return b"\n".join(lines)


@st.composite
def pain002_files(draw: st.DrawFn) -> bytes:
    """A pain.002 report with any of its parts missing, repeated or holding any text."""

    def part(tag: str, inner: st.SearchStrategy[str]) -> str:
        return draw(st.sampled_from(["", f"<{tag}>{draw(inner)}</{tag}>"]))

    status = st.sampled_from(["ACCP", "ACSC", "RJCT", "PDNG", "PART", "ACTC"]) | xml_text
    reason = st.builds(
        lambda code, info: (
            f"<StsRsnInf><Rsn><Cd>{code}</Cd></Rsn><AddtlInf>{info}</AddtlInf></StsRsnInf>"
        ),
        st.sampled_from(["AC04", "AM04", ""]) | xml_text,
        xml_text,
    )
    transactions = "".join(
        "<TxInfAndSts>"
        + part("OrgnlEndToEndId", xml_text)
        + part("TxSts", status)
        + draw(st.sampled_from(["", draw(reason)]))
        + "</TxInfAndSts>"
        for _ in range(draw(st.integers(0, 3)))
    )
    created = st.sampled_from(["2024-05-01T10:00:00", "2024-05-01T10:00:00Z"]) | xml_text
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
        + "<GrpHdr>"
        + part("CreDtTm", created)
        + "</GrpHdr>"
        + "<OrgnlGrpInfAndSts>"
        + part("OrgnlMsgId", xml_text)
        + part("GrpSts", status)
        + "</OrgnlGrpInfAndSts>"
        + "<OrgnlPmtInfAndSts>"
        + part("OrgnlPmtInfId", xml_text)
        + part("PmtInfSts", status)
        + transactions
        + "</OrgnlPmtInfAndSts>"
        + "</CstmrPmtStsRpt></Document>"
    )
    text = draw(st.sampled_from([document, document.replace("pain.002.001.03", "x")]))
    return text.encode()


@st.composite
def nacha_files(draw: st.DrawFn) -> bytes:
    """NACHA-shaped files: 94-character records of types 1, 5, 6, 7, 8, 9 and filler, with any
    digits or letters in them, in any order."""
    kinds = st.sampled_from(["1", "5", "6", "7", "8", "9"])
    body = st.text(st.sampled_from("0123456789 AR9C"), min_size=93, max_size=93)
    records = draw(st.lists(st.tuples(kinds, body), max_size=8))
    lines = [kind + rest for kind, rest in records]
    if draw(st.booleans()):
        lines.append("9" * 94)
    if draw(st.booleans()):
        lines.insert(0, "1" + draw(body))
    return ("\n".join(lines) + "\n").encode()


status_files = st.one_of(
    mutated_samples(),
    mutated_samples(),
    pain002_files(),
    nacha_files(),
    st.binary(max_size=200),
    st.builds(lambda rest: b"<" + rest, st.binary(max_size=100)),
    st.builds(lambda rest: b"1" + rest, st.binary(max_size=200)),
)


@fuzzing
@given(content=status_files)
def test_a_bank_status_file_gives_updates_or_a_status_file_error(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "status"
    path.write_bytes(content)
    try:
        report = read_status_report(path)
    except StatusFileError as exc:
        event(f"refused: {str(exc)[:30]}")
        return
    event(f"{report.slug}: {len(report.updates)} updates")
    assert isinstance(report, StatusReport)
    assert all(is_update(u) for u in report.updates), report.updates


# Sanctions CSV -----------------------------------------------------------------------------------

clean_cells = st.text(
    st.characters(codec="latin-1", exclude_characters='\r\n",'), min_size=1, max_size=8
)
csv_cells = st.sampled_from(
    [clean_cells] * 12
    + [
        st.text(max_size=10),
        st.sampled_from(["-0-", "", '"', '"a,b"', '"x""y"', "\r", "123", "²", "\x1a"]),
    ]
).flatmap(lambda cells: cells)
"""Cells as OFAC writes them, mostly; now and then any text or a CSV oddity."""


@st.composite
def csv_files(draw: st.DrawFn, columns: int) -> bytes:
    """Rows of `columns` cells most of the time, the first one a number most of the time; in
    UTF-8 or Latin-1 (as OFAC publishes)."""
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        width = draw(st.sampled_from([columns] * 8 + [columns - 1, columns + 1]))
        first = draw(
            st.sampled_from([st.integers(0, 30).map(str)] * 8 + [csv_cells]).flatmap(
                lambda cells: cells
            )
        )
        rows.append(",".join([first, *(draw(csv_cells) for _ in range(width - 1))]))
    text = "\n".join(rows)
    return draw(st.sampled_from([text.encode(), text.encode("latin-1", errors="replace")]))


@fuzzing
@given(
    sdn=csv_files(12) | st.binary(max_size=100),
    alt=st.just(b"") | csv_files(5),
    add=st.just(b"") | csv_files(6),
)
def test_a_sanctions_list_loads_or_raises_its_format_error(
    sdn: bytes, alt: bytes, add: bytes
) -> None:
    try:
        loaded = load_list(sdn, alt, add)
    except SdnFormatError:
        event("refused")
        return
    event("loaded")
    assert isinstance(loaded, SdnList)
    assert loaded.entries


# Persisted queries -------------------------------------------------------------------------------

GIFTS = "{ giftCatalog { id } }"


queries = st.none() | st.just(GIFTS) | st.text(st.characters(codec="utf-8"), max_size=30)
"""What Strawberry hands on: a string (JSON decoding refuses lone surrogates) or null."""
persisted_query = payload(
    {
        "version": st.just(1),
        "sha256Hash": st.just(query_hash(GIFTS)) | st.text(st.sampled_from("0123456789abcdef")),
    }
)


@fuzzing
@given(
    query=queries,
    extensions=st.none()
    | st.dictionaries(st.text(max_size=5), json_values)
    | st.builds(lambda p: {"persistedQuery": p}, persisted_query),
)
def test_the_persisted_query_extension_resolves_or_refuses(
    query: str | None, extensions: dict[str, Any] | None
) -> None:
    persisted = PersistedQueries(capacity=4)
    for _ in range(2):  # the second time, the query may be known
        try:
            resolved = persisted.resolve(query, extensions)
        except PersistedQueryError:
            continue
        assert resolved is None or isinstance(resolved, str)


@fuzzing
@given(
    query=queries | json_values,
    extensions=json_values | st.builds(lambda p: {"persistedQuery": p}, persisted_query),
)
async def test_the_persisted_query_extension_over_http_gets_no_server_error(
    api: TestClient[Any, Any], query: Any, extensions: Any
) -> None:
    """Strawberry refuses a query that is no string and extensions that are no object before
    we see them (400, in text/plain); whatever else comes back is no server error."""
    body = {"query": query, "extensions": extensions}
    async with api.post("/graphql", json=body) as response:
        text = await response.text()
        assert response.status < 500, text
        if response.content_type == "application/json":
            assert what_went_wrong(response.status, text) is None, text


# Websocket frames --------------------------------------------------------------------------------

SUBPROTOCOL = "graphql-transport-ws"
message_types = st.sampled_from(
    ["connection_init", "subscribe", "complete", "ping", "pong", "next", "error", "other"]
)
ws_messages = payload(
    {
        "type": message_types,
        "id": st.text(max_size=6),
        "payload": payload(
            {
                "query": st.sampled_from(
                    ['subscription { giftReceived(streamId: "1") { id } }', "{ me { id } }", "x"]
                ),
                "Authorization": st.text(max_size=12),
                "variables": json_values,
            }
        ),
    }
)
frames = st.lists(
    st.one_of(
        ws_messages.map(lambda m: ("text", json.dumps(m))),
        st.text(max_size=40).map(lambda t: ("text", t)),
        st.binary(max_size=40).map(lambda b: ("binary", b)),
    ),
    min_size=1,
    max_size=4,
)


@fuzzing
@given(opening=st.booleans(), frames=frames)
async def test_websocket_frames_get_a_protocol_answer_never_a_crash(
    api: TestClient[Any, Any],
    caplog: pytest.LogCaptureFixture,
    opening: bool,
    frames: list[tuple[str, Any]],
) -> None:
    caplog.clear()
    async with api.ws_connect("/graphql", protocols=[SUBPROTOCOL]) as ws:
        if opening:
            await ws.send_str(json.dumps({"type": "connection_init"}))
        for kind, frame in frames:
            if ws.closed:
                break
            if kind == "text":
                await ws.send_str(frame)
            else:
                await ws.send_bytes(frame)
        with contextlib.suppress(ConnectionError):
            await ws.send_str(json.dumps({"type": "ping"}))
        while True:  # until the answer to the last ping, or the close
            try:
                message = await ws.receive(timeout=5)
            except TimeoutError:
                break
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
            if message.type is aiohttp.WSMsgType.TEXT:
                answer = json.loads(message.data)
                assert isinstance(answer, dict)
                if answer.get("type") == "pong":
                    break
        close_code = ws.close_code
    await asyncio.sleep(0)
    assert close_code is None or close_code == 1000 or 4000 <= close_code < 4500, close_code
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


# What the fuzzing found, pinned -----------------------------------------------------------------


def test_a_stripe_signature_with_non_ascii_characters_is_refused_not_a_type_error() -> None:
    header = f"t={int(time.time())},v1=\u00e9"
    with pytest.raises(WebhookVerificationError, match="no v1 signature matches"):
        verify_signature(header, b"{}", "whsec_fuzz")


async def test_a_stripe_payout_event_whose_previous_attributes_are_no_object_is_read(
    stripe_provider: tuple[FakeStripe, StripeProvider],
) -> None:
    fake, provider = stripe_provider
    payout = {"object": "payout", "id": "po_1", "status": "failed", "metadata": {"payout_id": "7"}}
    event = {
        "object": "event",
        "id": "evt_1",
        "type": "payout.failed",
        "created": 1_700_000_000,
        "data": {"object": payout, "previous_attributes": True},
    }
    [update] = await provider.parse_webhook(*fake.webhook_delivery(event))
    assert (update.payout_id, update.state) == ("7", PayoutState.FAILED)


@pytest.mark.parametrize(
    "signature",
    [f"{int(time.time())}:\u00e9", "\u00b2:abc", "\u0661\u0662:abc"],
    ids=["non-ASCII signature", "superscript digit stamp", "Arabic-Indic digit stamp"],
)
async def test_an_acme_signature_with_non_ascii_characters_is_refused(
    acme_provider: Any, signature: str
) -> None:
    with pytest.raises(WebhookVerificationError):
        await acme_provider.parse_webhook({"Acme-Signature": signature}, b"{}")


@pytest.mark.parametrize(
    ("sdn", "problem"),
    [
        ("\u00b2,NAME,individual,SDGT,,,,,,,,", "the entry number is not a number"),
        ("1,NA\rME,individual,SDGT,,,,,,,,", "new-line character"),
        ('1,"' + "x" * 200_000 + '",individual,SDGT,,,,,,,,', "field larger than field limit"),
    ],
    ids=["superscript digit", "carriage return in a field", "field over the csv limit"],
)
def test_a_sanctions_list_csv_oddity_is_a_format_error(sdn: str, problem: str) -> None:
    with pytest.raises(SdnFormatError, match=problem):
        load_list(sdn.encode())


@pytest.mark.parametrize(
    ("initialised", "frame"),
    [
        (False, "null"),
        (False, "[]"),
        (False, '"connection_init"'),
        (False, '{"type": 1}'),
        (True, '{"type": "subscribe", "id": "1", "payload": "{ me { id } }"}'),
        (True, '{"type": "subscribe", "id": ["1"], "payload": {"query": "{ me { id } }"}}'),
        (True, '{"type": "complete", "id": {}}'),
    ],
)
async def test_a_websocket_frame_strawberry_cannot_read_closes_with_4400(
    api: TestClient[Any, Any], caplog: pytest.LogCaptureFixture, initialised: bool, frame: str
) -> None:
    async with api.ws_connect("/graphql", protocols=[SUBPROTOCOL]) as ws:
        if initialised:
            await ws.send_str(json.dumps({"type": "connection_init"}))
            assert (await ws.receive_json(timeout=5))["type"] == "connection_ack"
        await ws.send_str(frame)
        message = await ws.receive(timeout=5)
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
