"""Hand-assembled contracts that answer fixed bytes, for token-metadata tests on the local chain.

A real token's `name()`, `symbol()` and `decimals()` only ever return constants, so a contract that
maps each function selector to a fixed return blob behaves, for a metadata reader, like any token:
one that returns an ABI string, one that returns a bytes32 (older tokens such as MKR do), one that
reverts on some of them, one that returns garbage. Every such contract also accepts
`transfer(address,uint256)` by emitting `Transfer(caller, to, amount)` (no balances are kept), so
its address shows up in evm.transfers like a token's.

Runtime layout: a selector dispatch; for each answer, code that copies its blob (appended after the
code) to memory and returns it; any other selector reverts with no data.
"""

from __future__ import annotations

from eth_utils import keccak

from testkit.token_contract import TRANSFER_SELECTOR, TRANSFER_TOPIC, _assemble

NAME_SELECTOR = keccak(text="name()")[:4]
SYMBOL_SELECTOR = keccak(text="symbol()")[:4]
DECIMALS_SELECTOR = keccak(text="decimals()")[:4]

_TRANSFER_TOPIC_BYTES = bytes.fromhex(TRANSFER_TOPIC[2:])


def abi_string(text: str) -> bytes:
    """What a function returning `string` returns: offset 32, the length, the UTF-8 bytes padded
    to a whole word."""
    data = text.encode()
    padded = data + bytes(-len(data) % 32)
    return (32).to_bytes(32, "big") + len(data).to_bytes(32, "big") + padded


def abi_bytes32(text: str) -> bytes:
    """What a function returning `bytes32` returns: the bytes, right-padded with zeros."""
    data = text.encode()
    if len(data) > 32:
        raise ValueError("a bytes32 holds at most 32 bytes")
    return data + bytes(32 - len(data))


def abi_uint(value: int) -> bytes:
    return value.to_bytes(32, "big")


def fixed_answers_runtime(answers: dict[bytes, bytes]) -> bytes:
    """Runtime code answering each 4-byte selector of `answers` with its bytes, `transfer` with a
    Transfer event and `true`, and reverting on anything else."""

    def program(code_length: int) -> list:
        items: list = [("PUSH1", 0), "CALLDATALOAD", ("PUSH1", 0xE0), "SHR"]
        for index, selector in enumerate(answers):
            items += ["DUP1", ("PUSH4", selector), "EQ", ("PUSHLABEL", f"answer{index}"), "JUMPI"]
        items += ["DUP1", ("PUSH4", TRANSFER_SELECTOR), "EQ", ("PUSHLABEL", "transfer"), "JUMPI"]
        items += [("PUSH1", 0), "DUP1", "REVERT"]
        offset = code_length
        for index, blob in enumerate(answers.values()):
            items += [
                ("LABEL", f"answer{index}"),
                "JUMPDEST",
                ("PUSH2", len(blob)),
                ("PUSH2", offset),
                ("PUSH1", 0),
                "CODECOPY",  # memory[0:len] = the blob
                ("PUSH2", len(blob)),
                ("PUSH1", 0),
                "RETURN",
            ]
            offset += len(blob)
        items += [
            ("LABEL", "transfer"),
            "JUMPDEST",
            ("PUSH1", 0x24),
            "CALLDATALOAD",
            ("PUSH1", 0),
            "MSTORE",  # memory[0:32] = amount
            ("PUSH1", 0x04),
            "CALLDATALOAD",
            "CALLER",
            ("PUSH32", _TRANSFER_TOPIC_BYTES),
            ("PUSH1", 0x20),
            ("PUSH1", 0),
            "LOG3",  # Transfer(caller, to, amount)
            ("PUSH1", 1),
            ("PUSH1", 0),
            "MSTORE",
            ("PUSH1", 0x20),
            ("PUSH1", 0),
            "RETURN",
        ]
        return items

    # Every push has a fixed width, so the code's length does not depend on where the blobs start:
    # assemble once to measure it, then again with the blobs placed right after the code.
    code = _assemble(program(len(_assemble(program(0)))))
    return code + b"".join(answers.values())


def deployment_code(runtime: bytes) -> bytes:
    """Init code that returns `runtime` as the contract's code."""
    constructor_length = 15  # PUSH2, PUSH2, PUSH1, CODECOPY, PUSH2, PUSH1, RETURN
    constructor = _assemble(
        [
            ("PUSH2", len(runtime)),
            ("PUSH2", constructor_length),
            ("PUSH1", 0),
            "CODECOPY",
            ("PUSH2", len(runtime)),
            ("PUSH1", 0),
            "RETURN",
        ]
    )
    assert len(constructor) == constructor_length
    return constructor + runtime


def token_answers(*, name: bytes | None, symbol: bytes | None, decimals: bytes | None) -> dict[bytes, bytes]:
    """The answers of a metadata-bearing contract; a None one reverts."""
    answers = {NAME_SELECTOR: name, SYMBOL_SELECTOR: symbol, DECIMALS_SELECTOR: decimals}
    return {selector: blob for selector, blob in answers.items() if blob is not None}
