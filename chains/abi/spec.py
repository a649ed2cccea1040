"""A JSON ABI (the list of entries a compiler or a block explorer gives) parsed into the events and
functions a decoder needs: canonical signatures, topic0 hashes, 4-byte selectors, indexed flags.

Entries of other kinds (constructor, fallback, receive, error) are accepted and skipped. Anything
malformed raises AbiError whose message starts with the entry ("entry 2 (event Transfer): ...") so
a form can show it next to the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from eth_hash.auto import keccak

from chains.abi.types import AbiError, AbiType, Elementary, parse_type, snake_case

__all__ = ["Abi", "AbiError", "Event", "Function", "Param", "parse_abi"]

MAX_INDEXED = 3  # topics 1..3; topic0 is the signature hash
_SKIPPED_KINDS = {"constructor", "fallback", "receive", "error"}


@dataclass(frozen=True)
class Param:
    """An event or function parameter. `name` is as written in the ABI ("" when unnamed)."""

    name: str
    type: AbiType
    indexed: bool = False

    def base_column(self, position: int) -> str:
        """Its column name before de-duplication: snake_case, `argN` when unnamed, and `_hash` added
        for a value of which the log keeps only the keccak hash."""
        column = snake_case(self.name) or f"arg{position}"
        return f"{column}_hash" if self.hashed_in_topic else column

    @property
    def hashed_in_topic(self) -> bool:
        """An indexed string, bytes, array or tuple (even a fixed-size one) is not in its topic:
        the topic is the keccak-256 of its encoding."""
        return self.indexed and not (isinstance(self.type, Elementary) and not self.type.is_dynamic)


def _signature(name: str, params: tuple[Param, ...]) -> str:
    return f"{name}({','.join(param.type.canonical for param in params)})"


@dataclass(frozen=True)
class Event:
    name: str
    params: tuple[Param, ...]
    anonymous: bool = False

    @cached_property
    def signature(self) -> str:
        """`Transfer(address,address,uint256)`."""
        return _signature(self.name, self.params)

    @cached_property
    def topic0(self) -> str:
        """keccak256 of the signature as 0x-hex: the first topic of the event's logs (an anonymous
        event does not emit it)."""
        return "0x" + keccak(self.signature.encode()).hex()

    @property
    def indexed(self) -> tuple[Param, ...]:
        return tuple(param for param in self.params if param.indexed)

    @property
    def data_params(self) -> tuple[Param, ...]:
        return tuple(param for param in self.params if not param.indexed)

    @property
    def topic_count(self) -> int:
        """How many topics its logs carry."""
        return len(self.indexed) + (0 if self.anonymous else 1)


@dataclass(frozen=True)
class Function:
    name: str
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...] = ()

    @cached_property
    def signature(self) -> str:
        return _signature(self.name, self.inputs)

    @cached_property
    def selector(self) -> str:
        """The first 4 bytes of keccak256(signature) as 0x-hex: how calldata names the function."""
        return "0x" + keccak(self.signature.encode())[:4].hex()


@dataclass(frozen=True)
class Abi:
    events: tuple[Event, ...]
    functions: tuple[Function, ...]

    def event(self, name_or_signature: str) -> Event:
        """An event by signature, or by name when only one event has it."""
        return _one(self.events, name_or_signature, "event")

    def function(self, name_or_signature: str) -> Function:
        return _one(self.functions, name_or_signature, "function")


def _one(items, key: str, what: str):
    matches = [item for item in items if key in (item.signature, item.name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise KeyError(f"no {what} {key!r} in this ABI")
    raise KeyError(f"{what} {key!r} is overloaded: name one of {[m.signature for m in matches]}")


def parse_abi(abi: object) -> Abi:
    """Events and functions of a JSON ABI: a list of entries, or its JSON text."""
    if isinstance(abi, str | bytes):
        try:
            abi = json.loads(abi)
        except ValueError as exc:
            raise AbiError(f"not valid JSON: {exc}") from None
    if isinstance(abi, dict) and "abi" in abi:  # a compiler artifact
        abi = abi["abi"]
    if not isinstance(abi, list):
        raise AbiError(f"an ABI must be a list of entries, not {type(abi).__name__}")
    events, functions = [], []
    for position, entry in enumerate(abi):
        if not isinstance(entry, dict):
            raise AbiError(f"entry {position} is not an object: {entry!r}"[:200])
        kind = entry.get("type", "function")
        label = f"entry {position} ({kind} {entry.get('name') or ''}".rstrip() + ")"
        try:
            if kind == "event":
                events.append(_event(entry))
            elif kind == "function":
                functions.append(_function(entry))
            elif kind not in _SKIPPED_KINDS:
                raise AbiError(f"unknown entry type {kind!r}")
        except AbiError as exc:
            raise AbiError(f"{label}: {exc}") from None
    return Abi(tuple(events), tuple(functions))


def _name(entry: dict) -> str:
    name = entry.get("name")
    if not name:
        raise AbiError("missing name")
    if not isinstance(name, str) or not name.isidentifier():
        raise AbiError(f"name {name!r} is not an identifier")
    return name


def _params(entry: dict, key: str, *, allow_indexed: bool) -> tuple[Param, ...]:
    raw = entry.get(key, [])
    if not isinstance(raw, list):
        raise AbiError(f"{key} must be a list")
    params = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            raise AbiError(f"{key}[{position}] is not an object")
        name = item.get("name") or ""
        try:
            if not isinstance(name, str):
                raise AbiError(f"name must be a string, not {name!r}")
            type_ = parse_type(item.get("type"), item.get("components"))
            indexed = item.get("indexed", False)
            if not isinstance(indexed, bool) or (indexed and not allow_indexed):
                raise AbiError(f"indexed must be true or false{'' if allow_indexed else ' (events only)'}")
        except AbiError as exc:
            raise AbiError(f"parameter {position} ({name or 'unnamed'}): {exc}") from None
        params.append(Param(name, type_, indexed and allow_indexed))
    return tuple(params)


def _event(entry: dict) -> Event:
    name = _name(entry)
    anonymous = entry.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise AbiError("anonymous must be true or false")
    params = _params(entry, "inputs", allow_indexed=True)
    indexed = sum(param.indexed for param in params)
    most = MAX_INDEXED + (1 if anonymous else 0)
    if indexed > most:
        raise AbiError(f"{indexed} indexed parameters; a log has room for {most}")
    return Event(name, params, anonymous)


def _function(entry: dict) -> Function:
    name = _name(entry)
    return Function(
        name,
        _params(entry, "inputs", allow_indexed=False),
        _params(entry, "outputs", allow_indexed=False),
    )
