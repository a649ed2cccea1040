"""Ethereum JSON-RPC ingestion: client, Arrow conversion, reorg detection and the ingestion step."""
