"""The creator studio's pages: the diamond wallet, the creator's payouts and the cash-out form
(with each missing eligibility requirement shown), the live gifts feed of their stream, the
earnings (per stream and per day, with a chart) and the wallet history.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from consoles.areas import STUDIO
from consoles.charts import earnings_chart
from consoles.execute import OperationFailed
from consoles.operations import operation
from consoles.pages import Guarded, guard, guarded_form, wants_fragment

REQUIREMENT_CODES = frozenset(
    {
        "IDENTITY_UNVERIFIED",
        "AGE_UNVERIFIED",
        "TAX_FORM_MISSING",
        "TAX_FORM_EXPIRED",
        "SANCTIONS_REVIEW",
        "PAYOUT_METHOD_UNVERIFIED",
        "COUNTRY_NOT_SUPPORTED",
    }
)
"""The refusals of `requestPayout` that are missing eligibility requirements (`RequirementCode`)."""
ELIGIBILITY_REFUSALS = REQUIREMENT_CODES | {"PAYOUT_BLOCKED"}


async def studio_page(request: web.Request) -> web.Response:
    signed_in = guard(request, STUDIO)
    done = request.query.get("requested")
    notice = f"Payout {done} requested." if done else None
    return await _home(signed_in, notice=notice)


async def _home(
    signed_in: Guarded,
    *,
    status: int = 200,
    notice: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    given: Mapping[str, str] | None = None,
    eligibility: Mapping[str, Any] | None = None,
) -> web.Response:
    variables: dict[str, Any] = {"first": 25}
    after = signed_in.request.query.get("after")
    if after:
        variables["after"] = after
    try:
        data = await signed_in.run("StudioHome", variables)
    except OperationFailed as exc:
        return signed_in.refused(exc)
    values = {
        "me": data["me"],
        "wallet": data["me"]["diamondWallet"],
        "providers": data["payoutProviders"],
        "payouts": [edge["node"] for edge in data["payouts"]["edges"]],
        "page": data["payouts"]["pageInfo"],
        "notice": notice,
        "errors": errors or {},
        "given": given or {},
        "eligibility": eligibility,
        "idempotency_key": f"studio-{secrets.token_urlsafe(12)}",
    }
    template = "studio/cash_out.html" if wants_fragment(signed_in.request) else "studio/home.html"
    return signed_in.page(template, values, status=status)


async def request_payout(request: web.Request) -> web.Response:
    """POST the cash-out form: the payload's errors go next to their fields, and a refusal for
    eligibility shows every missing requirement for that provider."""
    signed_in, form = await guarded_form(request, STUDIO)
    given = {name: form.get(name, "").strip() for name in ("diamonds", "provider", "currency")}
    key = form.get("idempotency_key", "").strip() or f"studio-{secrets.token_urlsafe(12)}"
    if not given["diamonds"].isdigit():
        not_a_number = {"diamonds": ["a whole number of diamonds"]}
        return await _home(signed_in, status=422, errors=not_a_number, given=given)
    variables = {
        "input": {
            "diamonds": int(given["diamonds"]),
            "provider": given["provider"],
            "currency": given["currency"] or "USD",
            "idempotencyKey": key,
        }
    }
    try:
        data = await signed_in.run("RequestPayout", variables)
    except OperationFailed as exc:
        return signed_in.refused(exc)
    payload = data["requestPayout"]
    if payload["errors"]:
        errors: dict[str, list[str]] = {}
        for error in payload["errors"]:
            errors.setdefault(error.get("field") or "form", []).append(error["message"])
        eligibility = None
        if any(error["code"] in ELIGIBILITY_REFUSALS for error in payload["errors"]):
            eligibility = await _eligibility(signed_in, given["provider"], given["currency"])
        return await _home(
            signed_in, status=422, errors=errors, given=given, eligibility=eligibility
        )
    if not wants_fragment(request):
        raise web.HTTPSeeOther(f"{STUDIO.path}?requested={payload['payout']['id']}")
    return await _home(signed_in, notice=f"Payout {payload['payout']['id']} requested.")


async def _eligibility(signed_in: Guarded, provider: str, currency: str) -> dict[str, Any] | None:
    try:
        data = await signed_in.run(
            "PayoutEligibility", {"provider": provider, "currency": currency or "USD"}
        )
    except OperationFailed:
        return None
    found: dict[str, Any] = data["payoutEligibility"]
    return found


async def live_page(request: web.Request) -> web.Response:
    """The creator's live stream now, with the gifts arriving (giftReceived) and its top gifters
    as they move (leaderboardChanged), both by live.js."""
    signed_in = guard(request, STUDIO)
    stream = None
    after: str | None = None
    try:
        while stream is None:
            data = await signed_in.run("LiveStreams", {"after": after})
            connection = data["liveStreams"]
            stream = next(
                (
                    edge["node"]
                    for edge in connection["edges"]
                    if edge["node"]["creator"]["subject"] == signed_in.session.principal.subject
                ),
                None,
            )
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
    except OperationFailed as exc:
        return signed_in.refused(exc)
    values = {
        "stream": stream,
        "live_query": operation("GiftReceived"),
        "leaderboard_query": operation("LeaderboardChanged"),
    }
    return signed_in.page("studio/live.html", values)


CHART_DAYS = 30
"""How many days the earnings chart shows, today included."""


async def earnings_page(request: web.Request) -> web.Response:
    """Earnings per stream (paged) and per day over the last `CHART_DAYS` days, as a chart."""
    signed_in = guard(request, STUDIO)
    today = datetime.now(UTC).date()
    variables: dict[str, Any] = {
        "first": 25,
        "since": (today - timedelta(days=CHART_DAYS - 1)).isoformat(),
        "until": today.isoformat(),
    }
    after = request.query.get("after")
    if after:
        variables["after"] = after
    try:
        data = await signed_in.run("StudioEarnings", variables)
    except OperationFailed as exc:
        return signed_in.refused(exc)
    me = data["me"]
    days = me["earningsByDay"]
    values = {
        "me": me,
        "wallet": me["diamondWallet"],
        "streams": [edge["node"] for edge in me["streams"]["edges"]],
        "page": me["streams"]["pageInfo"],
        "days": days,
        "period_total": sum(int(d["diamonds"]) for d in days),
        "chart": earnings_chart(days),
    }
    return signed_in.page("studio/earnings.html", values)


WALLET_WORDS = {
    "GIFT_RECEIVED": "Gift received",
    "GIFT_SENT": "Gift sent",
    "PURCHASE": "Coins bought",
    "GRANT": "Coins granted",
    "PAYOUT_REQUESTED": "Payout requested (diamonds held)",
    "PAYOUT_RELEASED": "Payout released (hold let go)",
    "PAYOUT_PAID": "Payout paid",
    "PAYOUT_RETURNED": "Payout returned",
    "DEBT_SETTLED": "Owed diamonds settled",
    "CORRECTION": "Correction",
    "OTHER": "Other",
}
"""How the wallet history names each `WalletTransactionKind`."""


async def wallet_page(request: web.Request) -> web.Response:
    """The diamond wallet's history, newest first, each entry saying what it was."""
    signed_in = guard(request, STUDIO)
    variables: dict[str, Any] = {"first": 50}
    after = request.query.get("after")
    if after:
        variables["after"] = after
    try:
        data = await signed_in.run("StudioWallet", variables)
    except OperationFailed as exc:
        return signed_in.refused(exc)
    wallet = data["me"]["diamondWallet"]
    values = {
        "wallet": wallet,
        "entries": [edge["node"] for edge in wallet["transactions"]["edges"]],
        "page": wallet["transactions"]["pageInfo"],
        "words": WALLET_WORDS,
    }
    return signed_in.page("studio/wallet.html", values)
