"""The one input parser (graph/inputs.py) over arbitrary text and integers: each parser returns a
value or raises its typed error, never anything else, and accepts only the canonical form of
what the API gives out (encode then decode is the identity; decode then encode gives the input).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.errors import ApiError
from graph.global_ids import encode_cursor, to_global_id
from graph.inputs import (
    MAX_BIGINT,
    MAX_SUBJECT_LENGTH,
    InvalidInput,
    MalformedId,
    big_int,
    calendar_date,
    cursor_position,
    date_time,
    decode_pair,
    filter_text,
    subject,
)
from kernel.errors import DomainError

bounded = settings(max_examples=300, deadline=None)

anything_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
"""Whatever a JSON variable may hold."""

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)
numbers = st.integers(0, 10**18 - 1)


def value_or_refusal(parse: Callable[[Any], Any], value: Any, refusal: type[Exception]) -> Any:
    """What `parse` gives for `value`: its value, or None when it raised `refusal`. Anything
    else it raises fails the test."""
    try:
        return parse(value)
    except refusal:
        return None


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# Ids and cursors ----------------------------------------------------------------------------


@bounded
@given(st.text(max_size=300))
def test_any_text_is_an_id_only_in_the_form_given_out(text: str) -> None:
    pair = value_or_refusal(decode_pair, text, MalformedId)
    assert pair is None or to_global_id(*pair) == text


@bounded
@given(st.text(max_size=40))
def test_any_text_under_base64_is_an_id_only_when_canonical(inner: str) -> None:
    pair = value_or_refusal(decode_pair, b64(inner), MalformedId)
    assert pair is None or f"{pair[0]}:{pair[1]}" == inner


@bounded
@given(names, numbers)
def test_every_id_given_out_decodes_to_what_was_encoded(name: str, pk: int) -> None:
    assert decode_pair(to_global_id(name, pk)) == (name, pk)


@bounded
@given(st.text(max_size=100))
def test_any_text_is_a_cursor_only_in_the_form_given_out(text: str) -> None:
    position = value_or_refusal(cursor_position, text, MalformedId)
    assert position is None or encode_cursor(position) == text


@bounded
@given(numbers)
def test_every_cursor_given_out_decodes_to_its_position(position: int) -> None:
    assert cursor_position(encode_cursor(position)) == position


@bounded
@given(names.filter(lambda name: name != "cursor"), numbers)
def test_an_id_of_a_type_is_not_a_cursor(name: str, pk: int) -> None:
    assert value_or_refusal(cursor_position, to_global_id(name, pk), MalformedId) is None


# Subjects -----------------------------------------------------------------------------------


@bounded
@given(st.text(max_size=MAX_SUBJECT_LENGTH + 20))
def test_any_text_is_a_subject_as_given_or_invalid_subject(text: str) -> None:
    acceptable = (
        bool(text.strip())
        and len(text) <= MAX_SUBJECT_LENGTH
        and not any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in text)
    )
    if acceptable:
        assert subject(text, field="creator") == text
        return
    with pytest.raises(DomainError) as refusal:
        subject(text, field="creator")
    assert (refusal.value.code, refusal.value.field) == ("INVALID_SUBJECT", "creator")


@bounded
@given(st.text(max_size=MAX_SUBJECT_LENGTH + 20))
def test_any_text_is_a_filter_as_given_or_bad_user_input(text: str) -> None:
    refused = value_or_refusal(
        lambda given: filter_text(given, argument="provider"), text, ApiError
    )
    assert refused in (None, text)


# BigInt -------------------------------------------------------------------------------------


@bounded
@given(st.integers())
def test_any_integer_is_a_bigint_when_it_fits_in_64_bits(number: int) -> None:
    fits = abs(number) <= MAX_BIGINT
    assert value_or_refusal(big_int, number, InvalidInput) == (number if fits else None)
    assert value_or_refusal(big_int, str(number), InvalidInput) == (number if fits else None)


@bounded
@given(st.text(max_size=60))
def test_any_text_is_a_bigint_only_as_its_digits_are_written(text: str) -> None:
    number = value_or_refusal(big_int, text, InvalidInput)
    assert number is None or str(number) == text


@bounded
@given(anything_json)
def test_any_json_value_is_a_bigint_or_refused(value: Any) -> None:
    number = value_or_refusal(big_int, value, InvalidInput)
    assert number is None or (type(value) in (int, str) and isinstance(number, int))


# DateTime and Date --------------------------------------------------------------------------


@bounded
@given(st.text(max_size=60) | anything_json)
def test_any_value_is_a_utc_moment_or_refused(value: Any) -> None:
    moment = value_or_refusal(date_time, value, InvalidInput)
    assert moment is None or moment.tzinfo is UTC


@bounded
@given(st.datetimes(timezones=st.just(UTC)))
def test_every_moment_given_out_reads_back_as_itself(moment: datetime) -> None:
    assert date_time(moment.isoformat()) == moment


@bounded
@given(st.text(max_size=20) | anything_json)
def test_any_value_is_a_date_only_as_yyyy_mm_dd(value: Any) -> None:
    day = value_or_refusal(calendar_date, value, InvalidInput)
    assert day is None or day.isoformat() == value


@bounded
@given(st.dates())
def test_every_date_given_out_reads_back_as_itself(day: date) -> None:
    assert calendar_date(day.isoformat()) == day
