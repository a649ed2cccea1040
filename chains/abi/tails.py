"""The commonest dynamic parameters — bytes, string and T[] of a one-word type (uint256[] ids and
amounts, address[] paths) — decoded a column at a time, like the static ones.

Each row's offset and length words are read with one gather each, checked against the row's data
length, and the contents of all rows are gathered in one ragged index. Rows that break a rule get
ok = False; their reason is asked of the row-at-a-time decoder (`dynamic`), so both paths speak
alike. Anything nested (string[], arrays of tuples, T[][]) goes row at a time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from chains.abi.hexdata import HEX_PAIRS, Payloads, Words, ragged_index
from chains.abi.types import AbiType, ArrayType, Elementary
from chains.abi.words import decode_static

_SMALL = 26  # offsets and lengths must fit in the low 6 bytes; more could never be inside the data


def column_at_a_time(type_: AbiType) -> bool:
    """Whether `decode_tail` handles the type."""
    if isinstance(type_, Elementary):
        return type_.kind in ("bytes", "string")
    return (
        isinstance(type_, ArrayType)
        and type_.length is None
        and isinstance(type_.element, Elementary)
        and not type_.element.is_dynamic
    )


def _small_values(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The words as int64 where their top bytes are zero (else 0), and which ones were."""
    fits = ~words[:, :_SMALL].any(axis=1)
    low = np.zeros((len(words), 8), dtype=np.uint8)
    low[:, 2:] = words[:, _SMALL:]
    return np.where(fits, low.view(">u8").reshape(-1).astype(np.int64), 0), fits


def decode_tail(
    type_: AbiType, payloads: Payloads, offset_words: Words, head_end: int
) -> tuple[pa.Array, np.ndarray, int]:
    """(values of every row, ok per row, strings with bytes that were not UTF-8). A row that is
    not ok holds an empty value."""
    starts = payloads.starts[:-1]
    sizes = payloads.starts[1:] - starts
    data = payloads.data
    offsets, ok = _small_values(offset_words.data)
    ok &= (offsets >= head_end) & (offsets + 32 <= sizes)
    offsets = np.where(ok, offsets, 0)
    # Every row holds at least the head (checked before), so a bad row reads its first word.
    at_offset = data[(starts + offsets)[:, None] + np.arange(32)]
    counts, fits = _small_values(at_offset)
    ok &= fits
    array = isinstance(type_, ArrayType)
    needed = 32 * counts if array else -(-counts // 32) * 32
    ok &= offsets + 32 + needed <= sizes
    counts = np.where(ok, counts, 0)
    begins = starts + offsets + 32
    if array:
        return (*_array(type_, data, begins, counts, ok), 0)
    padding = data[ragged_index(begins + counts, -(-counts // 32) * 32 - counts)]
    if padding.any():
        owner = np.repeat(np.arange(len(counts)), -(-counts // 32) * 32 - counts)
        ok[owner[padding != 0]] = False
        counts = np.where(ok, counts, 0)
    content = data[ragged_index(begins, counts)]
    if type_.kind == "bytes":
        return _hex_strings(content, counts), ok, 0
    return _strings(content, counts, ok)


def _array(type_: ArrayType, data, begins, counts, ok) -> tuple[pa.Array, np.ndarray]:
    elements = Words(data[ragged_index(begins, 32 * counts)].reshape(-1, 32))
    values, element_ok = decode_static(type_.element, elements)
    if element_ok is not None:
        owner = np.repeat(np.arange(len(counts)), counts)
        ok[owner[~element_ok]] = False
    list_offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=list_offsets[1:])
    return pa.ListArray.from_arrays(pa.array(list_offsets), values, type=type_.arrow_type()), ok


def _hex_strings(content: np.ndarray, counts: np.ndarray) -> pa.StringArray:
    """ "0x" + hex of each row's bytes."""
    widths = 2 + 2 * counts
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(widths, out=offsets[1:])
    text = np.empty(int(offsets[-1]), dtype=np.uint8)
    digits = np.ones(len(text), dtype=bool)
    digits[offsets[:-1]] = False
    digits[offsets[:-1] + 1] = False
    text[offsets[:-1]] = ord("0")
    text[offsets[:-1] + 1] = ord("x")
    text[digits] = HEX_PAIRS[content].view(np.uint8)
    return pa.StringArray.from_buffers(
        len(counts), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(text)
    )


def _strings(content: np.ndarray, counts: np.ndarray, ok: np.ndarray) -> tuple[pa.Array, np.ndarray, int]:
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    strings = pa.StringArray.from_buffers(len(counts), pa.py_buffer(offsets), pa.py_buffer(content))
    try:
        strings.validate(full=True)
        return strings, ok, 0
    except pa.ArrowInvalid:  # some row is not UTF-8: those rows keep U+FFFD in place of bad bytes
        raw = pa.Array.from_buffers(
            pa.binary(), len(counts), [None, pa.py_buffer(offsets), pa.py_buffer(content)]
        )
        texts, replaced = [], 0
        for value in raw.to_pylist():
            try:
                texts.append(value.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append(value.decode("utf-8", errors="replace"))
                replaced += 1
        return pa.array(texts, pa.string()), ok, replaced
