"""Sanctions screening as plain data: reading OFAC's SDN list in its CSV format (`sdn.csv`, with
the aliases of `alt.csv` and the addresses of `add.csv`), and fuzzy-matching a person's names
against it with rapidfuzz. A match is a *possible* match: a person decides.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pycountry
from rapidfuzz import fuzz, process

NULL = "-0-"
"""OFAC's marker for an empty field."""
SCREENED_TYPES = frozenset({"individual", "entity"})
"""Vessels and aircraft are not people who get paid."""

_TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "prof"})
_PUNCTUATION = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")

_OFAC_COUNTRY_NAMES = {
    "Burma": "MM",
    "Congo, Democratic Republic of the": "CD",
    "Congo, Republic of the": "CG",
    "Korea, North": "KP",
    "Korea, South": "KR",
    "Russia": "RU",
    "Laos": "LA",
    "Vietnam": "VN",
    "Macau": "MO",
    "Taiwan": "TW",
    "West Bank": "PS",
    "Gaza": "PS",
    "Bolivia": "BO",
    "Tanzania": "TZ",
    "Turkey": "TR",
    "Moldova": "MD",
    "Venezuela": "VE",
    "Iran": "IR",
    "Syria": "SY",
}


class SdnFormatError(ValueError):
    """The file is not in the OFAC SDN CSV format; the message names the line."""


@dataclass(frozen=True)
class SdnEntry:
    uid: int
    """OFAC's `ent_num`, stable across list versions."""
    name: str
    kind: str
    """`individual`, `entity`, `vessel` or `aircraft`."""
    programs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    """ISO alpha-2 codes of the countries in the entry's addresses (when we know the name)."""
    remarks: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class SdnList:
    entries: tuple[SdnEntry, ...]
    digest: str
    """SHA-256 over the files' bytes: the same files load as the same version."""


def _field(value: str) -> str:
    cleaned = value.replace("\x1a", "").strip()
    return "" if cleaned == NULL else cleaned


def _rows(text: str, columns: int, what: str) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text))
    number = 0
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a stray carriage return, a field past the size limit
            raise SdnFormatError(f"{what} line {number}: {exc}") from None
        cells = [_field(c) for c in row]
        if not any(cells):
            continue  # blank lines and OFAC's trailing end-of-file character
        if len(row) != columns:
            raise SdnFormatError(f"{what} line {number}: expected {columns} fields, got {len(row)}")
        if not (cells[0].isascii() and cells[0].isdigit()):  # not "²", which int() refuses
            raise SdnFormatError(f"{what} line {number}: the entry number is not a number")
        yield number, cells


def country_code(name: str) -> str | None:
    """The ISO alpha-2 code of a country as OFAC spells it, when we know it."""
    cleaned = name.strip()
    if not cleaned:
        return None
    if cleaned in _OFAC_COUNTRY_NAMES:
        return _OFAC_COUNTRY_NAMES[cleaned]
    try:
        return str(pycountry.countries.lookup(cleaned).alpha_2)
    except LookupError:
        return None


def parse_sdn(sdn: str, alt: str = "", add: str = "") -> list[SdnEntry]:
    """Entries of `sdn.csv` (12 fields: ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign,
    Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks), with the aliases of `alt.csv`
    (ent_num, alt_num, alt_type, alt_name, alt_remarks) and the countries of `add.csv` (ent_num,
    add_num, address, city, country, add_remarks). Raises `SdnFormatError`."""
    aliases: dict[int, list[str]] = {}
    for number, cells in _rows(alt, 5, "alt"):
        if not cells[3]:
            raise SdnFormatError(f"alt line {number}: the alias is empty")
        aliases.setdefault(int(cells[0]), []).append(cells[3])
    countries: dict[int, list[str]] = {}
    for _number, cells in _rows(add, 6, "add"):
        code = country_code(cells[4])
        if code is not None and code not in countries.setdefault(int(cells[0]), []):
            countries[int(cells[0])].append(code)
    entries: list[SdnEntry] = []
    seen: set[int] = set()
    for number, cells in _rows(sdn, 12, "sdn"):
        uid = int(cells[0])
        if uid in seen:
            raise SdnFormatError(f"sdn line {number}: entry {uid} appears twice")
        if not cells[1]:
            raise SdnFormatError(f"sdn line {number}: the name is empty")
        seen.add(uid)
        programs = tuple(p.strip(" []") for p in cells[3].split("] [") if p.strip(" []"))
        entries.append(
            SdnEntry(
                uid=uid,
                name=cells[1],
                kind=cells[2].lower() or "entity",
                programs=programs,
                aliases=tuple(aliases.get(uid, ())),
                countries=tuple(countries.get(uid, ())),
                remarks=cells[11],
            )
        )
    if not entries:
        raise SdnFormatError("sdn: the list has no entries")
    return entries


def load_list(sdn: bytes, alt: bytes = b"", add: bytes = b"") -> SdnList:
    """Parse the files (OFAC publishes them in Latin-1; UTF-8 is accepted too)."""
    digest = hashlib.sha256()
    for part in (sdn, alt, add):
        digest.update(hashlib.sha256(part).digest())
    return SdnList(
        entries=tuple(parse_sdn(_decode(sdn), _decode(alt), _decode(add))),
        digest=digest.hexdigest(),
    )


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def normalize_name(name: str) -> str:
    """Lower case, no accents, no punctuation, no titles: `AL-ZAWAHIRI, Dr. Ayman` becomes
    `al zawahiri ayman`."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = _SPACES.sub(" ", _PUNCTUATION.sub(" ", plain)).split()
    return " ".join(w for w in words if w not in _TITLES)


@dataclass(frozen=True)
class Match:
    uid: int
    entry_name: str
    matched_name: str
    """The entry's name or alias that matched."""
    screened_name: str
    score: int
    """0 to 100."""
    country_match: bool | None
    """Whether the person's country is among the entry's; None when either is unknown."""


@dataclass
class Screener:
    """An index of one list's names for fast fuzzy matching. Build once per list version."""

    entries: Mapping[int, SdnEntry]
    _names: list[str] = field(default_factory=list)
    _owners: list[tuple[int, str]] = field(default_factory=list)
    _multi: list[str] = field(default_factory=list)
    _multi_owners: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def of(cls, entries: Iterable[SdnEntry]) -> Screener:
        screened = {e.uid: e for e in entries if e.kind in SCREENED_TYPES}
        screener = cls(entries=screened)
        for entry in screened.values():
            for name in entry.names:
                normal = normalize_name(name)
                if not normal:
                    continue
                screener._names.append(normal)
                screener._owners.append((entry.uid, name))
                if " " in normal:
                    screener._multi.append(normal)
                    screener._multi_owners.append((entry.uid, name))
        return screener

    def screen(self, names: Sequence[str], country: str | None, threshold: int) -> list[Match]:
        """Every entry one of `names` resembles at `threshold` (0-100) or more: the best-scoring
        name pair per entry, strongest first. Word order does not matter (token sort); when
        both sides have two words or more, a name contained in the other counts (token set),
        so a middle name does not hide a match."""
        best: dict[int, Match] = {}
        for screened in names:
            query = normalize_name(screened)
            if not query:
                continue
            candidates = [
                (self._owners[i], int(score))
                for _, score, i in process.extract(
                    query,
                    self._names,
                    scorer=fuzz.token_sort_ratio,
                    score_cutoff=threshold,
                    limit=None,
                )
            ]
            if " " in query:
                candidates += [
                    (self._multi_owners[i], int(score))
                    for _, score, i in process.extract(
                        query,
                        self._multi,
                        scorer=fuzz.token_set_ratio,
                        score_cutoff=threshold,
                        limit=None,
                    )
                ]
            for (uid, matched), score in candidates:
                entry = self.entries[uid]
                known = bool(entry.countries) and country is not None
                found = Match(
                    uid=uid,
                    entry_name=entry.name,
                    matched_name=matched,
                    screened_name=screened,
                    score=score,
                    country_match=(country in entry.countries) if known else None,
                )
                if uid not in best or score > best[uid].score:
                    best[uid] = found
        return sorted(best.values(), key=lambda m: (-m.score, m.country_match is not True, m.uid))
