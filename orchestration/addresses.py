"""Chain addresses: validation, the stored form and the displayed form, per chain family.

EVM (the only family so far): ``0x`` and 40 hex digits, stored lower-case, shown with the EIP-55
mixed-case checksum. An address typed in mixed case carries a checksum; a wrong one is refused (it is
almost always a typo), while all-lower or all-upper input has none to check.
"""

from __future__ import annotations

import re

from eth_utils import to_checksum_address

EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# What the database CHECK constraint on address_labels.address enforces (the stored form).
EVM_ADDRESS_STORED_SQL = r"^0x[0-9a-f]{40}$"


class AddressError(ValueError):
    """The text is not an address of the chain family."""


def evm_address_normalize(text: object) -> str:
    """The stored form (lower-case) of an EVM address, or :class:`AddressError` saying why not."""
    if not isinstance(text, str):
        raise AddressError("an address is text: 0x followed by 40 hex digits")
    candidate = text.strip()
    if not EVM_ADDRESS.match(candidate):
        raise AddressError(f"{candidate[:60]!r} is not an EVM address (0x followed by 40 hex digits)")
    digits = candidate[2:]
    mixed_case = digits != digits.lower() and digits != digits.upper()
    if mixed_case and to_checksum_address(candidate) != candidate:
        raise AddressError(f"{candidate} has a wrong EIP-55 checksum (mixed case); check for a typo")
    return "0x" + digits.lower()


def evm_address_checksummed(address: str) -> str:
    """The EIP-55 display form of a stored address; anything unexpected is shown as stored."""
    try:
        return to_checksum_address(address)
    except (ValueError, TypeError):
        return address
