"""Whether an object the fake Stripe server answers has the shape Stripe publishes: the keys and
JSON types of Stripe's example objects (`specs/stripe_fixtures3.json`), nested objects included.

An object is recognised by its `object` field (`transfer`, `bank_account`, `list`, ...); lists are
checked item by item, an expanded id as the object it names, and a field a fixture shows as null
only where the fake fills it and Stripe documents it (`VERIFIED_OUTPUTS`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "specs" / "stripe_fixtures3.json"

VERIFIED_OUTPUTS: dict[str, Any] = {
    "address": {
        "city": "",
        "country": "",
        "line1": "",
        "line2": "",
        "postal_code": "",
        "state": "",
    },
    "dob": {"day": 1, "month": 1, "year": 1},
    "email": "",
    "first_name": "",
    "id_number": "",
    "id_number_type": "",
    "last_name": "",
    "phone": "",
    "sex": "",
    "unparsed_place_of_birth": "",
    "unparsed_sex": "",
}
"""A session's `verified_outputs` (only when expanded), as Stripe's API reference lists it; the
fixtures show sessions without it."""

OPTIONAL: dict[str, frozenset[str]] = {
    "event": frozenset({"account"}),
    "identity.verification_session": frozenset({"verified_outputs"}),
    "bank_account": frozenset({"account", "default_for_currency"}),
}
"""Fields Stripe sends only sometimes, which the fixtures leave out: a Connect event's `account`,
a session's expanded `verified_outputs`, a connected account's external bank account's
`account` and `default_for_currency`."""

FREE_FORM = frozenset({"metadata", "previous_attributes"})
"""Hashes whose keys are the client's or the event's own."""

LIST_KEYS = frozenset({"data", "has_more", "object", "url"})


@cache
def published() -> dict[str, Any]:
    """Stripe's example object of each resource the fake serves, by its `object` name."""
    resources: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return resources


def shape_errors(value: Any, resource: str | None = None) -> list[str]:
    """Every way `value` leaves the published shape of `resource` (default: its `object`)."""
    name = resource or (value.get("object") if isinstance(value, dict) else None)
    if not isinstance(name, str):
        return ["the answer is not a Stripe object"]
    errors: list[str] = []
    _object(value, name, name, errors)
    return errors


def _object(ours: Any, name: str, path: str, errors: list[str]) -> None:
    if name == "list":
        _list(ours, None, path, errors)
        return
    example = published().get(name)
    if example is None:
        errors.append(f"{path}: no published shape for {name!r}")
        return
    if not isinstance(ours, dict):
        errors.append(f"{path}: expected a {name} object")
        return
    _keys(ours, example, path, errors, OPTIONAL.get(name, frozenset()))
    for key, value in ours.items():
        if key in FREE_FORM:
            _free_form(value, f"{path}.{key}", errors)
        elif name == "event" and key == "data":
            _event_data(value, f"{path}.data", errors)
        elif name == "identity.verification_session" and key == "verified_outputs":
            if value is not None:
                _value(value, VERIFIED_OUTPUTS, f"{path}.{key}", errors)
        elif key in example:
            _value(value, example[key], f"{path}.{key}", errors)


def _keys(
    ours: dict[str, Any],
    example: dict[str, Any],
    path: str,
    errors: list[str],
    optional: frozenset[str],
) -> None:
    missing = sorted(set(example) - set(ours))
    extra = sorted(set(ours) - set(example) - optional)
    if missing:
        errors.append(f"{path}: missing {', '.join(missing)}")
    if extra:
        errors.append(f"{path}: not in Stripe's shape: {', '.join(extra)}")


def _value(ours: Any, example: Any, path: str, errors: list[str]) -> None:
    if ours is None:
        return  # a nullable field left empty
    if isinstance(ours, dict) and isinstance(ours.get("object"), str):
        _object(ours, ours["object"], path, errors)  # a nested or expanded object
        return
    if example is None:
        if isinstance(ours, dict | list):
            errors.append(f"{path}: an object where Stripe's shape has a scalar or null")
        return
    if isinstance(example, dict):
        if example.get("object") == "list":
            _list(ours, example, path, errors)
        elif not isinstance(ours, dict):
            errors.append(f"{path}: expected an object, got {type(ours).__name__}")
        else:
            _keys(ours, example, path, errors, frozenset())
            for key, value in ours.items():
                if key in example:
                    _value(value, example[key], f"{path}.{key}", errors)
        return
    if isinstance(example, list):
        if not isinstance(ours, list):
            errors.append(f"{path}: expected a list, got {type(ours).__name__}")
        elif example:
            for index, item in enumerate(ours):
                _value(item, example[0], f"{path}[{index}]", errors)
        return
    if _json_type(ours) != _json_type(example):
        errors.append(f"{path}: expected {_json_type(example)}, got {_json_type(ours)}")


def _list(ours: Any, example: dict[str, Any] | None, path: str, errors: list[str]) -> None:
    if not isinstance(ours, dict) or ours.get("object") != "list":
        errors.append(f"{path}: expected a list object")
        return
    if set(ours) != LIST_KEYS:
        errors.append(f"{path}: a list has exactly {', '.join(sorted(LIST_KEYS))}")
    items = ours.get("data")
    if not isinstance(items, list):
        errors.append(f"{path}.data: expected a list")
        return
    first = (example or {}).get("data") or [None]
    for index, item in enumerate(items):
        where = f"{path}.data[{index}]"
        if isinstance(item, dict) and isinstance(item.get("object"), str):
            _object(item, item["object"], where, errors)
        elif first[0] is not None:
            _value(item, first[0], where, errors)
        else:
            errors.append(f"{where}: a list item that is not a Stripe object")


def _event_data(ours: Any, path: str, errors: list[str]) -> None:
    if not isinstance(ours, dict) or set(ours) - {"object", "previous_attributes"}:
        errors.append(f"{path}: an event's data is object and previous_attributes")
        return
    obj = ours.get("object")
    if not isinstance(obj, dict) or not isinstance(obj.get("object"), str):
        errors.append(f"{path}.object: expected a Stripe object")
        return
    _object(obj, obj["object"], f"{path}.object", errors)
    if "previous_attributes" in ours:
        _free_form(ours["previous_attributes"], f"{path}.previous_attributes", errors)


def _free_form(ours: Any, path: str, errors: list[str]) -> None:
    if not isinstance(ours, dict):
        errors.append(f"{path}: expected a hash")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if isinstance(value, float) else "integer"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
