"""Values with dynamic parts (bytes, string, T[], and arrays or tuples holding them), decoded one
row at a time in Python into the same values the Arrow columns hold (see `types`).

The encoding is followed as Solidity writes it, and checked as it is followed: every offset must
point past the head it sits in and inside the data, every length must fit in what is left, padding
must be zero. A row that breaks a rule raises `Undecodable` with the reason.
"""

from __future__ import annotations

from chains.abi.types import SMALL_INT_BITS, AbiType, ArrayType, Elementary, TupleType


class Undecodable(Exception):
    """The bytes are not an encoding of the type; the message says where and why."""


class Row:
    """The bytes of one row's data and what decoding them noticed (strings that were not UTF-8)."""

    __slots__ = ("data", "replaced_strings")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.replaced_strings = 0

    def word(self, position: int) -> bytes:
        if position < 0 or position + 32 > len(self.data):
            raise Undecodable(
                f"a word at byte {position} runs past the end of the data ({len(self.data)} bytes)"
            )
        return self.data[position : position + 32]

    def uint(self, position: int) -> int:
        return int.from_bytes(self.word(position), "big")


def _leaf(type_: Elementary, word: bytes, position: int):
    kind = type_.kind
    if kind == "uint":
        value = int.from_bytes(word, "big")
        if value >> type_.size:
            raise Undecodable(f"uint{type_.size} at byte {position} has nonzero padding")
        return value if type_.size <= SMALL_INT_BITS else str(value)
    if kind == "int":
        value = int.from_bytes(word, "big", signed=True)
        bound = 1 << (type_.size - 1)
        if not -bound <= value < bound:
            raise Undecodable(f"int{type_.size} at byte {position} is not sign-extended")
        return value if type_.size <= SMALL_INT_BITS else str(value)
    if kind == "address":
        if any(word[:12]):
            raise Undecodable(f"address at byte {position} has nonzero padding")
        return "0x" + word[12:].hex()
    if kind == "bool":
        if any(word[:31]) or word[31] > 1:
            raise Undecodable(f"bool at byte {position} is neither 0 nor 1")
        return word[31] == 1
    size = type_.size if kind == "fixed_bytes" else 24
    if any(word[size:]):
        raise Undecodable(f"{type_.canonical} at byte {position} has nonzero padding")
    return "0x" + word[:size].hex()


def read(type_: AbiType, row: Row, start: int):
    """The value of `type_` whose encoding starts at byte `start` of the row's data."""
    if isinstance(type_, Elementary):
        if type_.kind in ("bytes", "string"):
            return _byte_string(type_, row, start)
        return _leaf(type_, row.word(start), start)
    if isinstance(type_, ArrayType):
        if type_.length is not None:
            return read_sequence([type_.element] * type_.length, row, start)
        count = row.uint(start)
        room = len(row.data) - start - 32
        if count * 32 * type_.element.head_words > room:
            raise Undecodable(f"array of {count} elements at byte {start} runs past the end of the data")
        return read_sequence([type_.element] * count, row, start + 32)
    if isinstance(type_, TupleType):
        values = read_sequence([component.type for component in type_.components], row, start)
        return {component.column: value for component, value in zip(type_.components, values, strict=True)}
    raise TypeError(f"unknown type {type_!r}")


def read_sequence(types: list[AbiType], row: Row, base: int) -> list:
    """A tuple's (or an array's) values: heads one after another from `base`, each dynamic value
    found at base + the offset in its head."""
    head_end = base + 32 * sum(type_.head_words for type_ in types)
    values, position = [], base
    for type_ in types:
        values.append(read_at(type_, row, base, position, head_end))
        position += 32 * type_.head_words
    return values


def read_at(type_: AbiType, row: Row, base: int, head: int, head_end: int):
    """The value whose head is at byte `head` of a tuple starting at `base` with heads up to
    `head_end`: the value itself when static, else found through the offset in the head."""
    if not type_.is_dynamic:
        return read(type_, row, head)
    offset = row.uint(head)
    target = base + offset
    if target < head_end or target >= len(row.data):
        raise Undecodable(f"offset {offset} at byte {head} points outside the data")
    return read(type_, row, target)


def _byte_string(type_: Elementary, row: Row, start: int):
    length = row.uint(start)
    padded = -(-length // 32) * 32
    begin = start + 32
    if begin + padded > len(row.data):
        raise Undecodable(f"{type_.kind} of {length} bytes at byte {start} runs past the end of the data")
    content = row.data[begin : begin + length]
    if any(row.data[begin + length : begin + padded]):
        raise Undecodable(f"{type_.kind} at byte {start} has nonzero padding")
    if type_.kind == "bytes":
        return "0x" + content.hex()
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        row.replaced_strings += 1
        return content.decode("utf-8", errors="replace")
