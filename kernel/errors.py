"""Business refusals, shared by every domain: a code for the API's error enums, the input field at
fault, and a message a person can read. Raising one inside a write transaction rolls it back.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        self.code = code
        self.message = message
        self.field = field
        super().__init__(f"{code}: {message}")


class NotFound(DomainError):
    """Something named by id does not exist (or is not visible to the caller)."""
