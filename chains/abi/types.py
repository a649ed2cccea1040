"""Solidity ABI types as a small tree: parsed from the type strings of a JSON ABI, printed back in
canonical form (the form the signature hashes are taken over), and mapped to the Arrow type of the
decoded column.

Arrow types, chosen to match the lake:
- (u)int8 .. (u)int32 -> int64: small enough to be exact, and what SQL users compare and join on
  (Uniswap v3 ticks, decimals, fees).
- wider integers, (u)int40 .. (u)int256 -> exact base-10 strings ("-12", "1000000000000000000"):
  Arrow's and DuckDB's decimals stop short of 78 digits.
- address -> lower-case 0x-hex string; bool -> bool; bytes1..bytes32, bytes and `function` ->
  lower-case 0x-hex string; string -> string (bytes that are not UTF-8 are replaced by U+FFFD).
- T[k] and T[] -> list of T; tuples -> struct, one field per component.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

WORD = 32
SMALL_INT_BITS = 32  # (u)intN up to this width decode to int64; wider ones to decimal strings


class AbiError(ValueError):
    """A JSON ABI that cannot be used: the message names the entry and what is wrong with it."""


@dataclass(frozen=True)
class AbiType:
    """Base of the type tree. `head_words` is the size of a static value in 32-byte words (one word,
    the offset, for a dynamic value)."""

    @property
    def canonical(self) -> str:
        raise NotImplementedError

    @property
    def is_dynamic(self) -> bool:
        raise NotImplementedError

    @property
    def static_words(self) -> int:
        raise NotImplementedError

    @property
    def head_words(self) -> int:
        return 1 if self.is_dynamic else self.static_words

    def arrow_type(self) -> pa.DataType:
        raise NotImplementedError


@dataclass(frozen=True)
class Elementary(AbiType):
    """A one-word or byte-string type. `kind` is one of uint, int, address, bool, fixed_bytes,
    function, bytes, string; `size` is the bit width of an integer or the byte count of bytesN."""

    kind: str
    size: int = 0

    @property
    def canonical(self) -> str:
        if self.kind in ("uint", "int"):
            return f"{self.kind}{self.size}"
        if self.kind == "fixed_bytes":
            return f"bytes{self.size}"
        return self.kind

    @property
    def is_dynamic(self) -> bool:
        return self.kind in ("bytes", "string")

    @property
    def static_words(self) -> int:
        return 1

    def arrow_type(self) -> pa.DataType:
        if self.kind in ("uint", "int"):
            return pa.int64() if self.size <= SMALL_INT_BITS else pa.string()
        if self.kind == "bool":
            return pa.bool_()
        return pa.string()


@dataclass(frozen=True)
class ArrayType(AbiType):
    """`element[length]`, or `element[]` when length is None."""

    element: AbiType
    length: int | None

    @property
    def canonical(self) -> str:
        return f"{self.element.canonical}[{'' if self.length is None else self.length}]"

    @property
    def is_dynamic(self) -> bool:
        return self.length is None or self.element.is_dynamic

    @property
    def static_words(self) -> int:
        return (self.length or 0) * self.element.static_words

    def arrow_type(self) -> pa.DataType:
        return pa.list_(self.element.arrow_type())


@dataclass(frozen=True)
class Component:
    """A named member of a tuple; `column` is its struct field name (snake_case, `argN` if unnamed)."""

    name: str
    column: str
    type: AbiType


@dataclass(frozen=True)
class TupleType(AbiType):
    components: tuple[Component, ...]

    @property
    def canonical(self) -> str:
        return "(" + ",".join(component.type.canonical for component in self.components) + ")"

    @property
    def is_dynamic(self) -> bool:
        return any(component.type.is_dynamic for component in self.components)

    @property
    def static_words(self) -> int:
        return sum(component.type.static_words for component in self.components)

    def arrow_type(self) -> pa.DataType:
        return pa.struct([pa.field(c.column, c.type.arrow_type()) for c in self.components])


_ARRAY_SUFFIX = re.compile(r"\[(\d*)\]$")
_SIZED = re.compile(r"^(uint|int|bytes)(\d*)$")


def parse_type(type_string: object, components: object = None) -> AbiType:
    """The type tree of an ABI `type` string ("uint256", "address[2][]", "tuple[]" with its
    `components`). Raises AbiError naming the type on anything Solidity cannot declare."""
    if not isinstance(type_string, str) or not type_string:
        raise AbiError(f"type must be a non-empty string, not {type_string!r}")
    suffix = _ARRAY_SUFFIX.search(type_string)
    if suffix:
        element = parse_type(type_string[: suffix.start()], components)
        if not suffix.group(1):
            return ArrayType(element, None)
        length = int(suffix.group(1))
        if length < 1:
            raise AbiError(f"array length must be at least 1 in type {type_string!r}")
        return ArrayType(element, length)
    if "[" in type_string or "]" in type_string:
        raise AbiError(f"malformed array brackets in type {type_string!r}")
    if type_string == "tuple":
        return _tuple(components)
    if components is not None and components != []:
        raise AbiError(f"type {type_string!r} has components, which only a tuple can have")
    return _elementary(type_string)


def _elementary(name: str) -> Elementary:
    if name in ("address", "bool", "string", "function"):
        return Elementary(name)
    sized = _SIZED.match(name)
    if sized:
        kind, digits = sized.groups()
        if kind == "bytes":
            if not digits:
                return Elementary("bytes")
            size = int(digits)
            if not 1 <= size <= WORD or digits != str(size):
                raise AbiError(f"unknown type {name!r}: bytesN needs N from 1 to 32")
            return Elementary("fixed_bytes", size)
        bits = int(digits) if digits else 256
        if not 8 <= bits <= 256 or bits % 8 or (digits and digits != str(bits)):
            raise AbiError(f"unknown type {name!r}: {kind}N needs N a multiple of 8 from 8 to 256")
        return Elementary(kind, bits)
    if name.startswith(("fixed", "ufixed")):
        raise AbiError(f"fixed-point type {name!r} is not supported")
    raise AbiError(f"unknown type {name!r}")


def _tuple(components: object) -> TupleType:
    if not isinstance(components, list) or not components:
        raise AbiError("a tuple needs a non-empty list of components")
    parsed = []
    columns = unique_columns(
        [_member_name(component, position) for position, component in enumerate(components)]
    )
    for position, (component, column) in enumerate(zip(components, columns, strict=True)):
        try:
            type_ = parse_type(component.get("type"), component.get("components"))
        except AbiError as exc:
            raise AbiError(f"component {position} ({component.get('name') or 'unnamed'}): {exc}") from None
        parsed.append(Component(component.get("name") or "", column, type_))
    return TupleType(tuple(parsed))


def _member_name(component: object, position: int) -> str:
    if not isinstance(component, dict):
        raise AbiError(f"component {position} is not an object: {component!r}"[:200])
    name = component.get("name") or ""
    if not isinstance(name, str):
        raise AbiError(f"component {position}: name must be a string, not {name!r}")
    return snake_case(name) or f"arg{position}"


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """A column name for an ABI name: `amount0In` -> `amount0_in`, `sqrtPriceX96` ->
    `sqrt_price_x96`, `_owner` -> `owner`, `tokenURI` -> `token_uri`."""
    cleaned = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_")
    return re.sub(r"_+", "_", _CAMEL_BOUNDARY.sub("_", cleaned)).lower()


def unique_columns(names: list[str], reserved: frozenset[str] = frozenset()) -> list[str]:
    """`names` with each one that repeats an earlier name (or a reserved one) suffixed by its
    position: ["value", "value"] -> ["value", "value_1"]."""
    taken = set(reserved)
    unique = []
    for position, name in enumerate(names):
        column = name if name not in taken else f"{name}_{position}"
        while column in taken:
            column += "_"
        taken.add(column)
        unique.append(column)
    return unique
