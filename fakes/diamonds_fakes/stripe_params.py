"""What the fake Stripe server accepts, endpoint by endpoint: every parameter Stripe's published API
takes there, its type and its enums, and which fields `expand[]` can fill. What is not here is
refused as Stripe refuses it (`parameter_unknown`, `Invalid currency`, `cannot be expanded`).

Stripe's OpenAPI document is too large to ship, so the table is declared: its names are those of
Stripe's API reference and of the request types stripe-python generates from that document
(`stripe.params.*`); `tests/test_fake_stripe.py` checks every name here against those types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

JSON = dict[str, Any]

CURRENCIES = frozenset(
    [
        "usd",
        "aed",
        "afn",
        "all",
        "amd",
        "ang",
        "aoa",
        "ars",
        "aud",
        "awg",
        "azn",
        "bam",
        "bbd",
        "bdt",
        "bgn",
        "bhd",
        "bif",
        "bmd",
        "bnd",
        "bob",
        "brl",
        "bsd",
        "bwp",
        "byn",
        "bzd",
        "cad",
        "cdf",
        "chf",
        "clp",
        "cny",
        "cop",
        "crc",
        "cve",
        "czk",
        "djf",
        "dkk",
        "dop",
        "dzd",
        "egp",
        "etb",
        "eur",
        "fjd",
        "fkp",
        "gbp",
        "gel",
        "gip",
        "gmd",
        "gnf",
        "gtq",
        "gyd",
        "hkd",
        "hnl",
        "htg",
        "huf",
        "idr",
        "ils",
        "inr",
        "isk",
        "jmd",
        "jod",
        "jpy",
        "kes",
        "kgs",
        "khr",
        "kmf",
        "krw",
        "kwd",
        "kyd",
        "kzt",
        "lak",
        "lbp",
        "lkr",
        "lrd",
        "lsl",
        "mad",
        "mdl",
        "mga",
        "mkd",
        "mmk",
        "mnt",
        "mop",
        "mur",
        "mvr",
        "mwk",
        "mxn",
        "myr",
        "mzn",
        "nad",
        "ngn",
        "nio",
        "nok",
        "npr",
        "nzd",
        "omr",
        "pab",
        "pen",
        "pgk",
        "php",
        "pkr",
        "pln",
        "pyg",
        "qar",
        "ron",
        "rsd",
        "rub",
        "rwf",
        "sar",
        "sbd",
        "scr",
        "sek",
        "sgd",
        "shp",
        "sle",
        "sos",
        "srd",
        "std",
        "szl",
        "thb",
        "tjs",
        "tnd",
        "top",
        "try",
        "ttd",
        "twd",
        "tzs",
        "uah",
        "ugx",
        "uyu",
        "uzs",
        "vnd",
        "vuv",
        "wst",
        "xaf",
        "xcd",
        "xof",
        "xpf",
        "yer",
        "zar",
        "zmw",
    ]
)
"""The currencies Stripe takes (ISO 4217, lower case), as its currency list publishes them."""


class Kind(Enum):
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CURRENCY = "currency"
    METADATA = "metadata"
    OBJECT = "object"
    LIST = "list"
    RANGE = "range"
    """An integer, or `{gt, gte, lt, lte}` of integers (the `created` filters of lists)."""
    OPAQUE = "opaque"
    """A parameter Stripe takes that the fake does not model: accepted, its value unread."""


@dataclass(frozen=True)
class Param:
    kind: Kind
    choices: frozenset[str] = frozenset()
    """For a string: the only values allowed (empty: any)."""
    max_length: int | None = None
    fields: Mapping[str, Param] = field(default_factory=dict)
    item: Param | None = None


@dataclass(frozen=True)
class Endpoint:
    params: Mapping[str, Param]
    expandable: frozenset[str] = frozenset()


class ParamError(Exception):
    """A request Stripe would refuse: `code` and `param` as Stripe names them."""

    def __init__(self, message: str, *, code: str | None, param: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param


def _enum(*values: str) -> Param:
    return Param(Kind.STRING, choices=frozenset(values))


STRING = Param(Kind.STRING, max_length=5000)
ID = Param(Kind.STRING, max_length=5000)
INTEGER = Param(Kind.INTEGER)
BOOLEAN = Param(Kind.BOOLEAN)
CURRENCY = Param(Kind.CURRENCY)
METADATA = Param(Kind.METADATA)
OPAQUE = Param(Kind.OPAQUE)
RANGE = Param(Kind.RANGE)
EXPAND = Param(Kind.LIST, item=Param(Kind.STRING))
SOURCE_TYPE = _enum("bank_account", "card", "fpx")


def _object(**fields: Param) -> Param:
    return Param(Kind.OBJECT, fields=fields)


def _endpoint(expandable: tuple[str, ...] = (), /, **params: Param) -> Endpoint:
    return Endpoint({"expand": EXPAND, **params}, frozenset(expandable))


PAGE: dict[str, Param] = {"limit": INTEGER, "starting_after": ID, "ending_before": ID}
SESSION_EXPANDABLE = ("verified_outputs", "verified_outputs.dob")

ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("POST", "/v1/accounts"): _endpoint(
        account_token=ID,
        business_profile=OPAQUE,
        business_type=_enum("company", "government_entity", "individual", "non_profit"),
        capabilities=OPAQUE,
        company=OPAQUE,
        controller=OPAQUE,
        country=Param(Kind.STRING, max_length=2),
        default_currency=CURRENCY,
        documents=OPAQUE,
        email=STRING,
        external_account=OPAQUE,
        groups=OPAQUE,
        individual=OPAQUE,
        metadata=METADATA,
        settings=OPAQUE,
        tos_acceptance=OPAQUE,
        type=_enum("custom", "express", "standard"),
    ),
    ("GET", "/v1/accounts/{id}"): _endpoint(),
    ("GET", "/v1/balance"): _endpoint(),
    ("POST", "/v1/transfers"): _endpoint(
        ("balance_transaction", "destination"),
        amount=INTEGER,
        currency=CURRENCY,
        description=STRING,
        destination=ID,
        metadata=METADATA,
        source_transaction=ID,
        source_type=SOURCE_TYPE,
        transfer_group=STRING,
    ),
    ("GET", "/v1/transfers"): _endpoint(
        ("data.balance_transaction", "data.destination"),
        created=RANGE,
        destination=ID,
        transfer_group=STRING,
        **PAGE,
    ),
    ("GET", "/v1/transfers/{id}"): _endpoint(("balance_transaction", "destination")),
    ("POST", "/v1/transfers/{id}/reversals"): _endpoint(
        ("balance_transaction", "transfer"),
        amount=INTEGER,
        description=STRING,
        metadata=METADATA,
        refund_application_fee=BOOLEAN,
    ),
    ("GET", "/v1/transfers/{id}/reversals"): _endpoint(**PAGE),
    ("POST", "/v1/payouts"): _endpoint(
        ("balance_transaction",),
        amount=INTEGER,
        currency=CURRENCY,
        description=STRING,
        destination=ID,
        metadata=METADATA,
        method=_enum("instant", "standard"),
        payout_method=ID,
        source_type=SOURCE_TYPE,
        statement_descriptor=Param(Kind.STRING, max_length=22),
    ),
    ("GET", "/v1/payouts"): _endpoint(
        ("data.balance_transaction",),
        arrival_date=RANGE,
        created=RANGE,
        destination=ID,
        status=STRING,
        **PAGE,
    ),
    ("GET", "/v1/payouts/{id}"): _endpoint(("balance_transaction",)),
    ("POST", "/v1/payouts/{id}/cancel"): _endpoint(("balance_transaction",)),
    ("GET", "/v1/balance_transactions"): _endpoint(
        created=RANGE,
        currency=CURRENCY,
        payout=ID,
        source=ID,
        type=STRING,
        **PAGE,
    ),
    ("GET", "/v1/balance_transactions/{id}"): _endpoint(),
    ("GET", "/v1/events"): _endpoint(
        created=RANGE,
        delivery_success=BOOLEAN,
        type=STRING,
        types=Param(Kind.LIST, item=STRING),
        **PAGE,
    ),
    ("GET", "/v1/events/{id}"): _endpoint(),
    ("POST", "/v1/payment_intents"): _endpoint(
        amount=INTEGER,
        currency=CURRENCY,
        amount_details=OPAQUE,
        application_fee_amount=INTEGER,
        automatic_payment_methods=_object(
            enabled=BOOLEAN, allow_redirects=_enum("always", "never")
        ),
        capture_method=_enum("automatic", "automatic_async", "manual"),
        confirm=BOOLEAN,
        confirmation_method=_enum("automatic", "manual"),
        confirmation_token=ID,
        customer=ID,
        customer_account=ID,
        description=STRING,
        error_on_requires_action=BOOLEAN,
        excluded_payment_method_types=OPAQUE,
        hooks=OPAQUE,
        mandate=ID,
        mandate_data=OPAQUE,
        metadata=METADATA,
        off_session=OPAQUE,
        on_behalf_of=ID,
        payment_details=OPAQUE,
        payment_method=ID,
        payment_method_configuration=ID,
        payment_method_data=OPAQUE,
        payment_method_options=OPAQUE,
        payment_method_types=Param(Kind.LIST, item=STRING),
        allowed_payment_method_types=Param(Kind.LIST, item=STRING),
        radar_options=OPAQUE,
        receipt_email=STRING,
        return_url=STRING,
        setup_future_usage=_enum("off_session", "on_session"),
        shipping=OPAQUE,
        statement_descriptor=Param(Kind.STRING, max_length=22),
        statement_descriptor_suffix=Param(Kind.STRING, max_length=22),
        transfer_data=OPAQUE,
        transfer_group=STRING,
        use_stripe_sdk=BOOLEAN,
    ),
    ("GET", "/v1/payment_intents/{id}"): _endpoint(client_secret=STRING),
    ("POST", "/v1/identity/verification_sessions"): _endpoint(
        SESSION_EXPANDABLE,
        client_reference_id=STRING,
        metadata=METADATA,
        options=_object(
            document=_object(
                allowed_types=Param(
                    Kind.LIST, item=_enum("driving_license", "id_card", "passport")
                ),
                require_id_number=BOOLEAN,
                require_live_capture=BOOLEAN,
                require_matching_selfie=BOOLEAN,
            ),
        ),
        provided_details=_object(email=STRING, phone=STRING),
        related_customer=ID,
        related_customer_account=ID,
        related_person=_object(account=ID, person=ID),
        return_url=STRING,
        type=_enum("document", "id_number"),
        verification_flow=ID,
    ),
    ("GET", "/v1/identity/verification_sessions/{id}"): _endpoint(SESSION_EXPANDABLE),
    ("POST", "/v1/identity/verification_sessions/{id}/cancel"): _endpoint(SESSION_EXPANDABLE),
}
"""Every endpoint the fake serves, by method and route (as aiohttp names it)."""

OLDER_NAMES = frozenset({"payment_method_types"})
"""Parameters older API versions take that the newest renamed (`allowed_payment_method_types`):
accepted still, as Stripe accepts them from clients pinned to those versions."""


def check(endpoint: Endpoint, params: JSON) -> list[str]:
    """Raise `ParamError` for the first parameter Stripe would refuse; return `expand[]`."""
    _check_fields(endpoint.params, params, "")
    expand = params.get("expand", [])
    paths = [expand] if isinstance(expand, str) else list(expand)
    for path in paths:
        if path not in endpoint.expandable:
            raise ParamError(
                f"This property cannot be expanded ({path}).", code=None, param="expand"
            )
    return paths


def _name(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _check_fields(spec: Mapping[str, Param], given: JSON, prefix: str) -> None:
    for key, value in given.items():
        name = _name(prefix, key)
        param = spec.get(key)
        if param is None:
            raise ParamError(
                f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
        _check_value(param, value, name)


def _invalid(message: str, name: str, code: str = "parameter_invalid") -> ParamError:
    return ParamError(message, code=code, param=name)


_INTEGER = re.compile(r"-?[0-9]+")


def _check_value(param: Param, value: Any, name: str) -> None:
    kind = param.kind
    if kind is Kind.OPAQUE:
        return
    if kind is Kind.METADATA:
        if value == "":
            return
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _invalid("Invalid hash", name)
        return
    if kind is Kind.OBJECT:
        if value == "":
            return
        if not isinstance(value, dict):
            raise _invalid("Invalid hash", name)
        _check_fields(param.fields, value, name)
        return
    if kind is Kind.LIST:
        items = [value] if isinstance(value, str) else value
        if isinstance(items, dict) or not isinstance(items, list):
            raise _invalid("Invalid array", name)
        assert param.item is not None
        for index, item in enumerate(items):
            _check_value(param.item, item, f"{name}[{index}]")
        return
    if kind is Kind.RANGE:
        if isinstance(value, dict):
            for op, bound in value.items():
                if op not in ("gt", "gte", "lt", "lte"):
                    raise ParamError(
                        f"Received unknown parameter: {name}[{op}]",
                        code="parameter_unknown",
                        param=f"{name}[{op}]",
                    )
                _check_value(INTEGER, bound, f"{name}[{op}]")
            return
        _check_value(INTEGER, value, name)
        return
    if not isinstance(value, str):
        raise _invalid(f"Invalid {kind.value}", name)
    if kind is Kind.INTEGER:
        if not _INTEGER.fullmatch(value):
            raise _invalid(f"Invalid integer: {value}", name, "parameter_invalid_integer")
    elif kind is Kind.BOOLEAN:
        if value not in ("true", "false"):
            raise _invalid(f"Invalid boolean: {value}", name)
    elif kind is Kind.CURRENCY:
        if value.lower() not in CURRENCIES:
            raise ParamError(
                f"Invalid currency: {value}. Stripe currently supports these currencies: "
                + ", ".join(sorted(CURRENCIES)),
                code=None,
                param=name,
            )
    elif param.choices and value not in param.choices:
        raise _invalid(
            f"Invalid {name.rpartition('[')[2].rstrip(']') or name}: must be one of "
            + ", ".join(sorted(param.choices)),
            name,
        )
    elif param.max_length is not None and len(value) > param.max_length:
        raise _invalid(
            f"Invalid string: {value[:20]}...; must be at most {param.max_length} characters",
            name,
        )
