import pytest

from chains.abi.decode import CALL_KEY_COLUMNS, decode_calls
from chains.abi.spec import parse_abi
from chains.abi.standards import standard
from tests.chains.abi.logs import CONTRACT, SENDER, call_row, encoded, transactions_table

HOLDER = "0x" + "ab" * 20


def test_erc20_transfer_calls_with_selector_checked_and_trailing_bytes_allowed():
    transfer = standard("erc20").function("transfer")
    arguments = encoded(["address", "uint256"], [HOLDER, 10**24])[2:]
    rows = [
        call_row(transfer.selector + arguments, 0),
        call_row(transfer.selector + arguments + "deadbeef", 1),  # appended tracking bytes
        call_row("0x23b872dd" + arguments, 2),  # transferFrom's selector
        call_row("0x", 3),  # a plain ether transfer
        call_row(transfer.selector + arguments[:-2], 4),  # an argument cut short
        call_row(transfer.selector.upper().replace("0X", "0x") + arguments, 5),
    ]
    result = decode_calls(transactions_table(rows), transfer)
    assert result.table.column_names == [*CALL_KEY_COLUMNS, "contract_address", "to", "value"]
    assert result.table.column("transaction_index").to_pylist() == [0, 1, 5]
    assert result.table.column("to").to_pylist() == [HOLDER] * 3
    assert result.table.column("value").to_pylist() == [str(10**24)] * 3
    assert result.table.column("from_address").to_pylist() == [SENDER] * 3
    assert result.table.column("contract_address").to_pylist() == [CONTRACT] * 3
    assert result.errors.column("reason").to_pylist() == [
        "selector 0x23b872dd is not transfer(address,uint256) (0xa9059cbb)",
        "input is shorter than a 4-byte selector; transfer(address,uint256) is a call",
        "arguments are 63 bytes; transfer(address,uint256) needs at least 64",
    ]
    assert result.errors.column("function").to_pylist() == [transfer.signature] * 3
    assert result.errors.column("transaction_index").to_pylist() == [2, 3, 4]


def test_dynamic_arguments():
    multicall = parse_abi(
        [
            {
                "type": "function",
                "name": "multicall",
                "inputs": [{"name": "deadline", "type": "uint256"}, {"name": "data", "type": "bytes[]"}],
            }
        ]
    ).function("multicall")
    assert multicall.selector == "0x5ae401dc"
    rows = [
        call_row(multicall.selector + encoded(["uint256", "bytes[]"], [7, [b"\x01", b""]])[2:], 0),
        call_row(multicall.selector + encoded(["uint256", "bytes[]"], [8, []])[2:], 1),
        call_row(multicall.selector + "00" * 32, 2),
    ]
    result = decode_calls(transactions_table(rows), multicall)
    assert result.table.column("data").to_pylist() == [["0x01", "0x"], []]
    assert result.table.column("deadline").to_pylist() == ["7", "8"]
    assert result.errors.column("reason").to_pylist() == [
        "arguments are 32 bytes; multicall(uint256,bytes[]) needs at least 64"
    ]


@pytest.mark.parametrize("to", [None, CONTRACT])
def test_contract_address_is_the_to_address(to):
    approve = standard("erc20").function("approve")
    rows = [call_row(approve.selector + encoded(["address", "uint256"], [HOLDER, 2**256 - 1])[2:], 0, to=to)]
    result = decode_calls(transactions_table(rows), approve)
    assert result.table.column("contract_address").to_pylist() == [to]
    assert result.table.column("value").to_pylist() == [str(2**256 - 1)]
