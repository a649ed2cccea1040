"""Exact, vectorised decoding of EVM event logs and call input with a contract's ABI.

Modules, one job each:
- `types`: ABI type strings to a type tree, canonical forms, Arrow column types, `AbiError`.
- `spec`: a JSON ABI to events (signature, topic0, indexed flags) and functions (selector).
- `standards`: built-in ABIs (ERC-20/721/1155, WETH, Uniswap v2 pair and v3 pool).
- `hexdata`: hex string columns to fixed-width byte and digit matrices, checked row by row.
- `decimals`: 32-byte words to exact base-10 strings, many at a time.
- `words`: static values (addresses, integers, bools, bytesN, fixed arrays, tuples) out of word
  matrices, padding checked.
- `dynamic`: values with dynamic parts (bytes, string, T[], nested), one row at a time.
- `decode`: `decode_logs` / `decode_calls` -> `DecodeResult` (decoded rows and error rows).
"""
