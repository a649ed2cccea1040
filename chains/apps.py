from django.apps import AppConfig


class ChainsConfig(AppConfig):
    """Chain ingestion: the EVM JSON-RPC client, conversion to Arrow, the reorg walk, the
    ``evm_rpc`` and ``synthetic_chain`` source operators, the ``erc20_metadata`` and ``evm_decode``
    operators, contracts, the chain registry and the demo pipeline."""

    name = "chains"
    verbose_name = "Chains"

    def ready(self) -> None:
        # Registers the operators, the dashboard's ingestion figure, the contracts page and the
        # chain registry's checks and sync; the engine and the platform never import this app.
        from django.db.models.signals import post_save

        from orgs.models import Org
        from orgs.settings_schema import register_settings_check
        from platform_site import dashboard
        from platform_site.admin_navigation import register_app_pages

        from . import dashboard as chain_dashboard
        from .navigation import chain_pages
        from .operators import evm_decode, evm_rpc, synthetic_chain, token_metadata  # noqa: F401
        from .registry import registry_errors
        from .signals import sync_on_platform_save

        dashboard.register_figure("ingestion", chain_dashboard.ingestion)
        register_app_pages(self.label, chain_pages)
        # The chain registry lives in the platform org's settings: checked on every write of them,
        # and the ingestion jobs follow it on every save.
        register_settings_check(registry_errors)
        post_save.connect(sync_on_platform_save, sender=Org, dispatch_uid="chains_sync_on_platform_save")
