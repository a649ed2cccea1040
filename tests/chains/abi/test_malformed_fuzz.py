"""Corrupted encodings: whatever eth-abi's strict decoder refuses becomes an error row, whatever it
accepts decodes to the same values — on the column-at-a-time path (bytes, T[]) and the row path
(bytes[], arrays of tuples, nested arrays) alike."""

import eth_abi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains.abi.decode import decode_logs
from chains.abi.spec import parse_abi
from tests.chains.abi.logs import column_value, log_row, logs_table

_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

_PARAMS = [
    {"name": "n", "type": "uint8"},
    {"name": "blob", "type": "bytes"},
    {"name": "ids", "type": "uint256[]"},
    {"name": "who", "type": "address[]"},
    {"name": "flags", "type": "bool[]"},
    {"name": "blobs", "type": "bytes[]"},
    {
        "name": "pairs",
        "type": "tuple[]",
        "components": [{"name": "a", "type": "uint8"}, {"name": "b", "type": "bytes"}],
    },
    {"name": "grid", "type": "int16[2][]"},
]
EVENT = parse_abi([{"type": "event", "name": "Fuzz", "inputs": _PARAMS}]).events[0]
TYPES = [p.type.canonical for p in EVENT.params]

_VALUES = st.tuples(
    st.integers(0, 255),
    st.binary(max_size=40),
    st.lists(st.integers(0, 2**256 - 1), max_size=3),
    st.lists(st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()), max_size=2),
    st.lists(st.booleans(), max_size=3),
    st.lists(st.binary(max_size=33), max_size=2),
    st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=5)), max_size=2),
    st.lists(st.lists(st.integers(-(2**15), 2**15 - 1), min_size=2, max_size=2), max_size=2),
)
_MUTATION = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("grow"), st.integers(1, 64), st.integers(0, 255)),
)


def _mutate(data: bytes, mutation) -> bytes:
    kind, where, value = mutation
    if kind == "set" and data:
        position = where % len(data)
        return data[:position] + bytes([value]) + data[position + 1 :]
    if kind == "cut":
        return data[: where % (len(data) + 1)]
    return data + bytes([value]) * where


@_SETTINGS
@given(st.lists(st.tuples(_VALUES, st.lists(_MUTATION, max_size=3)), min_size=1, max_size=5))
def test_corrupted_encodings_agree_with_eth_abi(cases):
    logs, expected = [], {}
    for index, (values, mutations) in enumerate(cases):
        data = eth_abi.encode(TYPES, list(values))
        for mutation in mutations:
            data = _mutate(data, mutation)
        logs.append(log_row([EVENT.topic0], "0x" + data.hex(), index))
        try:
            decoded = eth_abi.decode(TYPES, data)
        except (eth_abi.exceptions.DecodingError, OverflowError):  # a huge length overflows in eth-abi
            continue
        expected[index] = [column_value(p.type, v) for p, v in zip(EVENT.params, decoded, strict=True)]
    result = decode_logs(logs_table(logs), EVENT)
    ours = {row["log_index"]: [row[p.name] for p in EVENT.params] for row in result.table.to_pylist()}
    assert ours == expected
    assert sorted(result.errors.column("log_index").to_pylist()) == sorted(
        set(range(len(cases))) - set(expected)
    )
