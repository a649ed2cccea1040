"""256-bit words (big-endian, two's complement when signed) to exact base-10 strings, a column at
a time.

Arrow's decimal types hold 128- and 256-bit two's-complement integers, and their cast to string is
C++: so a word is printed by laying its bytes, reversed to little-endian, into a decimal array's
buffer. Three tiers by size:
- |value| < 2**120 (almost every amount, price and balance): decimal128, about 0.1 µs a value;
- |value| < 2**251, within decimal256's 76 digits: decimal256, about 1 µs;
- the rest (2**256 - 1 "unlimited" approvals, huge negatives): Python's int, once per distinct
  value, so a column of unlimited approvals costs one conversion.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_SMALL_BYTES = 17  # the top 17 bytes only sign-extend: |value| < 2**120, well inside decimal128
_DECIMAL128 = pa.decimal128(38, 0)
_DECIMAL256 = pa.decimal256(76, 0)


def sign_fill(words: np.ndarray, signed: bool) -> np.ndarray:
    """Per row, the byte that pads the value: 0x00, or 0xff for a negative signed value."""
    if not signed:
        return np.zeros(words.shape[0], dtype=np.uint8)
    return np.where(words[:, 0] >= 0x80, np.uint8(0xFF), np.uint8(0))


def padded_with(matrix: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Per row: every byte of `matrix` equals that row's fill byte."""
    if matrix.shape[1] == 0:
        return np.ones(matrix.shape[0], dtype=bool)
    return (matrix == fill[:, None]).all(axis=1)


def _through_decimal(words: np.ndarray, width: int, type_: pa.DataType) -> pa.StringArray:
    little_endian = np.ascontiguousarray(words[:, : 31 - width : -1] if width < 32 else words[:, ::-1])
    array = pa.Array.from_buffers(type_, len(words), [None, pa.py_buffer(little_endian)])
    return array.cast(pa.string())


def _through_python(words: np.ndarray, signed: bool) -> pa.StringArray:
    distinct, inverse = np.unique(np.ascontiguousarray(words).view(f"V{words.shape[1]}"), return_inverse=True)
    texts = [str(int.from_bytes(value.tobytes(), "big", signed=signed)) for value in distinct]
    return pa.array(texts, pa.string()).take(pa.array(inverse.reshape(-1)))


def decimal_strings(words: np.ndarray, signed: bool) -> pa.StringArray:
    """Base-10 strings of the values of a (rows, 32) byte matrix of big-endian words."""
    count = words.shape[0]
    if count == 0:
        return pa.array([], pa.string())
    fill = sign_fill(words, signed)
    small = padded_with(words[:, :_SMALL_BYTES], fill)
    if small.all():
        return _through_decimal(words, 16, _DECIMAL128)
    top = words[:, 0]
    medium = ~small & ((top < 0x08) | (signed & (top >= 0xF8)))
    big = ~small & ~medium
    parts, positions = [], []
    for mask, convert in (
        (small, lambda rows: _through_decimal(rows, 16, _DECIMAL128)),
        (medium, lambda rows: _through_decimal(rows, 32, _DECIMAL256)),
        (big, lambda rows: _through_python(rows, signed)),
    ):
        if mask.any():
            indices = np.flatnonzero(mask)
            parts.append(convert(words[indices]))
            positions.append(indices)
    if len(parts) == 1:
        return parts[0]
    order = np.empty(count, dtype=np.int64)
    order[np.concatenate(positions)] = np.arange(count)
    return pa.concat_arrays(parts).take(pa.array(order))
