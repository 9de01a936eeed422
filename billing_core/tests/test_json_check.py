"""The fast yes-check never says yes to a body the full JSON Schema validator refuses."""

import importlib.util
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_core.json_check import compile_check

# the API's own schemas (a pure-data module; loaded by path, the controllers package imports Odoo)
_spec = importlib.util.spec_from_file_location(
    "api_openapi_for_tests", Path(__file__).resolve().parents[2] / "controllers" / "api_openapi.py"
)
api_openapi = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_openapi)

USAGE_BATCH = api_openapi.schema_for("UsageBatch")
FULL = jsonschema.Draft202012Validator(USAGE_BATCH)
FAST = compile_check(USAGE_BATCH)

GOOD_RECORD = {
    "subscription_id": 7,
    "metric": "api_calls",
    "quantity": 2.5,
    "timestamp": "2026-01-05T10:00:00Z",
    "idempotency_key": "k-1",
    "attributes": {"region": "eu"},
}

json_scalars = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=300)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
field_values = {
    "subscription_id": st.integers() | st.floats() | st.booleans() | st.text(max_size=3),
    "customer_id": st.integers() | st.booleans() | st.none(),
    "metric": st.text(max_size=5) | st.integers(),
    "metric_id": st.integers() | st.floats(allow_nan=False) | st.none(),
    "quantity": st.integers() | st.floats() | st.booleans() | st.text(max_size=3),
    "timestamp": st.text(max_size=25) | st.integers(),
    "idempotency_key": st.text(min_size=250, max_size=260) | st.text(max_size=3) | st.integers(),
    "value": st.text(max_size=3) | st.none(),
    "attributes": json_values,
    "extra": json_values,
}
records = st.fixed_dictionaries({}, optional=field_values) | json_values
bodies = (
    st.fixed_dictionaries({"records": st.lists(records, max_size=4) | json_values}, optional={"other": json_values})
    | json_values
)


def test_usage_batch_schema_has_a_fast_check():
    """The usage batch uses only supported keywords: its bodies skip the full validator."""
    assert FAST is not None


def test_good_batch_passes_and_bad_ones_go_to_the_full_validator():
    """A valid batch is a yes; an unknown field, a string quantity, a missing records list,
    a boolean subscription id, 1,001 records or none are not."""
    assert FAST({"records": [GOOD_RECORD]})
    assert not FAST({"records": [dict(GOOD_RECORD, colour="red")]})
    assert not FAST({"records": [dict(GOOD_RECORD, quantity="2")]})
    assert not FAST({})
    assert not FAST({"records": [dict(GOOD_RECORD, subscription_id=True)]})
    assert not FAST({"records": [GOOD_RECORD] * 1001})
    assert not FAST({"records": []})
    assert not FAST({"records": [dict(GOOD_RECORD, idempotency_key="k" * 256)]})


def test_integer_written_as_float_is_left_to_the_full_validator():
    """JSON Schema accepts 7.0 as an integer; the fast check is not sure and says no (stricter, never looser)."""
    body = {"records": [dict(GOOD_RECORD, subscription_id=7.0)]}
    assert FULL.is_valid(body)
    assert not FAST(body)


@pytest.mark.parametrize("keyword", [{"pattern": "^a"}, {"format": "date"}, {"minimum": 0}, {"oneOf": []}])
def test_unsupported_keyword_gives_no_fast_check(keyword):
    """A keyword the module does not check: no fast check at all (every body is validated fully)."""
    assert compile_check({"type": "object", "properties": {"a": {"type": "string", **keyword}}}) is None


@settings(max_examples=600, deadline=None)
@given(bodies)
def test_fast_yes_implies_full_validator_accepts(body):
    """Soundness: whenever the fast check says yes, the full validator finds no error."""
    if FAST(body):
        assert FULL.is_valid(body)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries({"quantity": st.integers() | st.floats()}), min_size=1, max_size=5))
def test_plain_valid_batches_are_recognised(recs):
    """Records with only an integer or float quantity are valid for both."""
    body = {"records": recs}
    assert FULL.is_valid(body)
    assert FAST(body)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.fixed_dictionaries({"type": st.sampled_from(["string", "integer", "number", "null", "boolean"])}),
        lambda inner: (
            st.fixed_dictionaries({"type": st.just("array"), "items": inner}, optional={"maxItems": st.integers(0, 3)})
            | st.fixed_dictionaries(
                {"type": st.just("object"), "properties": st.dictionaries(st.sampled_from("abc"), inner, max_size=3)},
                optional={"additionalProperties": st.booleans(), "required": st.lists(st.sampled_from("abc"))},
            )
            | st.fixed_dictionaries({"anyOf": st.lists(inner, min_size=1, max_size=2)})
        ),
        max_leaves=6,
    ),
    json_values,
)
def test_fast_yes_implies_full_yes_for_generated_schemas(schema, value):
    """The same soundness over generated schemas of the supported keywords."""
    check = compile_check(schema)
    assert check is not None
    if check(value):
        assert jsonschema.Draft202012Validator(schema).is_valid(value)
