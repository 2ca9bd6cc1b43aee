"""Ids and cursors are decoded in one place and accept only the canonical form they were given
out in: over arbitrary text the decoder returns that form's value or raises `MalformedId`."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graph.global_ids import MalformedId, decode_cursor, decode_pair, encode_cursor, to_global_id


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@given(st.text(max_size=300))
def test_arbitrary_text_decodes_to_its_canonical_form_or_is_malformed(text: str) -> None:
    try:
        name, pk = decode_pair(text)
    except MalformedId:
        return
    assert to_global_id(name, pk) == text


@given(st.text(max_size=40))
def test_arbitrary_text_under_base64_decodes_only_when_canonical(inner: str) -> None:
    text = b64(inner)
    try:
        name, pk = decode_pair(text)
    except MalformedId:
        return
    assert f"{name}:{pk}" == inner


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True), st.integers(0, 10**18 - 1))
def test_every_id_given_out_decodes(name: str, pk: int) -> None:
    assert decode_pair(to_global_id(name, pk)) == (name, pk)
    assert decode_cursor(encode_cursor(pk)) == pk


@pytest.mark.parametrize(
    "text",
    [
        b64("User:²"),  # isdigit() is true, int() refuses it
        b64("User:\u0661"),  # Arabic-Indic one: int() reads 1
        b64("User:01"),
        b64("User:+1"),
        b64("User: 1"),
        b64("User:1\n"),
        b64("Üser:1"),
        b64("User:1")[:-1],  # padding dropped
        b64("User:1") + "==",  # padding added
        "VXNlcjox====",
        "VXNlcjox\n",
        "VXNl cjox",
        "VXNlcjoxMh==",  # "User:12" with non-zero spare bits (canonical: "VXNlcjoxMg==")
        "",
    ],
)
def test_non_canonical_ids_are_malformed(text: str) -> None:
    with pytest.raises(MalformedId):
        decode_pair(text)
