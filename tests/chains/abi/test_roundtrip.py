"""Randomised round trips: values of random ABI types encoded by eth-abi come back from our
decoder as they went in (and as eth-abi decodes them)."""

import eth_abi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains.abi.decode import LOG_KEY_COLUMNS, decode_calls, decode_logs
from chains.abi.spec import parse_abi
from tests.chains.abi.logs import call_row, column_value, log_row, logs_table, transactions_table

# The chains tests' autouse fixtures are function-scoped; they hold no state these tests touch.
_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

_SIZES = list(range(8, 257, 8))
_ELEMENTARY = st.one_of(
    st.sampled_from([f"uint{size}" for size in _SIZES]),
    st.sampled_from([f"int{size}" for size in _SIZES]),
    st.sampled_from([f"bytes{size}" for size in range(1, 33)]),
    st.sampled_from(["address", "bool", "bytes", "string"]),
)


def _type_json(elementary):
    leaves = elementary.map(lambda t: {"type": t})

    def extend(children):
        arrays = st.tuples(children, st.sampled_from(["[]", "[1]", "[2]", "[3]"])).map(
            lambda pair: {**pair[0], "type": pair[0]["type"] + pair[1]}
        )
        tuples = st.lists(children, min_size=1, max_size=3).map(
            lambda components: {
                "type": "tuple",
                "components": [{**c, "name": f"c{i}"} for i, c in enumerate(components)],
            }
        )
        return st.one_of(arrays, tuples)

    return st.recursive(leaves, extend, max_leaves=6)


def _value(type_):
    """A strategy of values eth-abi can encode for the parsed type."""
    from chains.abi.types import ArrayType, Elementary

    if isinstance(type_, ArrayType):
        element = _value(type_.element)
        if type_.length is None:
            return st.lists(element, max_size=3)
        return st.lists(element, min_size=type_.length, max_size=type_.length)
    if not isinstance(type_, Elementary):
        return st.tuples(*(_value(c.type) for c in type_.components))
    kind, size = type_.kind, type_.size
    if kind == "uint":
        return st.one_of(st.integers(0, 2**size - 1), st.sampled_from([0, 2**size - 1]))
    if kind == "int":
        low, high = -(2 ** (size - 1)), 2 ** (size - 1) - 1
        return st.one_of(st.integers(low, high), st.sampled_from([low, high, -1, 0]))
    if kind == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if kind == "bool":
        return st.booleans()
    if kind == "fixed_bytes":
        return st.binary(min_size=size, max_size=size)
    if kind == "bytes":
        return st.binary(max_size=70)
    return st.text(max_size=40)


@st.composite
def _event_and_values(draw, elementary=_ELEMENTARY):
    params = [
        {**draw(_type_json(elementary)), "name": f"p{i}", "indexed": False}
        for i in range(draw(st.integers(1, 4)))
    ]
    event = parse_abi([{"type": "event", "name": "E", "inputs": params}]).events[0]
    rows = draw(st.lists(st.tuples(*(_value(p.type) for p in event.params)), min_size=1, max_size=4))
    return event, rows


def _decoded(table):
    return [
        {k: v for k, v in row.items() if k not in (*LOG_KEY_COLUMNS, "contract_address")}
        for row in table.to_pylist()
    ]


def _round_trip(event, rows):
    types = [p.type.canonical for p in event.params]
    logs = [
        log_row([event.topic0], "0x" + eth_abi.encode(types, list(values)).hex(), i)
        for i, values in enumerate(rows)
    ]
    result = decode_logs(logs_table(logs), event)
    assert result.errors.column("reason").to_pylist() == []
    expected = []
    for log, values in zip(logs, rows, strict=True):
        theirs = eth_abi.decode(types, bytes.fromhex(log["data"][2:]))
        row = {
            f"p{i}": column_value(p.type, v)
            for i, (p, v) in enumerate(zip(event.params, theirs, strict=True))
        }
        assert row == {
            f"p{i}": column_value(p.type, v)
            for i, (p, v) in enumerate(zip(event.params, values, strict=True))
        }
        expected.append(row)
    assert _decoded(result.table) == expected


@_SETTINGS
@given(_event_and_values(elementary=_ELEMENTARY.filter(lambda t: t not in ("bytes", "string"))))
def test_static_types_round_trip(case):
    event, rows = case
    _round_trip(event, rows)


@_SETTINGS
@given(_event_and_values())
def test_any_types_round_trip(case):
    event, rows = case
    _round_trip(event, rows)


@_SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["uint8", "int24", "uint64", "int128", "uint256", "int256", "address", "bool", "bytes32"]
            ),
            st.data(),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_indexed_static_values_round_trip_through_topics(specs):
    params = [{"name": f"t{i}", "type": t, "indexed": True} for i, (t, _) in enumerate(specs)]
    event = parse_abi([{"type": "event", "name": "I", "inputs": params}]).events[0]
    values = [data.draw(_value(p.type)) for p, (_, data) in zip(event.params, specs, strict=True)]
    topics = [
        event.topic0,
        *(
            "0x" + eth_abi.encode([p.type.canonical], [v]).hex()
            for p, v in zip(event.params, values, strict=True)
        ),
    ]
    result = decode_logs(logs_table([log_row(topics, "0x")]), event)
    assert _decoded(result.table) == [
        {f"t{i}": column_value(p.type, v) for i, (p, v) in enumerate(zip(event.params, values, strict=True))}
    ]


@_SETTINGS
@given(_event_and_values())
def test_calls_round_trip(case):
    event, rows = case
    params = [
        {"name": p.name, "type": p.type.canonical if "(" not in p.type.canonical else "x"}
        for p in event.params
    ]
    if any(p["type"] == "x" for p in params):  # tuples: covered by the logs; keep the ABI simple here
        return
    function = parse_abi([{"type": "function", "name": "f", "inputs": params}]).functions[0]
    types = [p["type"] for p in params]
    inputs = [function.selector + eth_abi.encode(types, list(values)).hex() for values in rows]
    result = decode_calls(transactions_table([call_row(i, n) for n, i in enumerate(inputs)]), function)
    assert result.errors.num_rows == 0
    decoded = [{k: row[k] for k in (p["name"] for p in params)} for row in result.table.to_pylist()]
    assert decoded == [
        {p.name: column_value(p.type, v) for p, v in zip(function.inputs, values, strict=True)}
        for values in rows
    ]
