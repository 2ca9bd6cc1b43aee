"""Taxpayer identification numbers: which kinds we accept, validated with python-stdnum (US SSN,
EIN and ITIN; the personal tax ids of most EU states and a few others), and shown only as their
last four characters. Error messages never repeat the number.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from types import ModuleType

from stdnum import exceptions as stdnum_errors
from stdnum.at import tin as at_tin
from stdnum.au import tfn as au_tfn
from stdnum.be import nn as be_nn
from stdnum.bg import egn as bg_egn
from stdnum.br import cpf as br_cpf
from stdnum.ca import sin as ca_sin
from stdnum.cz import rc as cz_rc
from stdnum.de import idnr as de_idnr
from stdnum.dk import cpr as dk_cpr
from stdnum.ee import ik as ee_ik
from stdnum.es import nif as es_nif
from stdnum.fi import hetu as fi_hetu
from stdnum.fr import nif as fr_nif
from stdnum.gb import utr as gb_utr
from stdnum.gr import vat as gr_vat
from stdnum.hr import oib as hr_oib
from stdnum.ie import pps as ie_pps
from stdnum.it import codicefiscale as it_codicefiscale
from stdnum.lt import asmens as lt_asmens
from stdnum.lv import pvn as lv_pvn
from stdnum.nl import bsn as nl_bsn
from stdnum.pl import pesel as pl_pesel
from stdnum.pt import nif as pt_nif
from stdnum.ro import cnp as ro_cnp
from stdnum.se import personnummer as se_personnummer
from stdnum.si import ddv as si_ddv
from stdnum.sk import rc as sk_rc
from stdnum.us import ein as us_ein
from stdnum.us import itin as us_itin
from stdnum.us import ssn as us_ssn

from kernel.errors import DomainError


class TinType(enum.StrEnum):
    """What the person says the number is."""

    SSN = "SSN"
    EIN = "EIN"
    ITIN = "ITIN"
    FOREIGN = "FOREIGN"
    """The tax id of the person's country of residence."""


@dataclass(frozen=True)
class Scheme:
    kind: str
    """Stored with the number: `US_SSN`, `DE_IDNR`, ..."""
    label: str
    module: ModuleType


US_SCHEMES: dict[TinType, Scheme] = {
    TinType.SSN: Scheme("US_SSN", "US Social Security number", us_ssn),
    TinType.EIN: Scheme("US_EIN", "US Employer Identification Number", us_ein),
    TinType.ITIN: Scheme("US_ITIN", "US Individual Taxpayer Identification Number", us_itin),
}

FOREIGN_SCHEMES: dict[str, Scheme] = {
    "AT": Scheme("AT_TIN", "Austrian tax number (Abgabenkontonummer)", at_tin),
    "BE": Scheme("BE_NN", "Belgian national number", be_nn),
    "BG": Scheme("BG_EGN", "Bulgarian personal number (EGN)", bg_egn),
    "CZ": Scheme("CZ_RC", "Czech birth number (rodné číslo)", cz_rc),
    "DE": Scheme("DE_IDNR", "German tax id (Steuer-IdNr)", de_idnr),
    "DK": Scheme("DK_CPR", "Danish CPR number", dk_cpr),
    "EE": Scheme("EE_IK", "Estonian personal code (isikukood)", ee_ik),
    "ES": Scheme("ES_NIF", "Spanish NIF (DNI or NIE)", es_nif),
    "FI": Scheme("FI_HETU", "Finnish personal identity code (HETU)", fi_hetu),
    "FR": Scheme("FR_NIF", "French tax number (numéro fiscal)", fr_nif),
    "GR": Scheme("GR_AFM", "Greek tax number (AFM)", gr_vat),
    "HR": Scheme("HR_OIB", "Croatian personal identification number (OIB)", hr_oib),
    "IE": Scheme("IE_PPS", "Irish PPS number", ie_pps),
    "IT": Scheme("IT_CF", "Italian fiscal code (codice fiscale)", it_codicefiscale),
    "LT": Scheme("LT_ASMENS", "Lithuanian personal code (asmens kodas)", lt_asmens),
    "LV": Scheme("LV_PK", "Latvian personal code", lv_pvn),
    "NL": Scheme("NL_BSN", "Dutch citizen service number (BSN)", nl_bsn),
    "PL": Scheme("PL_PESEL", "Polish PESEL", pl_pesel),
    "PT": Scheme("PT_NIF", "Portuguese tax number (NIF)", pt_nif),
    "RO": Scheme("RO_CNP", "Romanian personal numeric code (CNP)", ro_cnp),
    "SE": Scheme("SE_PNR", "Swedish personal identity number", se_personnummer),
    "SI": Scheme("SI_DS", "Slovenian tax number (davčna številka)", si_ddv),
    "SK": Scheme("SK_RC", "Slovak birth number (rodné číslo)", sk_rc),
    "GB": Scheme("GB_UTR", "UK Unique Taxpayer Reference", gb_utr),
    "CA": Scheme("CA_SIN", "Canadian Social Insurance Number", ca_sin),
    "AU": Scheme("AU_TFN", "Australian Tax File Number", au_tfn),
    "BR": Scheme("BR_CPF", "Brazilian CPF", br_cpf),
}
"""Countries without an entry here give an unchecked foreign TIN (`FOREIGN_UNCHECKED`)."""

UNCHECKED_KIND = "FOREIGN_UNCHECKED"
_UNCHECKED = re.compile(r"^[A-Z0-9]{4,30}$")
_SEPARATORS = re.compile(r"[\s\-./]")
MAX_RAW_LENGTH = 40


@dataclass(frozen=True)
class ValidTin:
    """A TIN that passed validation. `value` is the compact number: keep it out of logs."""

    kind: str
    value: str = field(repr=False)
    checked: bool
    """False for a foreign TIN of a country we cannot check the format of."""

    @property
    def last4(self) -> str:
        return last4(self.value)


def last4(value: str) -> str:
    return value[-4:]


def masked(last_four: str) -> str:
    """How the API shows a TIN: `•••••6789`."""
    return f"•••••{last_four}"


def _invalid(label: str, why: str) -> DomainError:
    return DomainError("INVALID_TIN", f"this is not a valid {label}: {why}", "tin")


def _why(exc: stdnum_errors.ValidationError) -> str:
    if isinstance(exc, stdnum_errors.InvalidChecksum):
        return "its check digit is wrong"
    if isinstance(exc, stdnum_errors.InvalidLength):
        return "it has the wrong number of characters"
    if isinstance(exc, stdnum_errors.InvalidComponent):
        return "a part of it is not issued (or not a valid date)"
    return "it has the wrong format"


def validate_tin(raw: str, tin_type: TinType, country: str | None) -> ValidTin:
    """The number, validated as `tin_type` (a FOREIGN one by the scheme of `country`).
    Raises `DomainError` INVALID_TIN, naming what is wrong but never the number itself."""
    if not raw or len(raw) > MAX_RAW_LENGTH or not raw.isprintable():
        raise DomainError(
            "INVALID_TIN", f"a TIN is 1 to {MAX_RAW_LENGTH} printable characters", "tin"
        )
    if tin_type is TinType.FOREIGN:
        if country is None or country == "US":
            raise DomainError(
                "INVALID_TIN",
                "a foreign TIN needs the country that issued it (not the US)",
                "tinType",
            )
        scheme = FOREIGN_SCHEMES.get(country)
        if scheme is None:
            compact = _SEPARATORS.sub("", raw).upper()
            if not _UNCHECKED.match(compact):
                raise _invalid(f"tax id of {country}", "expected 4 to 30 letters and digits")
            return ValidTin(kind=UNCHECKED_KIND, value=compact, checked=False)
    else:
        scheme = US_SCHEMES[tin_type]
    try:
        compact = scheme.module.validate(raw)
    except stdnum_errors.ValidationError as exc:
        raise _invalid(scheme.label, _why(exc)) from None
    value = _SEPARATORS.sub("", str(compact)).upper()
    return ValidTin(kind=scheme.kind, value=value, checked=True)
