"""Chain ingestion from Ethereum JSON-RPC: the parts of the `evm_rpc` source that need no engine.

Modules, one job each:
- `client`: batched, retrying JSON-RPC over pooled HTTP, answers kept as the node's bytes; chain id
  check; confirmations.
- `errors`: typed errors, each `transient` (retry the task) or not (fail it, a person looks).
- `schema`: Arrow schemas of evm.blocks / evm.transactions / evm.logs / evm.transfers and the
  block-range partition keys (`blocks_00012000`).
- `convert`: node answers to Arrow (parsed in C++, validated column by column) and ERC-20 Transfer
  decoding.
- `reorg`: walk back from a parent-hash mismatch to the common ancestor, bounded.
- `ingest`: `ingest_range(client, start=, end=, stored_hashes=)` -> `IngestResult` (partition writes,
  new cursor, reorg or None) and `merge_partition` to apply a write to a partition's old content.
- `testchain` / `token_contract`: an eth-tester chain over HTTP on 127.0.0.1 with a test token,
  forced reorgs and fault injection, for tests and `bench/ingestion.py` (needs the dev extras).

How the `evm_rpc` operator is meant to wrap it:
1. Build `EvmRpcClient(source["url"], chain_id=config["chain_id"], confirmations=...)`.
2. `start` = `dataset_cursors.cursor_value` + 1 (or `config["start_block"]`); `stored_hashes` =
   block_number -> block_hash of evm.blocks for the `max_reorg_depth` + 1 blocks below `start`.
3. For each `PartitionWrite`: read the partition's current file (if any), `merge_partition`, write
   to a temporary name; publish all of them, the cursor (`result.cursor_value`) and, when
   `result.reorg` is set, one `data_invalidations` row per dataset (scope `rows`, `row_filter` =
   `reorg.row_filter()`, `source_event` = `reorg.source_event()`) in one transaction.
4. Map errors: `EvmSourceError.transient` -> task retried with backoff; otherwise failed.
"""
