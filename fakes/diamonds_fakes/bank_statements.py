"""A fake bank for SEPA reconciliation tests: it reads the pain.001 files in a bank outbox, "pays"
their credit transfers and writes what a bank sends back, camt.053 statements (the debits
booked) and camt.054 notifications (a payment returned), into the outbox's `statements/` folder.

It can be told to disagree (`disagreements`, by EndToEndId): leave a payment out, book another
amount, give an entry another status, or book a payment that no pain.001 asked for.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from diamonds_fakes.disagreements import Disagreement, Disagreements

CAMT053 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
CAMT054 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
STATEMENTS = "statements"


@dataclass(frozen=True)
class SentCredit:
    """One credit transfer a pain.001 file asked the bank to make."""

    end_to_end_id: str
    amount_minor: int
    currency: str
    creditor: str
    iban: str
    file_name: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element, *path: str) -> ET.Element | None:
    found: ET.Element | None = element
    for name in path:
        if found is None:
            return None
        found = next((c for c in found if _local(c.tag) == name), None)
    return found


def _text(element: ET.Element, *path: str) -> str:
    found = _find(element, *path)
    return (found.text or "").strip() if found is not None else ""


def _decimal(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01")))


class FakeBank:
    """The bank behind a SEPA outbox (`<outbox root>/sepa`). Each `write_statement` books every
    credit of the outbox's pain.001 files not booked yet, in one camt.053 file."""

    def __init__(self, outbox_root: Path, *, account_iban: str = "DE89370400440532013000") -> None:
        self.folder = Path(outbox_root) / "sepa"
        self.account_iban = account_iban
        self.disagreements = Disagreements()
        self.booked: set[str] = set()
        self._numbers = itertools.count(1)

    def add_disagreement(self, disagreement: Disagreement) -> Disagreement:
        """`target` is the EndToEndId (`drop`, `amount`, `status`) or, for `extra`, the
        EndToEndId of a payment we never asked for."""
        return self.disagreements.add(disagreement)

    def credits(self) -> list[SentCredit]:
        """Every credit transfer in the outbox's pain.001 files, in file order."""
        found: list[SentCredit] = []
        for path in sorted(self.folder.glob("*.xml")):
            root = ET.parse(path).getroot()  # noqa: S314 - our own test files
            for tx in root.iter():
                if _local(tx.tag) != "CdtTrfTxInf":
                    continue
                amount = _find(tx, "Amt", "InstdAmt")
                assert amount is not None
                assert amount.text is not None
                found.append(
                    SentCredit(
                        end_to_end_id=_text(tx, "PmtId", "EndToEndId"),
                        amount_minor=int(Decimal(amount.text).scaleb(2)),
                        currency=amount.get("Ccy", "EUR"),
                        creditor=_text(tx, "Cdtr", "Nm"),
                        iban=_text(tx, "CdtrAcct", "Id", "IBAN"),
                        file_name=path.name,
                    )
                )
        return found

    def write_statement(
        self, booked_on: date, *, charges_minor: int = 0, created_at: datetime | None = None
    ) -> Path:
        """A camt.053 booking, on `booked_on`, every credit not booked yet (after the
        disagreements), each with `charges_minor` of bank charges; returns its path."""
        entries: list[str] = []
        for credit in self.credits():
            if credit.end_to_end_id in self.booked:
                continue
            self.booked.add(credit.end_to_end_id)
            e2e = credit.end_to_end_id
            if self.disagreements.dropped(e2e):
                continue
            entries.append(
                self._entry(
                    e2e,
                    self.disagreements.amount(e2e, credit.amount_minor),
                    credit.currency,
                    self.disagreements.status(e2e, "BOOK"),
                    booked_on,
                    charges_minor,
                    creditor=credit.creditor,
                )
            )
        for extra in self.disagreements.extras():
            if extra.target in self.booked:
                continue
            self.booked.add(extra.target)
            assert extra.amount is not None
            entries.append(
                self._entry(extra.target, extra.amount, "EUR", "BOOK", booked_on, charges_minor)
            )
        return self._write("camt.053", booked_on, entries, created_at)

    def write_return(
        self,
        end_to_end_id: str,
        booked_on: date,
        *,
        reason: str = "AC04",
        created_at: datetime | None = None,
    ) -> Path:
        """A camt.054 crediting back a booked payment, with its return reason."""
        credit = next(c for c in self.credits() if c.end_to_end_id == end_to_end_id)
        entry = self._entry(
            end_to_end_id,
            credit.amount_minor,
            credit.currency,
            "BOOK",
            booked_on,
            0,
            credit=True,
            reason=reason,
        )
        return self._write("camt.054", booked_on, [entry], created_at)

    def _entry(
        self,
        e2e: str,
        amount_minor: int,
        currency: str,
        status: str,
        booked_on: date,
        charges_minor: int,
        *,
        creditor: str = "",
        credit: bool = False,
        reason: str | None = None,
    ) -> str:
        amount = f'<Amt Ccy="{currency}">{_decimal(amount_minor)}</Amt>'
        indicator = "CRDT" if credit else "DBIT"
        charges = (
            f'<Chrgs><TtlChrgsAndTaxAmt Ccy="{currency}">{_decimal(charges_minor)}'
            "</TtlChrgsAndTaxAmt></Chrgs>"
            if charges_minor
            else ""
        )
        returned = f"<RtrInf><Rsn><Cd>{escape(reason)}</Cd></Rsn></RtrInf>" if reason else ""
        party = (
            f"<RltdPties><Cdtr><Pty><Nm>{escape(creditor)}</Nm></Pty></Cdtr></RltdPties>"
            if creditor
            else ""
        )
        number = next(self._numbers)
        return (
            f"<Ntry><NtryRef>{number}</NtryRef>{amount}<CdtDbtInd>{indicator}</CdtDbtInd>"
            f"<Sts><Cd>{escape(status)}</Cd></Sts>"
            f"<BookgDt><Dt>{booked_on.isoformat()}</Dt></BookgDt>"
            f"<ValDt><Dt>{booked_on.isoformat()}</Dt></ValDt>"
            f"<AcctSvcrRef>FAKEBANK-{number:08d}</AcctSvcrRef>"
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
            "</Domn></BkTxCd>"
            f"{charges}<NtryDtls><TxDtls><Refs><EndToEndId>{escape(e2e)}</EndToEndId></Refs>"
            f"{amount}<CdtDbtInd>{indicator}</CdtDbtInd>{party}{returned}</TxDtls></NtryDtls>"
            "</Ntry>"
        )

    def _write(
        self, message: str, booked_on: date, entries: list[str], created_at: datetime | None
    ) -> Path:
        created = (created_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        number = next(self._numbers)
        ident = f"FAKE-{message.upper().replace('.', '')}-{booked_on:%Y%m%d}-{number}"
        account = f"<Acct><Id><IBAN>{self.account_iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        if message == "camt.053":
            body = (
                f'<Document xmlns="{CAMT053}"><BkToCstmrStmt>'
                f"<GrpHdr><MsgId>{ident}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"
                f"<Stmt><Id>{ident}</Id><CreDtTm>{created}</CreDtTm>{account}"
                f"{''.join(entries)}</Stmt></BkToCstmrStmt></Document>"
            )
        else:
            body = (
                f'<Document xmlns="{CAMT054}"><BkToCstmrDbtCdtNtfctn>'
                f"<GrpHdr><MsgId>{ident}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>"
                f"<Ntfctn><Id>{ident}</Id><CreDtTm>{created}</CreDtTm>{account}"
                f"{''.join(entries)}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
            )
        folder = self.folder / STATEMENTS
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{ident}.xml"
        path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + body, encoding="utf-8")
        return path
