"""Checks of raw input shared by the economy's operations: quantities, text and idempotency keys.

Each returns the cleaned value or raises a `DomainError` naming the field.
"""

from __future__ import annotations

from kernel.errors import DomainError


def whole_number(value: int, *, field: str, code: str, low: int, high: int, what: str) -> int:
    if not low <= value <= high:
        raise DomainError(
            code, f"{what} must be between {low:,} and {high:,}, got {value:,}", field
        )
    return value


def text_field(value: str, *, field: str, code: str, max_length: int, what: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise DomainError(code, f"{what} must not be empty", field)
    if len(cleaned) > max_length:
        raise DomainError(code, f"{what} must be at most {max_length} characters", field)
    if any(ord(ch) < 32 for ch in cleaned):
        raise DomainError(code, f"{what} must not contain control characters", field)
    return cleaned


def unstorable(value: str) -> bool:
    """Whether `value` holds a control character (DEL included) or a lone surrogate: neither
    database stores them, and PostgreSQL cannot even compare a NUL."""
    return any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in value)


MAX_SUBJECT_LENGTH = 255
"""A subject (a token's `sub`, a `creator:` argument) fits the users table's column."""


def subject(value: str, *, field: str) -> str:
    """A person's subject as given: 1 to 255 characters, not only blanks, no control characters
    and no lone surrogates (neither database stores them). Raises INVALID_SUBJECT naming `field`."""
    if not value.strip() or len(value) > MAX_SUBJECT_LENGTH:
        raise DomainError(
            "INVALID_SUBJECT",
            f"a subject has 1 to {MAX_SUBJECT_LENGTH} characters, not only blanks",
            field,
        )
    if unstorable(value):
        raise DomainError(
            "INVALID_SUBJECT", "a subject has no control characters or lone surrogates", field
        )
    return value
