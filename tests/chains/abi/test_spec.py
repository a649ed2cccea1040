import json

import pytest

from chains.abi.spec import AbiError, parse_abi
from chains.abi.types import parse_type, snake_case


def event(name, *inputs, anonymous=False):
    return {"type": "event", "name": name, "anonymous": anonymous, "inputs": list(inputs)}


def param(type_, name="x", indexed=False, **extra):
    return {"name": name, "type": type_, "indexed": indexed, **extra}


def test_event_signature_topic0_and_indexed_flags():
    abi = parse_abi(
        [
            event(
                "Transfer",
                param("address", "from", True),
                param("address", "to", True),
                param("uint256", "value"),
            )
        ]
    )
    transfer = abi.event("Transfer")
    assert transfer.signature == "Transfer(address,address,uint256)"
    assert transfer.topic0 == "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    assert [p.indexed for p in transfer.params] == [True, True, False]
    assert transfer.topic_count == 3


def test_function_selector_and_default_entry_type():
    abi = parse_abi(json.dumps([{"name": "transfer", "inputs": [param("address"), param("uint256")]}]))
    assert abi.function("transfer").signature == "transfer(address,uint256)"
    assert abi.function("transfer").selector == "0xa9059cbb"


def test_tuples_and_arrays_in_canonical_form():
    components = [
        param("uint256", "amount"),
        param("tuple[]", "legs", components=[param("address", "pool"), param("bytes", "path")]),
    ]
    abi = parse_abi(
        [{"type": "function", "name": "swap", "inputs": [param("tuple[2]", "order", components=components)]}]
    )
    assert abi.function("swap").signature == "swap((uint256,(address,bytes)[])[2])"
    # aliases are canonicalised before hashing
    assert parse_type("uint").canonical == "uint256"
    assert parse_type("int[][3]").canonical == "int256[][3]"


def test_skips_constructor_error_fallback_receive():
    abi = parse_abi(
        [
            {"type": "constructor", "inputs": []},
            {"type": "error", "name": "Nope", "inputs": []},
            {"type": "fallback"},
            {"type": "receive"},
        ]
    )
    assert abi.events == () and abi.functions == ()


def test_compiler_artifact_is_read_through_its_abi_key():
    assert parse_abi({"abi": [event("Ping")]}).event("Ping").signature == "Ping()"


@pytest.mark.parametrize(
    ("abi", "message"),
    [
        ({"not": "a list"}, "an ABI must be a list of entries, not dict"),
        ("{not json", "not valid JSON"),
        ([event("Bad", param("uint7"))], "entry 0 (event Bad): parameter 0 (x): unknown type 'uint7'"),
        ([event("Bad", param("uint264"))], "unknown type 'uint264'"),
        ([event("Bad", param("bytes33"))], "unknown type 'bytes33'"),
        ([event("Bad", param("bytes0"))], "unknown type 'bytes0'"),
        ([event("Bad", param("uint256[0]"))], "array length must be at least 1"),
        ([event("Bad", param("uint256["))], "malformed array brackets"),
        ([event("Bad", param("fixed128x18"))], "fixed-point type 'fixed128x18' is not supported"),
        ([event("Bad", param("tuple"))], "a tuple needs a non-empty list of components"),
        (
            [event("Bad", param("tuple", components=[param("uint9", "inner")]))],
            "component 0 (inner): unknown type",
        ),
        ([event("Bad", param("address", components=[param("uint8")]))], "only a tuple can have"),
        ([event("Bad", param(None))], "type must be a non-empty string"),
        ([{"type": "event", "inputs": []}], "entry 0 (event): missing name"),
        ([event("", param("uint8"))], "missing name"),
        ([event("Spaced Name")], "is not an identifier"),
        ([event("Four", *(param("uint8", f"a{i}", True) for i in range(4)))], "4 indexed parameters"),
        ([{"type": "function", "name": "f", "inputs": [param("uint8", indexed=True)]}], "events only"),
        ([{"type": "whatever", "name": "w"}], "entry 0 (whatever w): unknown entry type"),
        ([42], "entry 0 is not an object"),
        ([event("E", "uint256")], "inputs[0] is not an object"),
        ([{"type": "event", "name": "E", "inputs": "uint256"}], "inputs must be a list"),
        ([event("A"), event("B", param("int7"))], "entry 1 (event B)"),
    ],
)
def test_bad_abis_raise_abi_error_naming_entry_and_problem(abi, message):
    with pytest.raises(AbiError) as raised:
        parse_abi(abi)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_anonymous_events_may_index_four():
    abi = parse_abi([event("Anon", *(param("uint8", f"a{i}", True) for i in range(4)), anonymous=True)])
    assert abi.event("Anon").topic_count == 4


def test_overloaded_events_are_found_by_signature():
    abi = parse_abi([event("E", param("uint8")), event("E", param("uint16"))])
    assert abi.event("E(uint16)").params[0].type.canonical == "uint16"
    with pytest.raises(KeyError, match="overloaded"):
        abi.event("E")
    with pytest.raises(KeyError, match="no event"):
        abi.event("F")


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("amount0In", "amount0_in"),
        ("sqrtPriceX96", "sqrt_price_x96"),
        ("_owner", "owner"),
        ("tokenURI", "token_uri"),
        ("from", "from"),
        ("tickLower", "tick_lower"),
        ("", ""),
    ],
)
def test_snake_case_column_names(name, column):
    assert snake_case(name) == column
