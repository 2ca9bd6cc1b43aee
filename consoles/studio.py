"""The creator studio's pages: the diamond wallet, the creator's payouts and cash out (the
eligibility per provider with a link to fix each missing requirement, the quote to confirm, then
the payout's live status), the live stream, the earnings (with a chart) and the wallet history.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from consoles.areas import STUDIO
from consoles.charts import earnings_chart
from consoles.execute import OperationFailed
from consoles.operations import operation
from consoles.pages import Guarded, guard, guarded_form, wants_fragment

SETUP_PATH = f"{STUDIO.path}/setup"


@dataclass(frozen=True)
class Fix:
    """Where a missing requirement is fixed: a link and what it says."""

    href: str
    label: str


def fix_for(code: str, provider: str) -> Fix | None:
    """The link that fixes a missing requirement (`RequirementCode`) for `provider`; None for one
    only FINANCE can settle (a sanctions review). The age and the country are verified with the
    identity (the date of birth it gives), so their links go there."""
    fixes = {
        "AGE_UNVERIFIED": Fix(f"{SETUP_PATH}#identity", "Verify your date of birth"),
        "COUNTRY_NOT_SUPPORTED": Fix(f"{SETUP_PATH}#identity", "Tell us where you live"),
        "IDENTITY_UNVERIFIED": Fix(f"{SETUP_PATH}#identity", "Verify your identity"),
        "TAX_FORM_MISSING": Fix(f"{SETUP_PATH}#tax-form", "Give a tax form"),
        "TAX_FORM_EXPIRED": Fix(f"{SETUP_PATH}#tax-form", "Give a new tax form"),
        "PAYOUT_METHOD_UNVERIFIED": Fix(
            f"{SETUP_PATH}#payout-method-{provider}", f"Add a {provider} payout method"
        ),
    }
    return fixes.get(code)


def _with_fixes(requirements: list[dict[str, Any]], provider: str) -> list[dict[str, Any]]:
    return [{**r, "fix": fix_for(r["code"], provider)} for r in requirements]


async def studio_page(request: web.Request) -> web.Response:
    signed_in = guard(request, STUDIO)
    return await _home(signed_in)


async def _home(
    signed_in: Guarded,
    *,
    status: int = 200,
    errors: Mapping[str, list[str]] | None = None,
    given: Mapping[str, str] | None = None,
    refused: list[dict[str, Any]] | None = None,
    review: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> web.Response:
    """The studio's first page, or only its cash-out box for a fetch: the eligibility per
    provider up front, then the form, its refusal, or the quote to confirm (`review`)."""
    variables: dict[str, Any] = {"first": 25}
    after = signed_in.request.query.get("after")
    if after:
        variables["after"] = after
    try:
        data = await signed_in.run("StudioHome", variables)
        eligibility = [await _eligibility(signed_in, p) for p in data["payoutProviders"]]
    except OperationFailed as exc:
        return signed_in.refused(exc)
    values = {
        "me": data["me"],
        "wallet": data["me"]["diamondWallet"],
        "providers": data["payoutProviders"],
        "payouts": [edge["node"] for edge in data["payouts"]["edges"]],
        "page": data["payouts"]["pageInfo"],
        "total": data["payouts"]["totalCount"],
        "errors": errors or {},
        "given": given or {},
        "eligibility": eligibility,
        "refused": refused,
        "review": review,
        "idempotency_key": key or _new_key(),
    }
    template = "studio/cash_out.html" if wants_fragment(signed_in.request) else "studio/home.html"
    return signed_in.page(template, values, status=status)


def _currency_of(provider: Mapping[str, Any]) -> str:
    currencies: list[str] = sorted(provider["currencies"])
    return "USD" if "USD" in currencies or not currencies else currencies[0]


async def _eligibility(signed_in: Guarded, provider: Mapping[str, Any]) -> dict[str, Any]:
    """Whether the creator may cash out through `provider` now, each missing requirement with
    the link that fixes it."""
    slug = provider["slug"]
    data = await signed_in.run(
        "PayoutEligibility", {"provider": slug, "currency": _currency_of(provider)}
    )
    found = data["payoutEligibility"]
    return {**found, "provider": slug, "requirements": _with_fixes(found["requirements"], slug)}


def _errors_by_field(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Payload errors keyed by the field they name (`form` for none)."""
    found: dict[str, list[str]] = {}
    for error in errors:
        found.setdefault(error.get("field") or "form", []).append(error["message"])
    return found


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
"""The refusals of `payoutQuote` and `requestPayout` that are missing eligibility requirements
(`RequirementCode`)."""


async def request_payout(request: web.Request) -> web.Response:
    """POST the cash-out form. Without `confirmed=yes` it is the review step: `payoutQuote`
    answers with the amounts to confirm, or with its errors next to their fields (a refusal for
    eligibility lists every missing requirement with its fix). With it, `requestPayout` runs and
    the browser goes to the payout's status page."""
    signed_in, form = await guarded_form(request, STUDIO)
    given = {name: form.get(name, "").strip() for name in ("diamonds", "provider", "currency")}
    given["currency"] = given["currency"].upper() or "USD"
    key = form.get("idempotency_key", "").strip() or None
    if not given["diamonds"].isdigit():
        not_a_number = {"diamonds": ["a whole number of diamonds"]}
        return await _home(signed_in, status=422, errors=not_a_number, given=given, key=key)
    amount = {
        "diamonds": int(given["diamonds"]),
        "provider": given["provider"],
        "currency": given["currency"],
    }
    confirmed = form.get("confirmed") == "yes"
    try:
        if confirmed:
            variables = {"input": {**amount, "idempotencyKey": key or _new_key()}}
            payload = (await signed_in.run("RequestPayout", variables))["requestPayout"]
        else:
            payload = (await signed_in.run("PayoutQuote", amount))["payoutQuote"]
    except OperationFailed as exc:
        return signed_in.refused(exc)
    if payload["errors"]:
        refused = _with_fixes(
            [e for e in payload["errors"] if e["code"] in REQUIREMENT_CODES], given["provider"]
        )
        return await _home(
            signed_in,
            status=422,
            errors=_errors_by_field(payload["errors"]),
            given=given,
            refused=refused or None,
            key=key,
        )
    if not confirmed:
        return await _home(signed_in, given=given, review=payload["quote"], key=key)
    raise web.HTTPSeeOther(f"{STUDIO.path}/payouts/{payload['payout']['id']}?requested=1")


def _new_key() -> str:
    return f"studio-{secrets.token_urlsafe(12)}"


async def payout_page(request: web.Request) -> web.Response:
    """One of the creator's payouts: its amounts, status and history, re-rendered by live.js
    when `payoutStatusChanged` says its status moved (only the panel, for a fetch)."""
    signed_in = guard(request, STUDIO)
    payout_id = request.match_info["payout_id"]
    try:
        data = await signed_in.run("StudioPayout", {"id": payout_id})
    except OperationFailed as exc:
        return signed_in.refused(exc)
    payout = data["payout"]
    if payout is None:
        return signed_in.refused(OperationFailed("NOT_FOUND", f"there is no payout {payout_id}"))
    values = {
        "payout": payout,
        "notice": "Payout requested." if request.query.get("requested") else None,
        "live_query": operation("PayoutStatusChanged"),
    }
    template = "studio/payout_panel.html" if wants_fragment(request) else "studio/payout.html"
    return signed_in.page(template, values)


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
        "total": me["streams"]["totalCount"],
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


async def setup_page(request: web.Request) -> web.Response:
    signed_in = guard(request, STUDIO)
    done = SETUP_DONE.get(request.query.get("done", ""))
    return await _setup(signed_in, notice=done)


SETUP_DONE = {
    "date-of-birth": "Date of birth saved.",
    "identity": "Identity verification started; finance reviews it.",
    "tax-form": "Tax form saved.",
    "payout-method": "Payout method added; finance verifies it next.",
}
"""What the Getting paid page says after each of its forms went through."""


async def _setup(
    signed_in: Guarded,
    *,
    status: int = 200,
    notice: str | None = None,
    section: str | None = None,
    errors: Mapping[str, list[str]] | None = None,
    given: Mapping[str, str] | None = None,
) -> web.Response:
    """What cashing out needs, where each missing requirement's link lands: the date of birth
    and country, the identity, the tax form and a payout method per provider, each with where it
    stands now and the form that fixes it (`section` names the form `errors` and `given` are
    of)."""
    try:
        data = await signed_in.run("StudioSetup")
    except OperationFailed as exc:
        return signed_in.refused(exc)
    profile = data["complianceProfile"]
    methods: dict[str, list[dict[str, Any]]] = {}
    for method in profile["payoutMethods"]:
        methods.setdefault(method["provider"], []).append(method)
    values = {
        "identity": profile["identity"],
        "tax": profile["taxProfile"],
        "methods": methods,
        "providers": data["payoutProviders"],
        "notice": notice,
        "section": section,
        "errors": errors or {},
        "given": given or {},
    }
    return signed_in.page("studio/setup.html", values, status=status)


def _setup_input(section: str, form: Mapping[str, str]) -> tuple[str, str, dict[str, Any]]:
    """The operation, its payload's field and its input for one form of the Getting paid page;
    `KeyError` for a section there is no form for."""
    text = {name: value.strip() for name, value in form.items()}
    if section == "date-of-birth":
        return (
            "DeclareDateOfBirth",
            "declareDateOfBirth",
            {"dateOfBirth": text.get("date_of_birth", ""), "country": text.get("country", "")},
        )
    if section == "identity":
        return (
            "StartIdentityVerification",
            "startIdentityVerification",
            {
                "method": "MANUAL",
                "legalName": text.get("legal_name", ""),
                "dateOfBirth": text.get("date_of_birth", ""),
                "country": text.get("country", ""),
            },
        )
    if section == "tax-form":
        return (
            "SubmitTaxForm",
            "submitTaxForm",
            {
                "form": text.get("form", ""),
                "legalName": text.get("legal_name", ""),
                "country": text.get("country") or None,
                "tinType": text.get("tin_type", ""),
                "tin": text.get("tin", ""),
                "certify": text.get("certify") == "yes",
            },
        )
    if section.startswith("payout-method-"):
        fields = [
            {"name": name.removeprefix("payee_"), "value": value}
            for name, value in text.items()
            if name.startswith("payee_") and value
        ]
        provider = section.removeprefix("payout-method-")
        return "AddPayoutMethod", "addPayoutMethod", {"provider": provider, "fields": fields}
    raise KeyError(section)


async def setup_action(request: web.Request) -> web.Response:
    """POST one form of the Getting paid page (CSRF-checked): its mutation runs, and the page
    comes back with the outcome, or with the payload's errors next to the fields they name."""
    signed_in, form = await guarded_form(request, STUDIO)
    section = request.match_info["section"]
    try:
        name, field, given = _setup_input(section, form)
    except KeyError:
        raise web.HTTPNotFound(text=f"no form {section!r} on the Getting paid page") from None
    shown = {k: v for k, v in form.items() if k not in ("csrf", "tin")}
    try:
        payload = (await signed_in.run(name, {"input": given}))[field]
    except OperationFailed as exc:
        problem = {"form": [exc.message]}
        return await _setup(signed_in, status=422, section=section, errors=problem, given=shown)
    if payload["errors"]:
        errors = _errors_by_field(payload["errors"])
        return await _setup(signed_in, status=422, section=section, errors=errors, given=shown)
    done = "payout-method" if section.startswith("payout-method-") else section
    raise web.HTTPSeeOther(f"{SETUP_PATH}?done={done}#{section}")
