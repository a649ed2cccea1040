from django.apps import AppConfig


class ChainsConfig(AppConfig):
    """Chain ingestion: the EVM JSON-RPC client, conversion to Arrow, the reorg walk, the
    ``evm_rpc`` and ``synthetic_chain`` source operators and the demo pipeline."""

    name = "chains"
    verbose_name = "Chains"

    def ready(self) -> None:
        # Registers the source operators; orchestration never imports this app.
        from .operators import evm_rpc, synthetic_chain  # noqa: F401
