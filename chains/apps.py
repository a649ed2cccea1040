from django.apps import AppConfig


class ChainsConfig(AppConfig):
    """Chain ingestion: the EVM JSON-RPC client, conversion to Arrow, the reorg walk, the
    ``evm_rpc`` and ``synthetic_chain`` source operators, the ``erc20_metadata`` operator and the
    demo pipeline."""

    name = "chains"
    verbose_name = "Chains"

    def ready(self) -> None:
        # Registers the operators and the dashboard's ingestion figure; the engine and the
        # platform never import this app.
        from platform_site import dashboard

        from . import dashboard as chain_dashboard
        from .operators import evm_rpc, synthetic_chain, token_metadata  # noqa: F401

        dashboard.register_figure("ingestion", chain_dashboard.ingestion)
