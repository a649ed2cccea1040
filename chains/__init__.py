"""Chain ingestion from Ethereum JSON-RPC, on top of the engine.

Modules, one job each:
- `client`: batched, retrying JSON-RPC over pooled HTTP, answers kept as the node's bytes; chain id
  check; confirmations; receipts by block or by transaction; batched eth_call.
- `errors`: typed errors, each `transient` (retry the task) or not (fail it, a person looks).
- `schema`: Arrow schemas of the dataset kinds blocks / transactions / logs / transfers, which every
  chain writes in a namespace of its own (`evm.logs`, `base.logs`), and the block-range partition
  keys (`blocks_00012000`).
- `convert`: node answers to Arrow (parsed in C++, validated column by column), receipts checked
  against the transactions read, and ERC-20 Transfer decoding.
- `reorg`: walk back from a parent-hash mismatch to the common ancestor, bounded.
- `ingest`: `ingest_range(client, start=, end=, stored_hashes=)` -> `IngestResult` (partition writes,
  new cursor, reorg or None) and `merge_partition` to apply a write to a partition's old content.
- `operators`: the `evm_rpc` source (a node), the `synthetic_chain` source (a generated chain for
  the demo), `erc20_metadata` (symbol, name and decimals of the tokens of a transfers dataset) and
  `evm_decode` (a registered contract's logs and calls decoded by its ABI), registered into the
  engine's operator registry from `ChainsConfig.ready`.
- `abi`: ABI parsing, the built-in ABIs and the vectorised decoder; `contracts`: registrations.
- `registry`: the chain registry, a list in the platform org's settings (`chains`), checked on
  every save of them.
- `services`: `chains_sync`, one ingestion job per registered chain (`manage.py chains`); `signals`
  runs it when the platform org's settings are saved.
- `demo`: the demo pipeline `make run` seeds (`manage.py seed_demo_pipeline`): two chains side by side.

A reorg found while ingesting is published with the rewritten partitions as one `data_invalidations`
row per dataset of that chain (scope `rows`, `block_number >= from_block`), so downstream jobs and alerts redo
exactly what the reorg changed.
"""
