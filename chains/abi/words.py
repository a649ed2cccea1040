"""Static ABI values out of word matrices, a column at a time.

Each decoder takes the `Words` of every row (the words the value occupies) and returns the Arrow
column and a per-row `ok` mask (None when every row is fine). A row is not ok when its padding is
not what the type allows — a nonzero byte above an address or a uint8, a bool that is neither 0
nor 1, a signed value not sign-extended, bytes after a bytesN — because such a word is not that
type's encoding (the strict decoders of eth-abi and Solidity refuse it too).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from chains.abi.decimals import decimal_strings, padded_with, sign_fill
from chains.abi.hexdata import Words, fixed_strings, lower
from chains.abi.types import SMALL_INT_BITS, AbiType, ArrayType, Elementary, TupleType


def _zero(matrix: np.ndarray) -> np.ndarray:
    return padded_with(matrix, np.zeros(matrix.shape[0], dtype=np.uint8))


def _and(*masks: np.ndarray | None) -> np.ndarray | None:
    present = [mask for mask in masks if mask is not None]
    if not present:
        return None
    result = present[0]
    for mask in present[1:]:
        result = result & mask
    return result


def _none_if_all(mask: np.ndarray) -> np.ndarray | None:
    return None if mask.all() else mask


def decode_static(type_: AbiType, words: Words) -> tuple[pa.Array, np.ndarray | None]:
    """The values of a static type whose encoding is `words` (type_.static_words words a row)."""
    if isinstance(type_, Elementary):
        return _elementary(type_, words)
    if isinstance(type_, ArrayType):
        return _fixed_array(type_, words)
    if isinstance(type_, TupleType):
        return _tuple(type_, words)
    raise TypeError(f"not a static type: {type_}")


def _elementary(type_: Elementary, words: Words) -> tuple[pa.Array, np.ndarray | None]:
    data = words.data
    kind = type_.kind
    if kind == "address":
        return fixed_strings(b"0x", lower(words.text[:, 24:64])), _none_if_all(_zero(data[:, :12]))
    if kind in ("fixed_bytes", "function"):
        size = type_.size if kind == "fixed_bytes" else 24
        return fixed_strings(b"0x", lower(words.text[:, : 2 * size])), _none_if_all(_zero(data[:, size:]))
    if kind == "bool":
        last = data[:, 31]
        return pa.array(last == 1, pa.bool_()), _none_if_all(_zero(data[:, :31]) & (last <= 1))
    if kind in ("uint", "int"):
        return _integer(type_, data)
    raise TypeError(f"not a static type: {type_.canonical}")


def _integer(type_: Elementary, data: np.ndarray) -> tuple[pa.Array, np.ndarray | None]:
    signed = type_.kind == "int"
    value_bytes = type_.size // 8
    first = 32 - value_bytes  # the first byte of the value; the ones before only pad
    if signed:
        fill = np.where(data[:, first] >= 0x80, np.uint8(0xFF), np.uint8(0))
    else:
        fill = np.zeros(data.shape[0], dtype=np.uint8)
    ok = _none_if_all(padded_with(data[:, :first], fill))
    if type_.size <= SMALL_INT_BITS:
        # The low four bytes hold the value, sign-extended where it is narrower.
        low = np.ascontiguousarray(data[:, 28:32]).view(">i4" if signed else ">u4").reshape(-1)
        return pa.array(low.astype(np.int64), pa.int64()), ok
    if ok is not None:
        # A row with bad padding is dropped later; print its value as if it were padded right.
        data = data.copy()
        data[:, :first] = sign_fill(data[:, first:], signed)[:, None]
    return decimal_strings(data, signed), ok


def _fixed_array(type_: ArrayType, words: Words) -> tuple[pa.Array, np.ndarray | None]:
    length = type_.length
    values, element_ok = decode_static(type_.element, words.split(length))
    offsets = pa.array(np.arange(0, (words.rows + 1) * length, length, dtype=np.int32))
    ok = None if element_ok is None else element_ok.reshape(words.rows, length).all(axis=1)
    return pa.ListArray.from_arrays(offsets, values, type=type_.arrow_type()), ok


def _tuple(type_: TupleType, words: Words) -> tuple[pa.Array, np.ndarray | None]:
    children, oks, position = [], [], 0
    for component in type_.components:
        size = component.type.static_words
        child, ok = decode_static(component.type, words.word(position, size))
        children.append(child)
        oks.append(ok)
        position += size
    return pa.StructArray.from_arrays(children, fields=list(type_.arrow_type())), _and(*oks)
