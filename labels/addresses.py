"""Chain addresses: validation, the stored form and the displayed form, per chain family.

EVM (the only family so far): ``0x`` and 40 hex digits, stored lower-case, shown with the EIP-55
mixed-case checksum. An address typed in mixed case carries a checksum; a wrong one is refused (it is
almost always a typo), while all-lower or all-upper input has none to check.
"""

from __future__ import annotations

import re

from eth_hash.auto import keccak

EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# What the database CHECK constraint on address_labels.address enforces (the stored form).
EVM_ADDRESS_STORED_SQL = r"^0x[0-9a-f]{40}$"


class AddressError(ValueError):
    """The text is not an address of the chain family."""


def _eip55(lower_hex: str) -> str:
    """EIP-55 over the 40 lower-case hex digits: a letter is upper-case where the keccak nibble at its
    position is 8 or more. eth_utils' ``to_checksum_address`` gives the same (the tests check it) but
    re-validates its input on every call, six times the cost; a 1,000-address lookup checksums each
    address it answers."""
    digest = keccak(lower_hex.encode()).hex()
    return "0x" + "".join([c.upper() if d >= "8" else c for c, d in zip(lower_hex, digest[:40], strict=True)])


def evm_address_parse(text: object) -> tuple[str, str]:
    """(stored form, checksummed form) of an EVM address, or :class:`AddressError` saying why not."""
    if not isinstance(text, str):
        raise AddressError("an address is text: 0x followed by 40 hex digits")
    candidate = text.strip()
    if not EVM_ADDRESS.match(candidate):
        raise AddressError(f"{candidate[:60]!r} is not an EVM address (0x followed by 40 hex digits)")
    digits = candidate[2:]
    lower = digits.lower()
    checksummed = _eip55(lower)
    mixed_case = digits != lower and digits != digits.upper()
    if mixed_case and checksummed[2:] != digits:
        raise AddressError(f"{candidate} has a wrong EIP-55 checksum (mixed case); check for a typo")
    return "0x" + lower, checksummed


def evm_address_normalize(text: object) -> str:
    """The stored form (lower-case) of an EVM address, or :class:`AddressError` saying why not."""
    return evm_address_parse(text)[0]


def evm_address_checksummed(address: str) -> str:
    """The EIP-55 display form of a stored address; anything unexpected is shown as stored."""
    if not isinstance(address, str) or not EVM_ADDRESS.match(address):
        return address
    return _eip55(address[2:].lower())
