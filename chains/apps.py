from django.apps import AppConfig


class ChainsConfig(AppConfig):
    """Chain ingestion: the EVM JSON-RPC client, conversion to Arrow, the reorg walk, the
    ``evm_rpc`` and ``synthetic_chain`` source operators and the demo pipeline."""

    name = "chains"
    verbose_name = "Chains"

    def ready(self) -> None:
        # Registers the operators, the dashboard's ingestion figure and the contracts page; the
        # engine and the platform never import this app.
        from platform_site import dashboard
        from platform_site.admin_navigation import register_app_pages

        from . import dashboard as chain_dashboard
        from .navigation import chain_pages
        from .operators import evm_decode, evm_rpc, synthetic_chain  # noqa: F401

        dashboard.register_figure("ingestion", chain_dashboard.ingestion)
        register_app_pages(self.label, chain_pages)
