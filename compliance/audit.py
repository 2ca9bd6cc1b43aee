"""What compliance writes to the kernel's audit log (`kernel/audit.py`): its actions, the actors
of decisions nobody made by hand, and how a person is named as the target. Details never carry a
TIN or an account number, only their last four.
"""

from __future__ import annotations

import enum

SYSTEM = "system:compliance"
"""The actor of decisions nobody made by hand (a screening run, an expiry)."""
STRIPE = "stripe:identity"
"""The actor of changes a Stripe Identity webhook reported."""


class Action(enum.StrEnum):
    IDENTITY_STARTED = "COMPLIANCE_IDENTITY_STARTED"
    IDENTITY_STATUS_CHANGED = "COMPLIANCE_IDENTITY_STATUS_CHANGED"
    IDENTITY_REVIEWED = "COMPLIANCE_IDENTITY_REVIEWED"
    BIRTH_DATE_DECLARED = "COMPLIANCE_BIRTH_DATE_DECLARED"
    TAX_FORM_SUBMITTED = "COMPLIANCE_TAX_FORM_SUBMITTED"
    TIN_DECRYPTED = "COMPLIANCE_TIN_DECRYPTED"
    KEYS_ROTATED = "COMPLIANCE_KEYS_ROTATED"
    PAYOUT_METHOD_ADDED = "COMPLIANCE_PAYOUT_METHOD_ADDED"
    PAYOUT_METHOD_REVIEWED = "COMPLIANCE_PAYOUT_METHOD_REVIEWED"
    SANCTIONS_LIST_LOADED = "COMPLIANCE_SANCTIONS_LIST_LOADED"
    SANCTIONS_SCREENED = "COMPLIANCE_SANCTIONS_SCREENED"
    SANCTIONS_HIT_DECIDED = "COMPLIANCE_SANCTIONS_HIT_DECIDED"
    PAYOUT_GATE_DECIDED = "COMPLIANCE_PAYOUT_GATE_DECIDED"
    YEAR_END_REPORT = "COMPLIANCE_YEAR_END_REPORT"


def user_target(user_id: int) -> str:
    return f"user:{user_id}"
