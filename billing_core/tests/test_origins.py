import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_core.origins import is_allowed, normalize_origin, parse_origins


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com/", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
    ],
)
def test_normalize_origin_matches_what_a_browser_sends(value, expected):
    assert normalize_origin(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "*",
        "shop.example.com",
        "ftp://shop.example.com",
        "https://shop.example.com/path",
        "https://x.de?a=1",
        "https://user@x.de",
        "https://x.de:99999",
        "javascript:alert(1)",
        "null",
    ],
)
def test_what_is_not_an_origin_is_refused(value):
    with pytest.raises(ValueError):
        normalize_origin(value)


def test_parse_origins_keeps_order_drops_duplicates_and_names_bad_entries():
    origins, errors = parse_origins("https://a.example\nhttps://A.example/ , http://b.example:8080 *")
    assert origins == ("https://a.example", "http://b.example:8080")
    assert [entry for entry, _reason in errors] == ["*"]


def test_is_allowed_compares_normalised_origins_and_refuses_garbage():
    allowed = ("https://shop.example",)
    assert is_allowed("https://SHOP.example:443", allowed)
    assert not is_allowed("https://shop.example.evil.com", allowed)
    assert not is_allowed("null", allowed)
    assert not is_allowed(None, allowed)


@given(st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True), st.integers(1, 65535))
def test_normalising_twice_changes_nothing(host, port):
    once = normalize_origin(f"https://{host}:{port}")
    assert normalize_origin(once) == once
