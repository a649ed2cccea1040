"""Exact, vectorised decoding of EVM event logs and call input with a contract's ABI.

Modules, one job each:
- `types`: ABI type strings to a type tree, canonical forms, Arrow column types, `AbiError`.
- `spec`: a JSON ABI to events (signature, topic0, indexed flags) and functions (selector).
- `standards`: built-in ABIs (ERC-20/721/1155, WETH, Uniswap v2 pair and v3 pool).
- `hexdata`: hex string columns to fixed-width byte and digit matrices, checked row by row.
- `decimals`: 32-byte words to exact base-10 strings, many at a time.
- `words`: static values (addresses, integers, bools, bytesN, fixed arrays, tuples) out of word
  matrices, padding checked.
- `tails`: the common dynamic values (bytes, string, T[] of a one-word T) a column at a time.
- `dynamic`: any value with dynamic parts (nested arrays, tuples, string[]), one row at a time;
  also the reasons of rows that fail.
- `decode`: `decode_logs` / `decode_calls` -> `DecodeResult` (decoded rows and error rows).

Nothing here touches Django or the database: it is plain Arrow and numpy, usable from any operator.
"""

from chains.abi.decode import DecodeResult, decode_calls, decode_logs
from chains.abi.spec import Abi, AbiError, Event, Function, Param, parse_abi
from chains.abi.standards import STANDARD_ABIS, standard

__all__ = [
    "STANDARD_ABIS",
    "Abi",
    "AbiError",
    "DecodeResult",
    "Event",
    "Function",
    "Param",
    "decode_calls",
    "decode_logs",
    "parse_abi",
    "standard",
]
