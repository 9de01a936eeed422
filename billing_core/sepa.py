"""SEPA direct debit: identifiers, pain.008 collection files, returns, debit dates.

Free of any Odoo import. This module

* checks and normalises the identifiers a collection needs: the creditor
  identifier (ISO 7064 mod 97-10 over the identifier *without* its 3-character
  business code, ``python-stdnum``'s ``eu.at_02``; German identifiers are 18
  characters ``DEppZZZ0nnnnnnnnnn``), IBANs (checksum and national check
  digits, ``schwifty``) and BICs;
* transliterates free text (names, remittance) to the SEPA character set
  ``a-z A-Z 0-9 / - ? : ( ) . , ' +`` and space (German umlauts become
  ``ae``/``oe``/``ue``, ``ß`` becomes ``ss``, ``&`` becomes ``+``);
* builds a customer direct debit initiation, ``pain.008.001.08`` (the 2019
  ISO 20022 version the EPC and the German banks require from Nov 2025) or
  the older ``pain.008.001.02``, and validates it against the official XSD
  shipped with ``sepaxml`` (only its schema files are used);
* reads such a file back (:func:`read_pain008`) and extracts returned or
  rejected collections from a bank's ``pain.002`` status report or ``camt.054``
  (also ``camt.052``/``camt.053``) notification (:func:`parse_status_report`);
* computes the collection date from the due date and the pre-notification
  period (:func:`debit_date`).

Identifiers (message, payment information, end-to-end and mandate ids) are
*checked, never rewritten*: a silently transliterated or shortened end-to-end
id would no longer match the bank's return. Following the EPC implementation
guidelines they use the SEPA characters only, must not start or end with
``/`` nor contain ``//``; mandate ids and the creditor identifier contain no
space. Names (max 70) and the remittance text (max 140) are transliterated.

Amounts are :class:`~decimal.Decimal` euros with at most 2 decimals, from
0.01 to 999,999,999.99.

Mandate amendments (``AmdmntInd`` true): a changed mandate id goes to
``OrgnlMndtId``. A changed debtor account goes to ``OrgnlDbtrAcct`` when the
new account is at the same bank (same country and bank code in the IBAN);
when the bank changed, the EPC rule is the code ``SMNDA`` in
``OrgnlDbtrAgt/FinInstnId/Othr/Id`` instead (since Nov 2016 "same mandate
with new debtor account"), and the original IBAN is not sent.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache

from lxml import etree
from schwifty import BIC, IBAN
from schwifty import exceptions as schwifty_errors
from stdnum.eu import at_02
from text_unidecode import unidecode

from .pricing import to_decimal

PAIN_008_001_08 = "pain.008.001.08"
PAIN_008_001_02 = "pain.008.001.02"
VERSIONS = (PAIN_008_001_08, PAIN_008_001_02)

CORE = "CORE"
B2B = "B2B"
SCHEMES = (CORE, B2B)

FRST = "FRST"
RCUR = "RCUR"
FNAL = "FNAL"
OOFF = "OOFF"
SEQUENCE_TYPES = (FRST, RCUR, FNAL, OOFF)

#: the characters allowed in SEPA messages (EPC "Latin character set")
SEPA_CHARSET: frozenset[str] = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")

NAME_LENGTH = 70
REMITTANCE_LENGTH = 140
ID_LENGTH = 35

MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")
CENT = Decimal("0.01")

#: ``DbtrAgt``/``CdtrAgt`` id when the BIC is not known (IBAN-only)
NOT_PROVIDED = "NOTPROVIDED"
#: ``OrgnlDbtrAgt`` id of an amendment whose debtor changed bank
SMNDA = "SMNDA"

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ẞ": "SS"})

_ID_RE = re.compile(r"[A-Za-z0-9/?:().,'+ -]+")
_CREDITOR_ID_RE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[A-Z0-9]{1,28}")
_GERMAN_CREDITOR_ID_RE = re.compile(r"DE[0-9]{2}[A-Z0-9]{3}0[0-9]{10}")
_BIC_RE = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
#: ``BICIdentifier`` of pain.008.001.02 is stricter than ``BICFIDec2014Identifier``
_BIC_02_RE = re.compile(r"[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?")

_MAX_ERRORS = 5


# ---------------------------------------------------------------------------
# Text and identifiers
# ---------------------------------------------------------------------------


class SepaValueError(ValueError):
    """A bad IBAN, BIC or creditor identifier, with a stable ``code`` saying why.

    ``str()`` is an English message for logs and tests; user interfaces translate ``code``
    (and ``params``) instead of showing a library's English text.

    Codes: ``empty``; IBAN ``iban_check_digits``, ``iban_national_check_digits``, ``iban_length``,
    ``iban_country``, ``iban_structure``, ``iban_invalid``; BIC ``bic_invalid``; creditor identifier
    ``creditor_malformed``, ``creditor_german_malformed``, ``creditor_check_digits`` (params
    ``found``, ``expected``).
    """

    def __init__(self, message: str, code: str, **params: str):
        super().__init__(message)
        self.code = code
        self.params = params


#: schwifty's exceptions → our codes (first match wins: subclasses before their parents)
_IBAN_ERROR_CODES = (
    (schwifty_errors.InvalidBBANChecksum, "iban_national_check_digits"),
    (schwifty_errors.InvalidChecksumDigits, "iban_check_digits"),
    (schwifty_errors.InvalidLength, "iban_length"),
    (schwifty_errors.InvalidCountryCode, "iban_country"),
    (schwifty_errors.InvalidStructure, "iban_structure"),
    (schwifty_errors.InvalidBankCode, "iban_structure"),
    (schwifty_errors.InvalidBranchCode, "iban_structure"),
    (schwifty_errors.InvalidAccountCode, "iban_structure"),
)


def transliterate(text: str, max_length: int | None = None) -> str:
    """``text`` in the SEPA character set, single-spaced, stripped, at most ``max_length`` long.

    German umlauts and ``ß`` are spelled out (``Müller`` -> ``Mueller``), ``&``
    becomes ``+``, other letters are transliterated by ``text_unidecode``
    (``Łódź`` -> ``Lodz``); whatever is still outside :data:`SEPA_CHARSET`
    becomes a space. Idempotent.
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    text = unicodedata.normalize("NFC", text or "").translate(_GERMAN)
    text = unidecode(text).replace("&", "+")
    text = " ".join("".join(c if c in SEPA_CHARSET else " " for c in text).split())
    if max_length is not None:
        text = text[:max_length].rstrip()
    return text


def _identifier(value: str | None, what: str, spaces: bool = True) -> str:
    """``value`` unchanged if it is a valid SEPA identifier, else ``ValueError`` saying why."""
    if not value:
        raise ValueError(f"{what} is empty")
    if len(value) > ID_LENGTH:
        raise ValueError(f"{what} {value!r} is longer than {ID_LENGTH} characters")
    if not _ID_RE.fullmatch(value):
        bad = "".join(sorted({c for c in value if c not in SEPA_CHARSET}))
        raise ValueError(f"{what} {value!r} contains characters outside the SEPA character set: {bad!r}")
    if not spaces and " " in value:
        raise ValueError(f"{what} {value!r} must not contain spaces")
    if value != value.strip():
        raise ValueError(f"{what} {value!r} must not start or end with a space")
    if value.startswith("/") or value.endswith("/") or "//" in value:
        raise ValueError(f"{what} {value!r} must not start or end with '/' nor contain '//'")
    return value


def _text(value: str, what: str, max_length: int) -> str:
    """``value`` transliterated; ``ValueError`` if nothing is left."""
    result = transliterate(value, max_length)
    if not result:
        raise ValueError(f"{what} {value!r} is empty in the SEPA character set")
    return result


def normalize_creditor_id(value: str) -> str:
    """The SEPA creditor identifier ``value``, compact and upper-case.

    The check digits (positions 3-4) are verified with ISO 7064 mod 97-10
    over the identifier without the business code (positions 5-7), which the
    creditor may choose freely. German identifiers must be 18 characters,
    ``DEppZZZ0nnnnnnnnnn``.
    """
    number = at_02.compact((value or "").upper())
    if not number:
        raise SepaValueError("the creditor identifier is empty", "empty")
    if not _CREDITOR_ID_RE.fullmatch(number):
        raise SepaValueError(
            f"creditor identifier {value!r} is malformed: expected a country code, 2 check digits, "
            f"a 3-character business code and a national identifier, at most 35 letters and digits",
            "creditor_malformed",
        )
    if number.startswith("DE") and not _GERMAN_CREDITOR_ID_RE.fullmatch(number):
        raise SepaValueError(
            f"German creditor identifier {value!r} is malformed: expected 18 characters DEppZZZ0nnnnnnnnnn "
            f"(DE, 2 check digits, business code, '0' and 10 digits)",
            "creditor_german_malformed",
        )
    if not at_02.is_valid(number):
        expected = at_02.calc_check_digits(number)
        raise SepaValueError(
            f"creditor identifier {value!r} has wrong check digits {number[2:4]} (expected {expected})",
            "creditor_check_digits",
            found=number[2:4],
            expected=expected,
        )
    return number


def normalize_iban(value: str, national: bool = True) -> str:
    """The IBAN ``value`` compact and upper-case, its checksum (and national check digits) verified.

    :param national: also verify the bank's own check digits inside the account number (BBAN); off
        for bank accounts in general (Odoo's own demo IBANs fail it), on where money is debited
    """
    if not (value or "").strip():
        raise SepaValueError("the IBAN is empty", "empty")
    try:
        return IBAN(value, validate_bban=national).compact
    except ValueError as exc:  # schwifty's exceptions are ValueErrors
        code = next((code for kind, code in _IBAN_ERROR_CODES if isinstance(exc, kind)), "iban_invalid")
        raise SepaValueError(f"invalid IBAN {value!r}: {exc}", code) from None


def bic_for_iban(iban: str) -> str | None:
    """The BIC of the bank of ``iban`` from ``schwifty``'s bank registry, ``None`` if unknown."""
    bic = IBAN(normalize_iban(iban)).bic
    return bic.compact if bic else None


def normalize_bic(value: str) -> str:
    """The BIC ``value`` compact and upper-case (8 or 11 characters)."""
    if not (value or "").strip():
        raise SepaValueError("the BIC is empty", "empty")
    try:
        bic = BIC(value).compact
    except ValueError as exc:
        raise SepaValueError(f"invalid BIC {value!r}: {exc}", "bic_invalid") from None
    if not _BIC_RE.fullmatch(bic):
        raise SepaValueError(f"invalid BIC {value!r}: expected 8 or 11 letters and digits", "bic_invalid")
    return bic


def _same_bank(iban: str, other: str) -> bool:
    """Whether both IBANs carry the same country and (non-empty) bank code."""
    first, second = IBAN(iban), IBAN(other)
    return first.country_code == second.country_code and bool(first.bank_code) and first.bank_code == second.bank_code


# ---------------------------------------------------------------------------
# Collection message
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    """A creditor or debtor: name and account; ``bic`` ``None`` for IBAN-only."""

    name: str
    iban: str
    bic: str | None = None


@dataclass(frozen=True)
class Amendment:
    """What changed in a mandate since the last collection (``AmdmntInd`` true).

    ``original_mandate_id``: the previous mandate reference, if it changed.
    ``original_iban``: the debtor's previous IBAN, if the account changed; sent
    as ``OrgnlDbtrAcct`` within the same bank, as ``SMNDA`` across banks.
    """

    original_mandate_id: str | None = None
    original_iban: str | None = None


@dataclass(frozen=True)
class Transaction:
    """One collection from one debtor under one mandate."""

    end_to_end_id: str
    amount: Decimal
    mandate_id: str
    mandate_date: date
    debtor: Party
    remittance: str
    amendment: Amendment | None = None


@dataclass(frozen=True)
class PaymentInfo:
    """A batch of collections with one date, scheme (``CORE``/``B2B``) and sequence type."""

    payment_info_id: str
    collection_date: date
    scheme: str
    sequence_type: str
    transactions: tuple[Transaction, ...]


@dataclass(frozen=True)
class CollectionMessage:
    """A pain.008 file: one creditor, one or more payment information blocks."""

    message_id: str
    created: datetime
    initiating_party: str
    creditor: Party
    creditor_id: str
    payment_infos: tuple[PaymentInfo, ...]


def _amount(value, what: str) -> Decimal:
    """``value`` as a euro amount with 2 decimals, within the SEPA limits."""
    try:
        amount = to_decimal(value, what)
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    if amount < MIN_AMOUNT:
        raise ValueError(f"{what} must be positive, got {amount}")
    if amount > MAX_AMOUNT:
        raise ValueError(f"{what} must not exceed {MAX_AMOUNT}, got {amount}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"{what} must not have more than 2 decimals, got {amount}")
    return amount.quantize(CENT)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    """A child ``tag`` of ``parent`` in ``parent``'s namespace."""
    element = etree.SubElement(parent, f"{{{etree.QName(parent).namespace}}}{tag}", attrib)
    if text is not None:
        element.text = text
    return element


def _account(parent: etree._Element, tag: str, iban: str) -> None:
    _sub(_sub(_sub(parent, tag), "Id"), "IBAN", iban)


def _agent(parent: etree._Element, tag: str, bic: str | None, bic_tag: str) -> None:
    institution = _sub(_sub(parent, tag), "FinInstnId")
    if bic:
        _sub(institution, bic_tag, bic)
    else:
        _sub(_sub(institution, "Othr"), "Id", NOT_PROVIDED)


def _bic(value: str | None, version: str, what: str) -> str | None:
    if not value:
        return None
    bic = normalize_bic(value)
    if version == PAIN_008_001_02 and not _BIC_02_RE.fullmatch(bic):
        raise ValueError(f"{what} BIC {bic} is not allowed in {PAIN_008_001_02}")
    return bic


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


@dataclass(frozen=True)
class _Tx:
    """A transaction with its values checked and normalised for the XML."""

    end_to_end_id: str
    amount: Decimal
    mandate_id: str
    mandate_date: date
    name: str
    iban: str
    bic: str | None
    remittance: str
    amended: bool
    original_mandate_id: str | None
    original_iban: str | None
    smnda: bool


def _check_transaction(tx: Transaction, info: PaymentInfo, version: str) -> _Tx:
    e2e = _identifier(tx.end_to_end_id, "end-to-end id")
    where = f"transaction {e2e!r}"
    mandate_id = _identifier(tx.mandate_id, f"{where}: mandate id", spaces=False)
    if not isinstance(tx.mandate_date, date) or isinstance(tx.mandate_date, datetime):
        raise ValueError(f"{where}: mandate date must be a date, got {tx.mandate_date!r}")
    if tx.mandate_date > info.collection_date:
        raise ValueError(f"{where}: mandate signed {tx.mandate_date}, after the collection date {info.collection_date}")
    iban = normalize_iban(tx.debtor.iban)
    original_mandate_id = original_iban = None
    smnda = False
    if tx.amendment is not None:
        amendment = tx.amendment
        if amendment.original_mandate_id:
            original_mandate_id = _identifier(
                amendment.original_mandate_id, f"{where}: original mandate id", spaces=False
            )
            if original_mandate_id == mandate_id:
                raise ValueError(f"{where}: the original mandate id equals the mandate id {mandate_id!r}")
        if amendment.original_iban:
            original_iban = normalize_iban(amendment.original_iban)
            if original_iban == iban:
                raise ValueError(f"{where}: the original IBAN equals the debtor's IBAN")
            if not _same_bank(original_iban, iban):
                original_iban, smnda = None, True
        if not (original_mandate_id or original_iban or smnda):
            raise ValueError(f"{where}: an amendment needs the original mandate id or the original IBAN")
    return _Tx(
        end_to_end_id=e2e,
        amount=_amount(tx.amount, f"{where}: amount"),
        mandate_id=mandate_id,
        mandate_date=tx.mandate_date,
        name=_text(tx.debtor.name, f"{where}: debtor name", NAME_LENGTH),
        iban=iban,
        bic=_bic(tx.debtor.bic, version, f"{where}: debtor"),
        remittance=transliterate(tx.remittance, REMITTANCE_LENGTH),
        amended=tx.amendment is not None,
        original_mandate_id=original_mandate_id,
        original_iban=original_iban,
        smnda=smnda,
    )


def _check_payment_infos(message: CollectionMessage, version: str) -> list[tuple[PaymentInfo, str, list[_Tx]]]:
    if not message.payment_infos:
        raise ValueError("the message has no payment information")
    seen_infos: set[str] = set()
    seen_e2e: set[str] = set()
    result = []
    for info in message.payment_infos:
        info_id = _identifier(info.payment_info_id, "payment information id")
        if info_id in seen_infos:
            raise ValueError(f"duplicate payment information id {info_id!r}")
        seen_infos.add(info_id)
        if info.scheme not in SCHEMES:
            raise ValueError(f"payment information {info_id!r}: unknown scheme {info.scheme!r}, expected CORE or B2B")
        if info.sequence_type not in SEQUENCE_TYPES:
            raise ValueError(
                f"payment information {info_id!r}: unknown sequence type {info.sequence_type!r}, "
                f"expected one of {', '.join(SEQUENCE_TYPES)}"
            )
        if not isinstance(info.collection_date, date) or isinstance(info.collection_date, datetime):
            raise ValueError(f"payment information {info_id!r}: collection date must be a date")
        if not info.transactions:
            raise ValueError(f"payment information {info_id!r} has no transactions")
        checked = []
        for tx in info.transactions:
            item = _check_transaction(tx, info, version)
            if item.end_to_end_id in seen_e2e:
                raise ValueError(f"duplicate end-to-end id {item.end_to_end_id!r}")
            seen_e2e.add(item.end_to_end_id)
            checked.append(item)
        result.append((info, info_id, checked))
    return result


def build_pain008(message: CollectionMessage, version: str = PAIN_008_001_08) -> bytes:
    """The collection ``message`` as a pain.008 XML document (UTF-8, with declaration).

    Every value is checked first (``ValueError`` naming the transaction and
    the reason); the result is validated against the official XSD before it
    is returned.
    """
    if version not in VERSIONS:
        raise ValueError(f"unsupported pain.008 version {version!r}, expected one of {', '.join(VERSIONS)}")
    bic_tag = "BICFI" if version == PAIN_008_001_08 else "BIC"
    message_id = _identifier(message.message_id, "message id")
    if not isinstance(message.created, datetime):
        raise ValueError(f"creation time must be a datetime, got {message.created!r}")
    initiating_party = _text(message.initiating_party, "initiating party", NAME_LENGTH)
    creditor_name = _text(message.creditor.name, "creditor name", NAME_LENGTH)
    creditor_iban = normalize_iban(message.creditor.iban)
    creditor_bic = _bic(message.creditor.bic, version, "creditor")
    creditor_id = normalize_creditor_id(message.creditor_id)
    infos = _check_payment_infos(message, version)

    root = etree.Element(
        f"{{urn:iso:std:iso:20022:tech:xsd:{version}}}Document",
        nsmap={None: f"urn:iso:std:iso:20022:tech:xsd:{version}"},
    )
    initiation = _sub(root, "CstmrDrctDbtInitn")
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", message_id)
    _sub(header, "CreDtTm", message.created.replace(microsecond=0).isoformat())
    _sub(header, "NbOfTxs", str(sum(len(txs) for _info, _id, txs in infos)))
    _sub(header, "CtrlSum", _money(sum((tx.amount for _info, _id, txs in infos for tx in txs), Decimal(0))))
    _sub(_sub(header, "InitgPty"), "Nm", initiating_party)

    for info, info_id, txs in infos:
        block = _sub(initiation, "PmtInf")
        _sub(block, "PmtInfId", info_id)
        _sub(block, "PmtMtd", "DD")
        _sub(block, "NbOfTxs", str(len(txs)))
        _sub(block, "CtrlSum", _money(sum((tx.amount for tx in txs), Decimal(0))))
        payment_type = _sub(block, "PmtTpInf")
        _sub(_sub(payment_type, "SvcLvl"), "Cd", "SEPA")
        _sub(_sub(payment_type, "LclInstrm"), "Cd", info.scheme)
        _sub(payment_type, "SeqTp", info.sequence_type)
        _sub(block, "ReqdColltnDt", info.collection_date.isoformat())
        _sub(_sub(block, "Cdtr"), "Nm", creditor_name)
        _account(block, "CdtrAcct", creditor_iban)
        _agent(block, "CdtrAgt", creditor_bic, bic_tag)
        _sub(block, "ChrgBr", "SLEV")
        scheme_id = _sub(_sub(_sub(_sub(block, "CdtrSchmeId"), "Id"), "PrvtId"), "Othr")
        _sub(scheme_id, "Id", creditor_id)
        _sub(_sub(scheme_id, "SchmeNm"), "Prtry", "SEPA")
        for tx in txs:
            item = _sub(block, "DrctDbtTxInf")
            _sub(_sub(item, "PmtId"), "EndToEndId", tx.end_to_end_id)
            _sub(item, "InstdAmt", _money(tx.amount), Ccy="EUR")
            mandate = _sub(_sub(item, "DrctDbtTx"), "MndtRltdInf")
            _sub(mandate, "MndtId", tx.mandate_id)
            _sub(mandate, "DtOfSgntr", tx.mandate_date.isoformat())
            _sub(mandate, "AmdmntInd", "true" if tx.amended else "false")
            if tx.amended:
                details = _sub(mandate, "AmdmntInfDtls")
                if tx.original_mandate_id:
                    _sub(details, "OrgnlMndtId", tx.original_mandate_id)
                if tx.original_iban:
                    _account(details, "OrgnlDbtrAcct", tx.original_iban)
                if tx.smnda:
                    _sub(_sub(_sub(_sub(details, "OrgnlDbtrAgt"), "FinInstnId"), "Othr"), "Id", SMNDA)
            _agent(item, "DbtrAgt", tx.bic, bic_tag)
            _sub(_sub(item, "Dbtr"), "Nm", tx.name)
            _account(item, "DbtrAcct", tx.iban)
            if tx.remittance:
                _sub(_sub(item, "RmtInf"), "Ustrd", tx.remittance)

    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(
        root, encoding="UTF-8", xml_declaration=False, pretty_print=True
    )
    validate_pain008(xml, version)
    return xml


# ---------------------------------------------------------------------------
# XML: schema validation and parsing
# ---------------------------------------------------------------------------

_schema_lock = threading.Lock()


@cache
def _schema(version: str) -> etree.XMLSchema:
    """The XSD of ``version`` shipped with ``sepaxml`` (located without importing it)."""
    spec = importlib.util.find_spec("sepaxml")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the sepaxml package (which ships the pain.008 XSDs) is not installed")
    path = os.path.join(list(spec.submodule_search_locations)[0], "schemas", f"{version}.xsd")
    return etree.XMLSchema(etree.parse(path))


def _parse(xml: bytes) -> etree._Element:
    """The root element of ``xml``; no entities resolved, no network access."""
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed XML: {exc}") from None


def validate_pain008(xml: bytes, version: str = PAIN_008_001_08) -> None:
    """``ValueError`` listing the first errors if ``xml`` is not a valid ``version`` document."""
    if version not in VERSIONS:
        raise ValueError(f"unsupported pain.008 version {version!r}, expected one of {', '.join(VERSIONS)}")
    document = _parse(xml)
    with _schema_lock:  # an lxml schema must not validate in two threads at once
        schema = _schema(version)
        if schema.validate(document):
            return
        errors = list(schema.error_log)
    lines = [f"line {error.line}: {error.message}" for error in errors[:_MAX_ERRORS]]
    more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
    raise ValueError(f"invalid {version} document{more}:\n" + "\n".join(lines))


def _local(element: etree._Element) -> str:
    """The tag of ``element`` without its namespace."""
    return element.tag.rpartition("}")[2]


def _children(element: etree._Element | None, name: str) -> list[etree._Element]:
    """The child elements of ``element`` whose local name is ``name``, any namespace."""
    if element is None:
        return []
    return [child for child in element if isinstance(child.tag, str) and _local(child) == name]


def _find(element: etree._Element | None, path: str) -> etree._Element | None:
    """The first element at ``path`` (local names separated by ``/``) below ``element``."""
    for name in path.split("/"):
        found = _children(element, name)
        if not found:
            return None
        element = found[0]
    return element


def _findall(element: etree._Element | None, path: str) -> list[etree._Element]:
    """All elements at ``path`` below ``element``."""
    elements = [element] if element is not None else []
    for name in path.split("/"):
        elements = [child for parent in elements for child in _children(parent, name)]
    return elements


def _value(element: etree._Element | None, path: str) -> str | None:
    found = _find(element, path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def _decimal(text: str | None, what: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{what} is not a number: {text!r}") from None


def _date(text: str | None, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"{what} is not a date: {text!r}") from None


def _document(xml: bytes) -> tuple[etree._Element, str | None]:
    """The message element (the child of ``Document``) and the namespace's version (``pain.008.001.08``)."""
    root = _parse(xml)
    namespace = etree.QName(root).namespace
    version = namespace.rsplit(":", 1)[-1] if namespace else None
    if _local(root) != "Document":
        return root, version
    messages = [child for child in root if isinstance(child.tag, str)]
    if len(messages) != 1:
        raise ValueError("the Document element must contain exactly one message")
    return messages[0], version


# ---------------------------------------------------------------------------
# Read-back of a pain.008
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionSummary:
    """One ``DrctDbtTxInf`` as read back.

    ``original_iban`` is the ``OrgnlDbtrAcct`` (same-bank change); ``smnda``
    is true when ``OrgnlDbtrAgt`` is ``SMNDA`` (the debtor changed bank).
    """

    end_to_end_id: str
    amount: Decimal
    mandate_id: str | None
    mandate_date: date | None
    debtor_name: str | None
    debtor_iban: str | None
    debtor_bic: str | None
    remittance: str | None
    amended: bool
    original_mandate_id: str | None
    original_iban: str | None
    smnda: bool


@dataclass(frozen=True)
class PaymentInfoSummary:
    """One ``PmtInf`` as read back; ``count``/``control_sum`` computed from its transactions."""

    payment_info_id: str
    sequence_type: str | None
    scheme: str | None
    collection_date: date | None
    count: int
    control_sum: Decimal
    transactions: tuple[TransactionSummary, ...]


@dataclass(frozen=True)
class CollectionSummary:
    """A pain.008 as read back; ``version`` from the namespace (``None`` without one)."""

    message_id: str
    count: int
    control_sum: Decimal
    payment_infos: tuple[PaymentInfoSummary, ...]
    version: str | None = None
    creditor_id: str | None = None


def _check_totals(element: etree._Element, what: str, count: int, control_sum: Decimal) -> None:
    """``ValueError`` if ``element``'s ``NbOfTxs``/``CtrlSum`` (when present) disagree with the transactions."""
    declared_count = _value(element, "NbOfTxs")
    if declared_count is not None and declared_count != str(count):
        raise ValueError(f"{what}: NbOfTxs is {declared_count} but there are {count} transactions")
    declared_sum = _decimal(_value(element, "CtrlSum"), f"{what}: CtrlSum")
    if declared_sum is not None and declared_sum != control_sum:
        raise ValueError(f"{what}: CtrlSum is {declared_sum} but the transactions sum to {control_sum}")


def _read_transaction(element: etree._Element) -> TransactionSummary:
    end_to_end_id = _value(element, "PmtId/EndToEndId")
    if not end_to_end_id:
        raise ValueError("a transaction has no EndToEndId")
    amount = _decimal(_value(element, "InstdAmt"), f"transaction {end_to_end_id!r}: InstdAmt")
    if amount is None:
        raise ValueError(f"transaction {end_to_end_id!r} has no InstdAmt")
    mandate = _find(element, "DrctDbtTx/MndtRltdInf")
    agent = _find(element, "DbtrAgt/FinInstnId")
    bic = _value(agent, "BICFI") or _value(agent, "BIC")
    details = _find(mandate, "AmdmntInfDtls")
    return TransactionSummary(
        end_to_end_id=end_to_end_id,
        amount=amount,
        mandate_id=_value(mandate, "MndtId"),
        mandate_date=_date(_value(mandate, "DtOfSgntr"), f"transaction {end_to_end_id!r}: DtOfSgntr"),
        debtor_name=_value(element, "Dbtr/Nm"),
        debtor_iban=_value(element, "DbtrAcct/Id/IBAN"),
        debtor_bic=bic,
        remittance=_value(element, "RmtInf/Ustrd"),
        amended=_value(mandate, "AmdmntInd") in ("true", "1"),
        original_mandate_id=_value(details, "OrgnlMndtId"),
        original_iban=_value(details, "OrgnlDbtrAcct/Id/IBAN"),
        smnda=_value(details, "OrgnlDbtrAgt/FinInstnId/Othr/Id") == SMNDA,
    )


def read_pain008(xml: bytes) -> CollectionSummary:
    """The content of a pain.008 document (any version, namespace-agnostic).

    ``ValueError`` if it is no pain.008 or if its ``NbOfTxs``/``CtrlSum``
    disagree with its transactions.
    """
    initiation, version = _document(xml)
    if _local(initiation) != "CstmrDrctDbtInitn":
        raise ValueError(f"not a pain.008 document: found {_local(initiation)!r}")
    message_id = _value(initiation, "GrpHdr/MsgId")
    if not message_id:
        raise ValueError("the pain.008 has no GrpHdr/MsgId")
    infos = []
    for block in _children(initiation, "PmtInf"):
        info_id = _value(block, "PmtInfId") or ""
        transactions = tuple(_read_transaction(item) for item in _children(block, "DrctDbtTxInf"))
        control_sum = sum((tx.amount for tx in transactions), Decimal(0))
        _check_totals(block, f"payment information {info_id!r}", len(transactions), control_sum)
        infos.append(
            PaymentInfoSummary(
                payment_info_id=info_id,
                sequence_type=_value(block, "PmtTpInf/SeqTp"),
                scheme=_value(block, "PmtTpInf/LclInstrm/Cd"),
                collection_date=_date(_value(block, "ReqdColltnDt"), f"payment information {info_id!r}: ReqdColltnDt"),
                count=len(transactions),
                control_sum=control_sum,
                transactions=transactions,
            )
        )
    count = sum(info.count for info in infos)
    control_sum = sum((info.control_sum for info in infos), Decimal(0))
    _check_totals(_find(initiation, "GrpHdr"), "group header", count, control_sum)
    creditor_ids = {_value(block, "CdtrSchmeId/Id/PrvtId/Othr/Id") for block in _children(initiation, "PmtInf")}
    return CollectionSummary(
        message_id=message_id,
        count=count,
        control_sum=control_sum,
        payment_infos=tuple(infos),
        version=version,
        creditor_id=creditor_ids.pop() if len(creditor_ids) == 1 else None,
    )


# ---------------------------------------------------------------------------
# Returns and rejections: pain.002, camt.054 (camt.052/053)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnedTransaction:
    """A collection the bank rejected (pain.002) or returned (camt): match it by ``end_to_end_id``."""

    end_to_end_id: str
    reason_code: str
    amount: Decimal | None
    booking_date: date | None
    original_message_id: str | None


#: camt messages and the element holding their entries
_CAMT_REPORTS = {
    "BkToCstmrDbtCdtNtfctn": "Ntfctn",  # camt.054
    "BkToCstmrStmt": "Stmt",  # camt.053
    "BkToCstmrAcctRpt": "Rpt",  # camt.052
}


def _reason(element: etree._Element | None, path: str) -> str | None:
    """The reason code (``Cd``, else ``Prtry``) of the first ``path`` below ``element`` that has one."""
    for reason in _findall(element, path):
        code = _value(reason, "Cd") or _value(reason, "Prtry")
        if code:
            return code
    return None


def _pain002_returns(report: etree._Element) -> list[ReturnedTransaction]:
    group = _find(report, "OrgnlGrpInfAndSts")
    message_id = _value(group, "OrgnlMsgId")
    group_status = _value(group, "GrpSts")
    group_reason = _reason(group, "StsRsnInf/Rsn")
    result = []
    for block in _children(report, "OrgnlPmtInfAndSts"):
        block_status = _value(block, "PmtInfSts") or group_status
        block_reason = _reason(block, "StsRsnInf/Rsn") or group_reason
        for item in _children(block, "TxInfAndSts"):
            # a status given at a higher level applies to the transactions below it
            if (_value(item, "TxSts") or block_status) != "RJCT":
                continue
            end_to_end_id = _value(item, "OrgnlEndToEndId")
            if not end_to_end_id:
                raise ValueError("a rejected transaction in the pain.002 has no OrgnlEndToEndId")
            result.append(
                ReturnedTransaction(
                    end_to_end_id=end_to_end_id,
                    reason_code=_reason(item, "StsRsnInf/Rsn") or block_reason or "",
                    amount=_decimal(_value(item, "OrgnlTxRef/Amt/InstdAmt"), f"{end_to_end_id!r}: InstdAmt"),
                    booking_date=None,
                    original_message_id=_value(item, "OrgnlGrpInf/OrgnlMsgId") or message_id,
                )
            )
    return result


def _camt_returns(report: etree._Element, container: str) -> list[ReturnedTransaction]:
    result = []
    for entry in _findall(report, f"{container}/Ntry"):
        booking = _value(entry, "BookgDt/Dt") or _value(entry, "BookgDt/DtTm")
        booking_date = _date(booking, "BookgDt")
        details = _findall(entry, "NtryDtls/TxDtls")
        for item in details:
            returned = _find(item, "RtrInf")
            if returned is None:
                continue
            end_to_end_id = _value(item, "Refs/EndToEndId")
            if not end_to_end_id:
                raise ValueError("a returned transaction in the camt has no Refs/EndToEndId")
            amount = (
                _value(item, "Amt")
                or _value(item, "AmtDtls/TxAmt/Amt")
                or _value(item, "AmtDtls/InstdAmt/Amt")
                or (_value(entry, "Amt") if len(details) == 1 else None)
            )
            result.append(
                ReturnedTransaction(
                    end_to_end_id=end_to_end_id,
                    reason_code=_reason(returned, "Rsn") or "",
                    amount=_decimal(amount, f"{end_to_end_id!r}: Amt"),
                    booking_date=booking_date,
                    original_message_id=_value(returned, "OrgnlGrpInf/OrgnlMsgId"),
                )
            )
    return result


def parse_status_report(xml: bytes) -> list[ReturnedTransaction]:
    """The rejected or returned collections in a bank's report, in document order.

    Accepts a pain.002 status report (transactions with status ``RJCT``,
    also when the status is given for the whole payment information or
    group) and a camt.054 notification (or camt.052/053: entry details with
    ``RtrInf``), any version: elements are matched by local name. The reason
    code is ``Cd``, else ``Prtry``, else ``""``. ``ValueError`` for another
    document.
    """
    message, _version = _document(xml)
    name = _local(message)
    if name == "CstmrPmtStsRpt":
        return _pain002_returns(message)
    if name in _CAMT_REPORTS:
        return _camt_returns(message, _CAMT_REPORTS[name])
    raise ValueError(f"not a pain.002 or camt.054 document: found {name!r}")


# ---------------------------------------------------------------------------
# Collection date
# ---------------------------------------------------------------------------


def debit_date(
    invoice_date: date, due_date: date | None, prenotification_days: int, earliest: date | None = None
) -> date:
    """The collection date of an invoice.

    The latest of the due date, the invoice date plus the pre-notification
    period (the invoice is the pre-notification; by default 14 calendar days
    unless a shorter period was agreed) and ``earliest`` (e.g. tomorrow, or
    the first date the bank accepts). Not moved to a TARGET business day:
    the banks settle on the next one.
    """
    if isinstance(prenotification_days, bool) or not isinstance(prenotification_days, int):
        raise ValueError(f"prenotification_days must be an integer, got {prenotification_days!r}")
    if prenotification_days < 1:
        raise ValueError(f"prenotification_days must be at least 1, got {prenotification_days}")
    candidates = [invoice_date + timedelta(days=prenotification_days)]
    if due_date is not None:
        candidates.append(due_date)
    if earliest is not None:
        candidates.append(earliest)
    return max(candidates)
