import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains.abi.hexdata import ragged_index, read_fixed, read_ragged

_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 5)), max_size=20))
def test_ragged_index_is_the_concatenated_ranges(runs):
    firsts = np.array([first for first, _ in runs], dtype=np.int64)
    lengths = np.array([length for _, length in runs], dtype=np.int64)
    expected = [position for first, length in runs for position in range(first, first + length)]
    assert ragged_index(firsts, lengths).tolist() == expected


@_SETTINGS
@given(
    st.lists(
        st.one_of(st.binary(max_size=40).map(lambda b: "0x" + b.hex()), st.just("0xzz"), st.just("0xABcd")),
        min_size=1,
        max_size=12,
    ),
    st.data(),
)
def test_read_ragged_sets_aside_non_hex_rows_of_any_subset(values, data):
    column = pa.array(values, pa.string())
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, len(values) - 1)))), dtype=np.int64)
    bad, payloads = read_ragged(column, rows, 2)
    expected_bad = [row for row in rows if values[row] == "0xzz"]
    assert bad.tolist() == expected_bad
    good = [row for row in rows if values[row] != "0xzz"]
    decoded = [payloads.data[payloads.starts[i] : payloads.starts[i + 1]].tobytes() for i in range(len(good))]
    assert decoded == [bytes.fromhex(values[row][2:]) for row in good]


def test_read_fixed_gathers_rows_of_unequal_length_and_keeps_their_case():
    column = pa.array(["0x" + "ab" * 32, "0x" + "CD" * 32 + "ffff", "0x" + "q" * 64, "0x" + "01" * 32])
    bad, words = read_fixed(column, np.array([0, 1, 2, 3]), 2, 64)
    assert bad.tolist() == [2]
    assert words.data.tolist() == [[0xAB] * 32, [0xCD] * 32, [0x01] * 32]
    assert bytes(words.text[1]).decode() == "CD" * 32
