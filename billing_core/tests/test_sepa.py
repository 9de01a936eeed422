"""Tests for ``billing_core.sepa`` (pure Python, no Odoo).

Run with::

    cd /work/main && PYTHONPATH=. python3 -m pytest -q -p no:cacheprovider billing_core/tests

Every generated pain.008 (both versions) is validated against the official
XSD shipped with ``sepaxml`` and read back. Expected values are computed
independently of the code under test: creditor-identifier check digits with
a separate mod 97-10 implementation, same-bank amendments from the German
bank code (IBAN positions 5-12), control sums by summing the inputs.
The status-report fixtures in ``data/`` are handwritten.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree
from stdnum.eu import at_02

from billing_core.sepa import (
    PAIN_008_001_02,
    PAIN_008_001_08,
    SCHEMES,
    SEPA_CHARSET,
    SEQUENCE_TYPES,
    Amendment,
    CollectionMessage,
    Party,
    PaymentInfo,
    ReturnedTransaction,
    Transaction,
    bic_for_iban,
    build_pain008,
    debit_date,
    normalize_bic,
    normalize_creditor_id,
    normalize_iban,
    parse_status_report,
    read_pain008,
    transliterate,
    validate_pain008,
)

# database=None: don't write a .hypothesis/ example database into the repo
PROPERTY = settings(max_examples=200, deadline=None, database=None)

DATA = Path(__file__).parent / "data"
VERSIONS = (PAIN_008_001_08, PAIN_008_001_02)

# Valid IBANs (checksum and national check digits); the first three share a bank (Commerzbank, 37040044).
VALID_IBANS = (
    "DE89370400440532013000",
    "DE62370400440532013001",
    "DE35370400440532013002",
    "DE02120300000000202051",
    "DE12500105170648489890",
    "GB82WEST12345698765432",
    "FR1420041010050500013M02606",
    "AT611904300234573201",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
)
BICS = ("COBADEFFXXX", "INGDDEFFXXX", "COBADEFF", "BYLADEM1001")
CREDITOR_ID = "DE98ZZZ09999999999"  # the Deutsche Bundesbank's documented test identifier


def _same_bank(iban: str, other: str) -> bool:
    """Oracle for the pool above: only German IBANs share a bank, by the bank code (positions 5-12)."""
    return iban[:2] == other[:2] == "DE" and iban[4:12] == other[4:12]


def _check_digits(creditor_id: str) -> str:
    """ISO 7064 mod 97-10 check digits of a creditor identifier, the business code left out."""
    rearranged = creditor_id[7:] + creditor_id[:2] + "00"
    number = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{98 - number % 97:02d}"


def _transaction(e2e: str = "E2E-1", amount: Decimal = Decimal("10.00"), **changes) -> Transaction:
    tx = Transaction(
        end_to_end_id=e2e,
        amount=amount,
        mandate_id="MANDATE-1",
        mandate_date=date(2024, 1, 15),
        debtor=Party("Jürgen Müller", "DE02120300000000202051"),
        remittance="Rechnung RE-2025-0001",
    )
    return replace(tx, **changes)


def _info(*transactions: Transaction, info_id: str = "PI-1", **changes) -> PaymentInfo:
    info = PaymentInfo(
        payment_info_id=info_id,
        collection_date=date(2025, 3, 3),
        scheme="CORE",
        sequence_type="RCUR",
        transactions=transactions or (_transaction(),),
    )
    return replace(info, **changes)


def _message(*infos: PaymentInfo, **changes) -> CollectionMessage:
    message = CollectionMessage(
        message_id="MSG-2025-03-001",
        created=datetime(2025, 2, 20, 9, 30, 0),
        initiating_party="Müller & Söhne GmbH",
        creditor=Party("Müller & Söhne GmbH", "DE89370400440532013000", "COBADEFFXXX"),
        creditor_id=CREDITOR_ID,
        payment_infos=infos or (_info(),),
    )
    return replace(message, **changes)


def _local_names(element) -> list[str]:
    return [etree.QName(child).localname for child in element]


# ---------------------------------------------------------------------------
# Transliteration
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Müller & Söhne", "Mueller + Soehne"),
        ("Straße", "Strasse"),
        ("ÄÖÜ äöü ß", "AeOeUe aeoeue ss"),
        ("Łódź Zoë Ørsted", "Lodz Zoe Orsted"),
        ("Mu\u0308ller", "Mueller"),  # decomposed umlaut
        ("  a \t\n b  ", "a b"),
        ("Rechnung #42 – 10 €", "Rechnung 42 - 10 EUR"),
        ("a_b*c@d", "a b c d"),
        ("O'Brien (Ltd.), 1/2: ok? +", "O'Brien (Ltd.), 1/2: ok? +"),
        ("", ""),
        ("💶", ""),
    ],
)
def test_transliterate_examples(text, expected):
    assert transliterate(text) == expected


def test_transliterate_cuts_and_strips():
    assert transliterate("Müller", 3) == "Mue"
    assert transliterate("ab cd", 3) == "ab"  # no trailing space after the cut
    with pytest.raises(ValueError):
        transliterate("x", 0)


def test_sepa_charset():
    assert len(SEPA_CHARSET) == 26 * 2 + 10 + len("/-?:().,'+ ")
    assert "&" not in SEPA_CHARSET and "_" not in SEPA_CHARSET and "ä" not in SEPA_CHARSET


@PROPERTY
@given(st.text(max_size=300), st.none() | st.integers(1, 200))
def test_transliterate_properties(text, max_length):
    result = transliterate(text, max_length)
    assert set(result) <= SEPA_CHARSET
    assert result == result.strip() and "  " not in result
    if max_length is not None:
        assert len(result) <= max_length
    assert transliterate(result, max_length) == result  # idempotent


@PROPERTY
@given(st.text(alphabet="abcXYZ019/-?:().,'+ ", max_size=100))
def test_transliterate_keeps_sepa_text(text):
    assert transliterate(text) == " ".join(text.split())


# ---------------------------------------------------------------------------
# Creditor identifier, IBAN, BIC
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DE98ZZZ09999999999", "DE98ZZZ09999999999"),
        ("de98 zzz 0999 9999 999", "DE98ZZZ09999999999"),
        ("DE98ABC09999999999", "DE98ABC09999999999"),  # business code is not part of the check
        ("ES23ZZZ47690558N", "ES23ZZZ47690558N"),  # stdnum's documented example
        ("ES2300047690558N", "ES2300047690558N"),
    ],
)
def test_creditor_id_valid(value, expected):
    assert normalize_creditor_id(value) == expected
    assert at_02.is_valid(expected)
    assert _check_digits(expected) == expected[2:4]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("DE97ZZZ09999999999", "expected 98"),
        ("DE98ZZZ09999999998", "check digits"),
        ("ES24ZZZ47690558N", "expected 23"),
        ("DE98ZZZ0999999999", "18 characters"),
        ("DE98ZZZ19999999999", "18 characters"),
        ("DEXXZZZ09999999999", "malformed"),
        ("DE98", "malformed"),
        ("DE98ZZZ0999999999_", "malformed"),
        ("", "empty"),
    ],
)
def test_creditor_id_invalid(value, reason):
    with pytest.raises(ValueError, match=reason):
        normalize_creditor_id(value)


@PROPERTY
@given(
    st.sampled_from(["DE", "AT", "FR", "NL", "ES", "IT"]),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=3, max_size=3),
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.integers(0, 99),
)
def test_creditor_id_check_digits(country, business_code, national, digits):
    national = "0" + national if country == "DE" else national
    correct = _check_digits(f"{country}00{business_code}{national}")
    value = f"{country}{digits:02d}{business_code}{national}"
    if f"{digits:02d}" == correct:
        assert normalize_creditor_id(value) == value
        # any other business code is valid with the same check digits
        assert normalize_creditor_id(f"{country}{correct}ZZZ{national}") == f"{country}{correct}ZZZ{national}"
    else:
        with pytest.raises(ValueError, match=f"expected {correct}"):
            normalize_creditor_id(value)


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_iban_valid(iban):
    assert normalize_iban(iban) == iban
    spaced = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    assert normalize_iban(spaced.lower()) == iban


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("DE88370400440532013000", "checksum"),  # IBAN check digits changed
        ("DE89370400440532013001", "checksum"),  # account changed, IBAN check digits not
        ("GB83WEST12345698765432", "checksum"),
        ("FR1420041010050500013M02607", "checksum"),
        ("AT621904300234573201", "checksum"),
        ("DE72120300000000202052", "national checksum"),  # IBAN checksum right, bank's check digit wrong
        ("DE8937040044053201300", "length"),
        ("XX89370400440532013000", "country"),
        ("", "empty"),
    ],
)
def test_iban_invalid(value, reason):
    with pytest.raises(ValueError, match=f"(?i){reason}"):
        normalize_iban(value)


def test_bic_for_iban():
    assert bic_for_iban("DE89 3704 0044 0532 0130 00") == "COBADEFFXXX"
    assert bic_for_iban("NL91ABNA0417164300") == "ABNANL2A"
    assert all(bic_for_iban(iban) is None or normalize_bic(bic_for_iban(iban)) for iban in VALID_IBANS)
    with pytest.raises(ValueError):
        bic_for_iban("DE88370400440532013000")


def test_normalize_bic():
    assert normalize_bic("cobadeffxxx") == "COBADEFFXXX"
    assert normalize_bic(" COBA DE FF ") == "COBADEFF"
    for value in ("COBAXXFF", "COBADE", "COBADEFFXX", "", "COBA-DEFF"):
        with pytest.raises(ValueError):
            normalize_bic(value)


# ---------------------------------------------------------------------------
# pain.008: generation, schema validation, read-back
# ---------------------------------------------------------------------------

_ID_CHARS = "-A-Za-z0-9+?:().,'"  # '-' first: a literal, not a range
identifiers = st.from_regex(rf"[{_ID_CHARS}]([{_ID_CHARS}/ ]{{0,33}}[{_ID_CHARS}])?", fullmatch=True).filter(
    lambda value: "//" not in value
)
mandate_ids = st.from_regex(rf"[{_ID_CHARS}]([{_ID_CHARS}/]{{0,29}}[{_ID_CHARS}])?", fullmatch=True).filter(
    lambda value: "//" not in value
)
names = st.builds(
    str.__add__,
    st.sampled_from(["Müller", "Ødegaard", "Łukasz", "Zoë", "ACME", "Straße & Co"]),
    st.text(max_size=100),
)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999.99"), places=2)
collection_dates = st.dates(min_value=date(2010, 1, 1), max_value=date(2099, 12, 31))


@st.composite
def messages(draw) -> CollectionMessage:
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    e2e_ids = iter(draw(st.lists(identifiers, min_size=sum(sizes), max_size=sum(sizes), unique=True)))
    info_ids = draw(st.lists(identifiers, min_size=len(sizes), max_size=len(sizes), unique=True))
    infos = []
    for info_id, size in zip(info_ids, sizes, strict=True):
        collection_date = draw(collection_dates)
        transactions = []
        for _ in range(size):
            mandate_id = draw(mandate_ids)
            iban = draw(st.sampled_from(VALID_IBANS))
            amendment = None
            if draw(st.booleans()):
                original_id = draw(st.none() | mandate_ids.filter(lambda value, m=mandate_id: value != m))
                original_iban = draw(st.none() | st.sampled_from(VALID_IBANS).filter(lambda value, i=iban: value != i))
                if original_id is None and original_iban is None:
                    original_id = mandate_id + "-OLD"
                amendment = Amendment(original_id, original_iban)
            transactions.append(
                Transaction(
                    end_to_end_id=next(e2e_ids),
                    amount=draw(amounts),
                    mandate_id=mandate_id,
                    mandate_date=draw(st.dates(min_value=date(2009, 11, 2), max_value=collection_date)),
                    debtor=Party(draw(names), iban, draw(st.none() | st.sampled_from(BICS))),
                    remittance=draw(st.text(max_size=200)),
                    amendment=amendment,
                )
            )
        infos.append(
            PaymentInfo(
                payment_info_id=info_id,
                collection_date=collection_date,
                scheme=draw(st.sampled_from(SCHEMES)),
                sequence_type=draw(st.sampled_from(SEQUENCE_TYPES)),
                transactions=tuple(transactions),
            )
        )
    return CollectionMessage(
        message_id=draw(identifiers),
        created=draw(
            st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
            | st.datetimes(
                min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(timezone.utc)
            )
        ),
        initiating_party=draw(names),
        creditor=Party(draw(names), draw(st.sampled_from(VALID_IBANS)), draw(st.none() | st.sampled_from(BICS))),
        creditor_id=CREDITOR_ID,
        payment_infos=tuple(infos),
    )


def _check_read_back(message: CollectionMessage, xml: bytes, version: str) -> None:
    summary = read_pain008(xml)
    transactions = [tx for info in message.payment_infos for tx in info.transactions]
    assert summary.version == version
    assert summary.message_id == message.message_id
    assert summary.creditor_id == CREDITOR_ID
    assert summary.count == len(transactions)
    assert summary.control_sum == sum(tx.amount for tx in transactions)
    assert len(summary.payment_infos) == len(message.payment_infos)
    for info, read in zip(message.payment_infos, summary.payment_infos, strict=True):
        assert read.payment_info_id == info.payment_info_id
        assert read.sequence_type == info.sequence_type
        assert read.scheme == info.scheme
        assert read.collection_date == info.collection_date
        assert read.count == len(info.transactions)
        assert read.control_sum == sum(tx.amount for tx in info.transactions)
        for tx, got in zip(info.transactions, read.transactions, strict=True):
            assert got.end_to_end_id == tx.end_to_end_id
            assert got.amount == tx.amount
            assert got.mandate_id == tx.mandate_id
            assert got.mandate_date == tx.mandate_date
            assert got.debtor_iban == tx.debtor.iban
            assert got.debtor_bic == tx.debtor.bic
            assert got.debtor_name == transliterate(tx.debtor.name, 70)
            assert got.remittance == (transliterate(tx.remittance, 140) or None)
            assert got.amended == (tx.amendment is not None)
            amendment = tx.amendment or Amendment()
            assert got.original_mandate_id == amendment.original_mandate_id
            if amendment.original_iban is None:
                assert (got.original_iban, got.smnda) == (None, False)
            elif _same_bank(amendment.original_iban, tx.debtor.iban):
                assert (got.original_iban, got.smnda) == (amendment.original_iban, False)
            else:
                assert (got.original_iban, got.smnda) == (None, True)


@PROPERTY
@given(messages())
def test_generated_files_validate_and_read_back(message):
    for version in VERSIONS:
        xml = build_pain008(message, version)
        assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        validate_pain008(xml, version)
        _check_read_back(message, xml, version)
        text = xml.decode("utf-8")
        assert all(ord(c) < 128 for c in text)  # everything transliterated


def test_example_file_structure():
    message = _message(
        _info(
            _transaction("E2E-1", Decimal("12.30")),
            _transaction(
                "E2E-2",
                Decimal("7.7"),
                mandate_id="MANDATE-2",
                debtor=Party("Zoë Straße", "DE62370400440532013001", "cobadeffxxx"),
                amendment=Amendment("MANDATE-OLD", "DE89370400440532013000"),
                remittance="",
            ),
        )
    )
    for version in VERSIONS:
        xml = build_pain008(message, version)
        root = etree.fromstring(xml)
        assert etree.QName(root).namespace == f"urn:iso:std:iso:20022:tech:xsd:{version}"
        ns = {"p": f"urn:iso:std:iso:20022:tech:xsd:{version}"}
        (info,) = root.findall("p:CstmrDrctDbtInitn/p:PmtInf", ns)
        assert _local_names(info) == [
            "PmtInfId",
            "PmtMtd",
            "NbOfTxs",
            "CtrlSum",
            "PmtTpInf",
            "ReqdColltnDt",
            "Cdtr",
            "CdtrAcct",
            "CdtrAgt",
            "ChrgBr",
            "CdtrSchmeId",
            "DrctDbtTxInf",
            "DrctDbtTxInf",
        ]
        assert root.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:CtrlSum", namespaces=ns) == "20.00"
        assert root.findtext("p:CstmrDrctDbtInitn/p:GrpHdr/p:InitgPty/p:Nm", namespaces=ns) == "Mueller + Soehne GmbH"
        bic_tag = "BICFI" if version == PAIN_008_001_08 else "BIC"
        assert info.findtext(f"p:CdtrAgt/p:FinInstnId/p:{bic_tag}", namespaces=ns) == "COBADEFFXXX"
        assert info.findtext("p:CdtrSchmeId/p:Id/p:PrvtId/p:Othr/p:SchmeNm/p:Prtry", namespaces=ns) == "SEPA"
        first, second = info.findall("p:DrctDbtTxInf", ns)
        assert _local_names(first) == ["PmtId", "InstdAmt", "DrctDbtTx", "DbtrAgt", "Dbtr", "DbtrAcct", "RmtInf"]
        assert first.find("p:InstdAmt", ns).get("Ccy") == "EUR"
        assert first.findtext("p:InstdAmt", namespaces=ns) == "12.30"
        assert first.findtext("p:DbtrAgt/p:FinInstnId/p:Othr/p:Id", namespaces=ns) == "NOTPROVIDED"
        assert first.findtext("p:DrctDbtTx/p:MndtRltdInf/p:AmdmntInd", namespaces=ns) == "false"
        assert first.findtext("p:Dbtr/p:Nm", namespaces=ns) == "Juergen Mueller"
        assert second.findtext("p:InstdAmt", namespaces=ns) == "7.70"
        assert second.findtext(f"p:DbtrAgt/p:FinInstnId/p:{bic_tag}", namespaces=ns) == "COBADEFFXXX"
        assert second.find("p:RmtInf", ns) is None  # empty remittance: element left out
        mandate = second.find("p:DrctDbtTx/p:MndtRltdInf", ns)
        assert _local_names(mandate) == ["MndtId", "DtOfSgntr", "AmdmntInd", "AmdmntInfDtls"]
        details = mandate.find("p:AmdmntInfDtls", ns)
        assert _local_names(details) == ["OrgnlMndtId", "OrgnlDbtrAcct"]  # same bank: original IBAN
        assert details.findtext("p:OrgnlDbtrAcct/p:Id/p:IBAN", namespaces=ns) == "DE89370400440532013000"


def test_amendment_to_another_bank_uses_smnda():
    tx = _transaction(amendment=Amendment(original_iban="DE89370400440532013000"))  # debtor now at 12030000
    for version in VERSIONS:
        (read,) = read_pain008(build_pain008(_message(_info(tx)), version)).payment_infos[0].transactions
        assert (read.amended, read.original_mandate_id, read.original_iban, read.smnda) == (True, None, None, True)
        assert b"<OrgnlDbtrAcct>" not in build_pain008(_message(_info(tx)), version)


def test_names_and_remittance_are_cut():
    tx = _transaction(debtor=Party("Ä" * 80, "DE02120300000000202051"), remittance="x" * 200)
    (read,) = read_pain008(build_pain008(_message(_info(tx)))).payment_infos[0].transactions
    assert read.debtor_name == "Ae" * 35
    assert read.remittance == "x" * 140


def test_amount_accepted_forms():
    tx = _transaction(amount=Decimal("5.500"))  # value has 2 decimals
    assert read_pain008(build_pain008(_message(_info(tx)))).control_sum == Decimal("5.50")
    assert read_pain008(build_pain008(_message(_info(_transaction(amount=Decimal("999999999.99")))))).count == 1


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (_message(_info(_transaction(amount=Decimal(0)))), "positive"),
        (_message(_info(_transaction(amount=Decimal("-1.00")))), "positive"),
        (_message(_info(_transaction(amount=Decimal("1.005")))), "2 decimals"),
        (_message(_info(_transaction(amount=Decimal("1000000000.00")))), "exceed"),
        (_message(_info(_transaction(amount=Decimal("NaN")))), "finite"),
        (_message(_info(_transaction("E2E-1"), _transaction("E2E-1"))), "duplicate end-to-end id"),
        (_message(_info(_transaction("E2E-1")), _info(_transaction("E2E-1"), info_id="PI-2")), "duplicate end-to-end"),
        (_message(_info(_transaction("E2E-1")), _info(_transaction("E2E-2"))), "duplicate payment information id"),
        (_message(_info(transactions=())), "no transactions"),
        (_message(payment_infos=()), "no payment information"),
        (_message(_info(scheme="COR1")), "scheme"),
        (_message(_info(sequence_type="RPRE")), "sequence type"),
        (_message(_info(_transaction("E2E-ä"))), "character set"),
        (_message(_info(_transaction("E" * 36))), "35"),
        (_message(_info(_transaction("/E2E"))), "'/'"),
        (_message(_info(_transaction("E2E//1"))), "'//'"),
        (_message(_info(_transaction(""))), "empty"),
        (_message(_info(_transaction(mandate_id="MANDATE 1"))), "spaces"),
        (_message(_info(_transaction(mandate_date=date(2025, 3, 4)))), "after the collection date"),
        (_message(_info(_transaction(debtor=Party("Jürgen", "DE88370400440532013000")))), "IBAN"),
        (_message(_info(_transaction(debtor=Party("💶", "DE02120300000000202051")))), "debtor name"),
        (_message(_info(_transaction(debtor=Party("X", "DE02120300000000202051", "COBAXXFF")))), "BIC"),
        (_message(_info(_transaction(amendment=Amendment()))), "amendment"),
        (_message(_info(_transaction(amendment=Amendment("MANDATE-1")))), "equals the mandate id"),
        (_message(_info(_transaction(amendment=Amendment(None, "DE02120300000000202051")))), "equals the debtor"),
        (_message(creditor_id="DE97ZZZ09999999999"), "check digits"),
        (_message(message_id="MSG_1"), "message id"),
        (_message(initiating_party="   "), "initiating party"),
    ],
)
def test_build_refuses(message, reason):
    for version in VERSIONS:
        with pytest.raises(ValueError, match=reason):
            build_pain008(message, version)


@PROPERTY
@given(st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000000"), places=3))
def test_build_refuses_bad_amounts(amount):
    assume(amount <= 0 or amount != amount.quantize(Decimal("0.01")))
    with pytest.raises(ValueError, match="amount"):
        build_pain008(_message(_info(_transaction(amount=amount))))


def test_bic_not_allowed_in_old_version():
    message = _message(creditor=Party("ACME", "DE89370400440532013000", "COBADE1O"))
    assert read_pain008(build_pain008(message, PAIN_008_001_08)).count == 1
    with pytest.raises(ValueError, match="not allowed in pain.008.001.02"):
        build_pain008(message, PAIN_008_001_02)


def test_unknown_version():
    with pytest.raises(ValueError, match="unsupported"):
        build_pain008(_message(), "pain.008.001.99")
    with pytest.raises(ValueError, match="unsupported"):
        validate_pain008(build_pain008(_message()), "pain.008.003.02")


def test_validate_rejects_wrong_documents():
    xml = build_pain008(_message())
    with pytest.raises(ValueError, match="pain.008.001.02"):
        validate_pain008(xml, PAIN_008_001_02)  # other namespace
    with pytest.raises(ValueError, match="well-formed"):
        validate_pain008(xml[:-30])
    root = etree.fromstring(xml)
    item = root.find(".//{*}DrctDbtTxInf")
    item.insert(0, item.find("{*}Dbtr"))  # element order broken
    with pytest.raises(ValueError, match="line \\d+:.*Dbtr"):
        validate_pain008(etree.tostring(root))
    root = etree.fromstring(xml)
    root.find(".//{*}InstdAmt").text = "12,30"
    with pytest.raises(ValueError, match="InstdAmt"):
        validate_pain008(etree.tostring(root))


def test_read_checks_totals_and_document_type():
    xml = build_pain008(_message())
    with pytest.raises(ValueError, match="CtrlSum"):
        read_pain008(xml.replace(b"<CtrlSum>10.00</CtrlSum>", b"<CtrlSum>11.00</CtrlSum>", 1))
    with pytest.raises(ValueError, match="NbOfTxs"):
        read_pain008(xml.replace(b"<NbOfTxs>1</NbOfTxs>", b"<NbOfTxs>2</NbOfTxs>", 1))
    with pytest.raises(ValueError, match="not a pain.008"):
        read_pain008((DATA / "pain002_rejections.xml").read_bytes())
    # namespace-agnostic: the same file without a namespace reads the same
    plain = xml.replace(b' xmlns="urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"', b"")
    assert replace(read_pain008(plain), version=None) == replace(read_pain008(xml), version=None)


# ---------------------------------------------------------------------------
# Status reports: pain.002 and camt.054
# ---------------------------------------------------------------------------

EXPECTED_CAMT = [
    ReturnedTransaction("INV-2025-0001", "AM04", Decimal("12.30"), date(2025, 2, 4), "MSG-2025-02"),
    ReturnedTransaction("INV-2025-0002", "MD06", Decimal("50.00"), date(2025, 2, 4), None),
]
EXPECTED_PAIN002 = [
    ReturnedTransaction("INV-2025-0001", "AM04", Decimal("12.30"), None, "MSG-2025-02"),
    ReturnedTransaction("INV-2025-0002", "MD06", Decimal("50.00"), None, "MSG-2025-02"),
]


@pytest.mark.parametrize("namespace", ["camt.054.001.08", "camt.054.001.02", None])
def test_parse_camt054(namespace):
    xml = (DATA / "camt054_returns.xml").read_bytes()
    old = b' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"'
    new = f' xmlns="urn:iso:std:iso:20022:tech:xsd:{namespace}"'.encode() if namespace else b""
    assert parse_status_report(xml.replace(old, new)) == EXPECTED_CAMT


@pytest.mark.parametrize("namespace", ["pain.002.001.10", "pain.002.001.03", None])
def test_parse_pain002(namespace):
    xml = (DATA / "pain002_rejections.xml").read_bytes()
    old = b' xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"'
    new = f' xmlns="urn:iso:std:iso:20022:tech:xsd:{namespace}"'.encode() if namespace else b""
    assert parse_status_report(xml.replace(old, new)) == EXPECTED_PAIN002


def test_parse_pain002_status_of_payment_information_applies_to_its_transactions():
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
    <Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>
      <OrgnlGrpInfAndSts><OrgnlMsgId>M1</OrgnlMsgId></OrgnlGrpInfAndSts>
      <OrgnlPmtInfAndSts>
        <PmtInfSts>RJCT</PmtInfSts>
        <StsRsnInf><Rsn><Cd>FF05</Cd></Rsn></StsRsnInf>
        <TxInfAndSts><OrgnlEndToEndId>A</OrgnlEndToEndId></TxInfAndSts>
        <TxInfAndSts><OrgnlEndToEndId>B</OrgnlEndToEndId><StsRsnInf><Rsn><Prtry>X1</Prtry></Rsn></StsRsnInf>
        </TxInfAndSts>
      </OrgnlPmtInfAndSts>
    </CstmrPmtStsRpt></Document>"""
    assert parse_status_report(xml) == [
        ReturnedTransaction("A", "FF05", None, None, "M1"),
        ReturnedTransaction("B", "X1", None, None, "M1"),
    ]


def test_parse_round_trip_with_our_end_to_end_ids():
    """A return of a collection we built matches it by end-to-end id."""
    xml = build_pain008(_message(_info(_transaction("INV-2025-0001", Decimal("12.30")))))
    (ours,) = read_pain008(xml).payment_infos[0].transactions
    (returned, _other) = parse_status_report((DATA / "camt054_returns.xml").read_bytes())
    assert (returned.end_to_end_id, returned.amount) == (ours.end_to_end_id, ours.amount)


def test_parse_refuses_unknown_documents():
    with pytest.raises(ValueError, match="not a pain.002 or camt.054"):
        parse_status_report(build_pain008(_message()))
    with pytest.raises(ValueError, match="well-formed"):
        parse_status_report(b"<Document>")
    with pytest.raises(ValueError, match="not a pain.002 or camt.054"):
        parse_status_report(b"<html><body/></html>")


def test_parse_does_not_resolve_entities():
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<Document><CstmrPmtStsRpt><OrgnlPmtInfAndSts><TxInfAndSts>"
        b"<OrgnlEndToEndId>&e;</OrgnlEndToEndId><TxSts>RJCT</TxSts>"
        b"</TxInfAndSts></OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    )
    try:
        result = parse_status_report(xml)
    except ValueError:
        return
    assert all("root:" not in item.end_to_end_id for item in result)


# ---------------------------------------------------------------------------
# Collection date
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("invoice_date", "due_date", "days", "earliest", "expected"),
    [
        (date(2025, 3, 1), date(2025, 3, 31), 14, None, date(2025, 3, 31)),  # due date far enough
        (date(2025, 3, 1), date(2025, 3, 5), 14, None, date(2025, 3, 15)),  # pre-notification wins
        (date(2025, 3, 1), None, 14, None, date(2025, 3, 15)),
        (date(2025, 3, 1), None, 1, None, date(2025, 3, 2)),
        (date(2025, 3, 1), date(2025, 3, 10), 5, date(2025, 3, 20), date(2025, 3, 20)),  # e.g. tomorrow
        (date(2024, 12, 25), date(2024, 12, 31), 14, date(2024, 12, 26), date(2025, 1, 8)),
    ],
)
def test_debit_date_examples(invoice_date, due_date, days, earliest, expected):
    assert debit_date(invoice_date, due_date, days, earliest) == expected


@pytest.mark.parametrize("days", [0, -1, 1.5, True, None])
def test_debit_date_refuses_bad_prenotification(days):
    with pytest.raises(ValueError):
        debit_date(date(2025, 3, 1), None, days)


@PROPERTY
@given(collection_dates, st.none() | collection_dates, st.integers(1, 60), st.none() | collection_dates)
def test_debit_date_is_the_latest_constraint(invoice_date, due_date, days, earliest):
    result = debit_date(invoice_date, due_date, days, earliest)
    assert result >= invoice_date + timedelta(days=days)
    assert due_date is None or result >= due_date
    assert earliest is None or result >= earliest
    assert result in {invoice_date + timedelta(days=days), due_date, earliest}
