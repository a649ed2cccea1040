"""Built-in ABIs of the contracts most of mainnet's logs come from, as JSON-ABI fragments (the same
lists a block explorer gives), so a pipeline can decode them without pasting an ABI.

`STANDARD_ABIS` maps a name to its JSON entries; `standard(name)` parses one. The topic0 of each
event is checked against the well-known values in the tests.
"""

from __future__ import annotations

from functools import cache

from chains.abi.spec import Abi, parse_abi


def _param(name: str, type_: str, indexed: bool | None = None, **extra) -> dict:
    param = {"name": name, "type": type_, **extra}
    if indexed is not None:
        param["indexed"] = indexed
    return param


def _event(name: str, *inputs: dict) -> dict:
    return {"type": "event", "name": name, "anonymous": False, "inputs": list(inputs)}


def _function(name: str, inputs: list[dict], outputs: list[dict], mutability: str = "nonpayable") -> dict:
    return {
        "type": "function",
        "name": name,
        "inputs": inputs,
        "outputs": outputs,
        "stateMutability": mutability,
    }


_BOOL_OUT = [_param("", "bool")]

ERC20 = [
    _event(
        "Transfer",
        _param("from", "address", True),
        _param("to", "address", True),
        _param("value", "uint256", False),
    ),
    _event(
        "Approval",
        _param("owner", "address", True),
        _param("spender", "address", True),
        _param("value", "uint256", False),
    ),
    _function("transfer", [_param("to", "address"), _param("value", "uint256")], _BOOL_OUT),
    _function(
        "transferFrom",
        [_param("from", "address"), _param("to", "address"), _param("value", "uint256")],
        _BOOL_OUT,
    ),
    _function("approve", [_param("spender", "address"), _param("value", "uint256")], _BOOL_OUT),
]

ERC721 = [
    _event(
        "Transfer",
        _param("from", "address", True),
        _param("to", "address", True),
        _param("tokenId", "uint256", True),
    ),
    _event(
        "Approval",
        _param("owner", "address", True),
        _param("approved", "address", True),
        _param("tokenId", "uint256", True),
    ),
    _event(
        "ApprovalForAll",
        _param("owner", "address", True),
        _param("operator", "address", True),
        _param("approved", "bool", False),
    ),
]

ERC1155 = [
    _event(
        "TransferSingle",
        _param("operator", "address", True),
        _param("from", "address", True),
        _param("to", "address", True),
        _param("id", "uint256", False),
        _param("value", "uint256", False),
    ),
    _event(
        "TransferBatch",
        _param("operator", "address", True),
        _param("from", "address", True),
        _param("to", "address", True),
        _param("ids", "uint256[]", False),
        _param("values", "uint256[]", False),
    ),
    _event(
        "ApprovalForAll",
        _param("account", "address", True),
        _param("operator", "address", True),
        _param("approved", "bool", False),
    ),
    _event("URI", _param("value", "string", False), _param("id", "uint256", True)),
]

WETH = [
    _event("Deposit", _param("dst", "address", True), _param("wad", "uint256", False)),
    _event("Withdrawal", _param("src", "address", True), _param("wad", "uint256", False)),
    *ERC20,
]

UNISWAP_V2_PAIR = [
    _event(
        "Swap",
        _param("sender", "address", True),
        _param("amount0In", "uint256", False),
        _param("amount1In", "uint256", False),
        _param("amount0Out", "uint256", False),
        _param("amount1Out", "uint256", False),
        _param("to", "address", True),
    ),
    _event("Sync", _param("reserve0", "uint112", False), _param("reserve1", "uint112", False)),
    _event(
        "Mint",
        _param("sender", "address", True),
        _param("amount0", "uint256", False),
        _param("amount1", "uint256", False),
    ),
    _event(
        "Burn",
        _param("sender", "address", True),
        _param("amount0", "uint256", False),
        _param("amount1", "uint256", False),
        _param("to", "address", True),
    ),
]

UNISWAP_V3_POOL = [
    _event(
        "Swap",
        _param("sender", "address", True),
        _param("recipient", "address", True),
        _param("amount0", "int256", False),
        _param("amount1", "int256", False),
        _param("sqrtPriceX96", "uint160", False),
        _param("liquidity", "uint128", False),
        _param("tick", "int24", False),
    ),
    _event(
        "Mint",
        _param("sender", "address", False),
        _param("owner", "address", True),
        _param("tickLower", "int24", True),
        _param("tickUpper", "int24", True),
        _param("amount", "uint128", False),
        _param("amount0", "uint256", False),
        _param("amount1", "uint256", False),
    ),
    _event(
        "Burn",
        _param("owner", "address", True),
        _param("tickLower", "int24", True),
        _param("tickUpper", "int24", True),
        _param("amount", "uint128", False),
        _param("amount0", "uint256", False),
        _param("amount1", "uint256", False),
    ),
    _event(
        "Collect",
        _param("owner", "address", True),
        _param("recipient", "address", False),
        _param("tickLower", "int24", True),
        _param("tickUpper", "int24", True),
        _param("amount0", "uint128", False),
        _param("amount1", "uint128", False),
    ),
    _event("Initialize", _param("sqrtPriceX96", "uint160", False), _param("tick", "int24", False)),
]

STANDARD_ABIS: dict[str, list[dict]] = {
    "erc20": ERC20,
    "erc721": ERC721,
    "erc1155": ERC1155,
    "weth": WETH,
    "uniswap_v2_pair": UNISWAP_V2_PAIR,
    "uniswap_v3_pool": UNISWAP_V3_POOL,
}


@cache
def standard(name: str) -> Abi:
    """The parsed built-in ABI `name` (one of STANDARD_ABIS)."""
    try:
        entries = STANDARD_ABIS[name]
    except KeyError:
        raise KeyError(f"no built-in ABI {name!r}; there are {sorted(STANDARD_ABIS)}") from None
    return parse_abi(entries)
