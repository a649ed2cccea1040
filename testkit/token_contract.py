"""A minimal ERC-20-style token, hand-assembled, for the local test chain.

The test chain must deploy a token and make transfers without a Solidity compiler (none can be
downloaded here), so the contract is written in EVM assembly below and assembled at import. It keeps
to what ingestion tests need: the standard `Transfer` and `Approval` events with their canonical
signatures, `transfer`, `approve`, `balanceOf` and `totalSupply`. Balances live at the storage slot
equal to the holder's address and the total supply at slot 2**255, which no address can reach.

The constructor mints `INITIAL_SUPPLY` to the deployer and emits `Transfer(0x0, deployer, supply)`,
so every chain that uses the token starts with a mint log (a transfer from the zero address).
"""

from __future__ import annotations

from eth_utils import keccak

TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
APPROVAL_TOPIC = "0x" + keccak(text="Approval(address,address,uint256)").hex()
TRANSFER_SELECTOR = keccak(text="transfer(address,uint256)")[:4]
APPROVE_SELECTOR = keccak(text="approve(address,uint256)")[:4]
BALANCE_OF_SELECTOR = keccak(text="balanceOf(address)")[:4]
TOTAL_SUPPLY_SELECTOR = keccak(text="totalSupply()")[:4]

# Larger than 2**53 and than int64, so any float or int64 on the way would show in the tests.
INITIAL_SUPPLY = 10**30

_OPCODES = {
    "STOP": 0x00,
    "ADD": 0x01,
    "SUB": 0x03,
    "LT": 0x10,
    "EQ": 0x14,
    "SHL": 0x1B,
    "SHR": 0x1C,
    "CALLER": 0x33,
    "CALLDATALOAD": 0x35,
    "CODECOPY": 0x39,
    "MSTORE": 0x52,
    "SLOAD": 0x54,
    "SSTORE": 0x55,
    "JUMPI": 0x57,
    "JUMPDEST": 0x5B,
    "DUP1": 0x80,
    "DUP2": 0x81,
    "DUP3": 0x82,
    "SWAP1": 0x90,
    "LOG3": 0xA3,
    "RETURN": 0xF3,
    "REVERT": 0xFD,
}


def _assemble(program: list) -> bytes:
    """Assemble a list of opcodes, `(PUSHn, value)` pairs, `("LABEL", name)` marks and
    `("PUSHLABEL", name)` (a PUSH2 of a label's offset), resolving labels in two passes."""

    def size(item) -> int:
        if isinstance(item, str):
            return 1
        kind = item[0]
        if kind == "LABEL":
            return 0
        if kind == "PUSHLABEL":
            return 3
        return 1 + int(kind[4:])

    offsets, position = {}, 0
    for item in program:
        if isinstance(item, tuple) and item[0] == "LABEL":
            offsets[item[1]] = position
        position += size(item)

    code = bytearray()
    for item in program:
        if isinstance(item, str):
            code.append(_OPCODES[item])
            continue
        kind, value = item
        if kind == "LABEL":
            continue
        if kind == "PUSHLABEL":
            kind, value = "PUSH2", offsets[value]
        width = int(kind[4:])
        raw = value if isinstance(value, bytes) else int(value).to_bytes(width, "big")
        if len(raw) != width:
            raise ValueError(f"{kind} needs {width} bytes, got {len(raw)}")
        code.append(0x5F + width)
        code += raw
    return bytes(code)


def _return_word() -> list:
    """Return the word on top of the stack as the call's 32-byte result."""
    return [("PUSH1", 0), "MSTORE", ("PUSH1", 0x20), ("PUSH1", 0), "RETURN"]


_TOTAL_SUPPLY_SLOT = [("PUSH1", 1), ("PUSH1", 255), "SHL"]
_TRANSFER_TOPIC_BYTES = bytes.fromhex(TRANSFER_TOPIC[2:])
_APPROVAL_TOPIC_BYTES = bytes.fromhex(APPROVAL_TOPIC[2:])

RUNTIME = _assemble(
    [
        # selector = calldata[0:4]
        ("PUSH1", 0),
        "CALLDATALOAD",
        ("PUSH1", 0xE0),
        "SHR",
        "DUP1",
        ("PUSH4", TRANSFER_SELECTOR),
        "EQ",
        ("PUSHLABEL", "transfer"),
        "JUMPI",
        "DUP1",
        ("PUSH4", APPROVE_SELECTOR),
        "EQ",
        ("PUSHLABEL", "approve"),
        "JUMPI",
        "DUP1",
        ("PUSH4", BALANCE_OF_SELECTOR),
        "EQ",
        ("PUSHLABEL", "balance_of"),
        "JUMPI",
        ("PUSH4", TOTAL_SUPPLY_SELECTOR),
        "EQ",
        ("PUSHLABEL", "total_supply"),
        "JUMPI",
        ("LABEL", "fail"),
        "JUMPDEST",
        ("PUSH1", 0),
        "DUP1",
        "REVERT",
        # transfer(to, amount): balances[caller] -= amount (reverts if short); balances[to] += amount
        ("LABEL", "transfer"),
        "JUMPDEST",
        ("PUSH1", 0x24),
        "CALLDATALOAD",  # amount
        "CALLER",
        "SLOAD",  # balance, amount
        "DUP2",
        "DUP2",
        "LT",
        ("PUSHLABEL", "fail"),
        "JUMPI",  # balance, amount
        "DUP2",
        "SWAP1",
        "SUB",  # balance - amount, amount
        "CALLER",
        "SSTORE",  # amount
        ("PUSH1", 0x04),
        "CALLDATALOAD",  # to, amount
        "DUP1",
        "SLOAD",
        "DUP3",
        "ADD",  # to_balance + amount, to, amount
        "SWAP1",
        "SSTORE",  # amount
        ("PUSH1", 0),
        "MSTORE",
        ("PUSH1", 0x04),
        "CALLDATALOAD",
        "CALLER",
        ("PUSH32", _TRANSFER_TOPIC_BYTES),
        ("PUSH1", 0x20),
        ("PUSH1", 0),
        "LOG3",  # Transfer(caller, to, amount)
        ("PUSH1", 1),
        *_return_word(),
        # approve(spender, amount): only the event; the tests never spend allowances
        ("LABEL", "approve"),
        "JUMPDEST",
        ("PUSH1", 0x24),
        "CALLDATALOAD",
        ("PUSH1", 0),
        "MSTORE",
        ("PUSH1", 0x04),
        "CALLDATALOAD",
        "CALLER",
        ("PUSH32", _APPROVAL_TOPIC_BYTES),
        ("PUSH1", 0x20),
        ("PUSH1", 0),
        "LOG3",  # Approval(caller, spender, amount)
        ("PUSH1", 1),
        *_return_word(),
        ("LABEL", "balance_of"),
        "JUMPDEST",
        ("PUSH1", 0x04),
        "CALLDATALOAD",
        "SLOAD",
        *_return_word(),
        ("LABEL", "total_supply"),
        "JUMPDEST",
        *_TOTAL_SUPPLY_SLOT,
        "SLOAD",
        *_return_word(),
    ]
)


def _init_code(runtime: bytes) -> bytes:
    def program(runtime_offset: int) -> list:
        return [
            ("PUSH32", INITIAL_SUPPLY),
            "DUP1",
            "CALLER",
            "SSTORE",  # balances[deployer] = supply
            "DUP1",
            *_TOTAL_SUPPLY_SLOT,
            "SSTORE",  # total supply
            ("PUSH1", 0),
            "MSTORE",
            "CALLER",
            ("PUSH1", 0),
            ("PUSH32", _TRANSFER_TOPIC_BYTES),
            ("PUSH1", 0x20),
            ("PUSH1", 0),
            "LOG3",  # Transfer(0x0, deployer, supply)
            ("PUSH2", len(runtime)),
            ("PUSH2", runtime_offset),
            ("PUSH1", 0),
            "CODECOPY",
            ("PUSH2", len(runtime)),
            ("PUSH1", 0),
            "RETURN",
        ]

    # The constructor's length does not depend on the offset (a fixed PUSH2), so assemble once to
    # measure it, then again with the runtime placed right after it.
    constructor_length = len(_assemble(program(0)))
    return _assemble(program(constructor_length)) + runtime


INIT_CODE = _init_code(RUNTIME)


def _address_word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def transfer_calldata(to: str, amount: int) -> str:
    return "0x" + (TRANSFER_SELECTOR + _address_word(to) + amount.to_bytes(32, "big")).hex()


def approve_calldata(spender: str, amount: int) -> str:
    return "0x" + (APPROVE_SELECTOR + _address_word(spender) + amount.to_bytes(32, "big")).hex()


def balance_of_calldata(holder: str) -> str:
    return "0x" + (BALANCE_OF_SELECTOR + _address_word(holder)).hex()
