"""Hex string columns ("0x…" values of the lake) to matrices of bytes, many rows at a time.

A column's characters sit in one Arrow buffer. Rows of the same length are one reshape of it (no
copy); others are gathered with one fancy index. The digits go through `binascii.unhexlify` in one
call, which is C and refuses anything but hex, so a column of good rows costs one pass; only when it
refuses are the rows checked one by one (in numpy) to find which ones to set aside.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa

# "00".."ff" as 2-byte codes, to write bytes back as lower-case hex with one table lookup per byte.
HEX_PAIRS = np.frombuffer(b"".join(f"{value:02x}".encode() for value in range(256)), dtype=np.uint16)


def layout(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (int64, one more than rows) and character bytes of a string column, as numpy views."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    width = 8 if pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type) else 4
    offsets = np.frombuffer(
        array.buffers()[1],
        dtype=np.int64 if width == 8 else np.int32,
        count=len(array) + 1,
        offset=array.offset * width,
    ).astype(np.int64)
    return offsets, np.frombuffer(array.buffers()[2] or b"", dtype=np.uint8)


def is_hex_digit(text: np.ndarray) -> np.ndarray:
    """Per byte: "0"-"9", "a"-"f" or "A"-"F" (bit 5 set turns only "A"-"F" into "a"-"f")."""
    return (((text | 0x20) - ord("a")) < 6) | ((text - ord("0")) < 10)


def to_hex(data: np.ndarray) -> np.ndarray:
    """Lower-case hex digits of a (rows, k) byte matrix, as a (rows, 2k) matrix of characters."""
    return HEX_PAIRS[data].view(np.uint8).reshape(data.shape[0], data.shape[1] * 2)


@dataclass
class Words:
    """Rows of 32-byte words: `data` is (rows, 32 * words) bytes; `text`, the same as hex digits
    (any case), is kept when the source was hex already, else written from `data` on demand."""

    data: np.ndarray
    given_text: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return self.data.shape[0]

    @cached_property
    def text(self) -> np.ndarray:
        return self.given_text if self.given_text is not None else to_hex(self.data)

    def word(self, index: int, count: int = 1) -> Words:
        """Words index..index+count-1 of every row (views)."""
        text = None if self.given_text is None else self.given_text[:, 64 * index : 64 * (index + count)]
        return Words(self.data[:, 32 * index : 32 * (index + count)], text)

    def split(self, parts: int) -> Words:
        """Each row cut into `parts` consecutive rows (the elements of a fixed-size array)."""
        rows = self.rows * parts
        data = self.data.reshape(rows, self.data.shape[1] // parts)
        text = (
            None
            if self.given_text is None
            else self.given_text.reshape(rows, self.given_text.shape[1] // parts)
        )
        return Words(data, text)


def _unhexlify(digits: np.ndarray) -> np.ndarray | None:
    try:
        return np.frombuffer(binascii.unhexlify(digits), dtype=np.uint8)
    except binascii.Error:
        return None


def read_fixed(array: pa.Array, rows: np.ndarray, skip: int, digits: int) -> tuple[np.ndarray, Words]:
    """`digits` hex digits from character `skip` of each row in `rows` (each at least that long,
    checked before). Returns (bad rows: not hex there, the Words of the other rows in order)."""
    offsets, text = layout(array)
    count = len(rows)
    lengths = offsets[rows + 1] - offsets[rows]
    uniform = (
        count == len(offsets) - 1
        and count > 0
        and int(lengths[0]) == skip + digits
        and int(offsets[-1] - offsets[0]) == count * (skip + digits)
    )
    if uniform:  # every row, all the same length: one view of the buffer
        matrix = text[offsets[0] : offsets[-1]].reshape(count, skip + digits)[:, skip:]
    else:
        matrix = text[(offsets[rows] + skip)[:, None] + np.arange(digits)]
    matrix = np.ascontiguousarray(matrix)
    data = _unhexlify(matrix)
    bad = np.empty(0, dtype=np.int64)
    if data is None:
        good = is_hex_digit(matrix).all(axis=1)
        bad = rows[~good]
        matrix = np.ascontiguousarray(matrix[good])
        data = _unhexlify(matrix)
    return bad, Words(data.reshape(len(matrix), digits // 2), matrix)


@dataclass
class Payloads:
    """Variable-length byte strings of some rows: row i is data[starts[i]:starts[i+1]]."""

    data: np.ndarray
    starts: np.ndarray

    def head(self, words: int) -> Words:
        """The first `words` words of every row (each at least that long, checked before)."""
        return Words(self.data[self.starts[:-1, None] + np.arange(32 * words)])


def read_ragged(array: pa.Array, rows: np.ndarray, skip: int) -> tuple[np.ndarray, Payloads]:
    """The bytes after character `skip` of each row in `rows` (even digit counts, checked
    before). Returns (bad rows: not hex, the Payloads of the other rows in order)."""
    offsets, text = layout(array)
    firsts = offsets[rows] + skip
    lengths = offsets[rows + 1] - firsts
    if len(rows) == len(offsets) - 1:  # every row: the buffer without each row's prefix
        keep = np.ones(int(offsets[-1] - offsets[0]), dtype=bool)
        for position in range(skip):
            keep[offsets[:-1] - offsets[0] + position] = False
        digits = text[offsets[0] : offsets[-1]][keep]
    else:
        digits = text[ragged_index(firsts, lengths)]
    data = _unhexlify(digits)
    bad = np.empty(0, dtype=np.int64)
    if data is None:
        row_of_digit = np.repeat(np.arange(len(rows)), lengths)
        bad_positions = np.unique(row_of_digit[~is_hex_digit(digits)])
        good = np.ones(len(rows), dtype=bool)
        good[bad_positions] = False
        bad = rows[bad_positions]
        firsts, lengths = firsts[good], lengths[good]
        data = _unhexlify(text[ragged_index(firsts, lengths)])
    starts = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths // 2, out=starts[1:])
    return bad, Payloads(data, starts)


def ragged_index(firsts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions firsts[i] .. firsts[i] + lengths[i] - 1 of every i, concatenated: a running sum
    of steps of one, with a jump where each run starts (faster than np.repeat of the starts)."""
    present = lengths > 0
    firsts, lengths = firsts[present], lengths[present]
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    steps = np.ones(total, dtype=np.int64)
    run_starts = np.cumsum(lengths) - lengths
    steps[0] = firsts[0]
    steps[run_starts[1:]] = firsts[1:] - (firsts[:-1] + lengths[:-1] - 1)
    return np.cumsum(steps, out=steps)


def fixed_strings(prefix: bytes, chars: np.ndarray) -> pa.StringArray:
    """A string column whose row i is `prefix` + the characters chars[i] (all the same width)."""
    count, width = chars.shape
    size = len(prefix) + width
    buffer = np.empty((count, size), dtype=np.uint8)
    buffer[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    buffer[:, len(prefix) :] = chars
    offsets = np.arange(0, (count + 1) * size, size, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(buffer))


def lower(chars: np.ndarray) -> np.ndarray:
    """Hex digits in lower case (bit 5 set: digits keep their code, "A"-"F" become "a"-"f")."""
    return chars | 0x20
