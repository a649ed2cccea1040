import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains.abi.decimals import decimal_strings

_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _words(values, signed):
    return np.frombuffer(
        b"".join(v.to_bytes(32, "big", signed=signed) for v in values), dtype=np.uint8
    ).reshape(-1, 32)


# Values from every tier: below 2**120, below 2**251, above; and the edges of each.
_EDGES = [0, 1, 2**64, 2**120 - 1, 2**120, 2**251 - 1, 2**251, 2**255, 2**256 - 1]
_UNSIGNED = st.one_of(
    st.integers(0, 2**256 - 1), st.sampled_from(_EDGES), st.integers(0, 2**130).map(lambda v: v)
)
_SIGNED = st.one_of(
    st.integers(-(2**255), 2**255 - 1),
    st.sampled_from(
        [-1, -(2**120), -(2**120) - 1, -(2**251), -(2**251) - 1, -(2**255), 2**255 - 1, 2**120 - 1]
    ),
    st.integers(-(2**125), 2**125),
)


@_SETTINGS
@given(st.lists(_UNSIGNED, min_size=1, max_size=30))
def test_unsigned_words_print_exactly(values):
    assert decimal_strings(_words(values, False), signed=False).to_pylist() == [str(v) for v in values]


@_SETTINGS
@given(st.lists(_SIGNED, min_size=1, max_size=30))
def test_signed_words_print_exactly(values):
    assert decimal_strings(_words(values, True), signed=True).to_pylist() == [str(v) for v in values]


def test_repeated_huge_values_and_no_rows():
    values = [2**256 - 1] * 5 + [3]
    assert decimal_strings(_words(values, False), signed=False).to_pylist() == [str(v) for v in values]
    assert decimal_strings(np.zeros((0, 32), dtype=np.uint8), signed=False).to_pylist() == []
