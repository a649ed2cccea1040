"""The python operator's allow-list matches at module boundaries, and only functions a listed module
defines (not names it imports) are callable."""

import pytest

from orchestration.operators.python_callable import is_allowed, load_callable


@pytest.mark.parametrize(
    ("path", "allowed", "expected"),
    [
        ("chains.demo:transfers_from_logs", ["chains.demo"], True),
        ("chains.demonstration:f", ["chains.demo"], False),
        ("chains.demo_evil:f", ["chains.demo"], False),
        ("chains.demo.sub:f", ["chains.demo"], False),
        ("jobs.daily:f", ["jobs."], True),
        ("jobsx.daily:f", ["jobs."], False),
        ("jobs:f", ["jobs."], False),
        ("chains.demo:transfers_from_logs", ["chains.demo:transfers_from_logs"], True),
        ("chains.demo:demo_pipeline_seed", ["chains.demo:transfers_from_logs"], False),
    ],
)
def test_allow_list_boundaries(path, allowed, expected):
    module, _, attribute = path.partition(":")
    assert is_allowed(module, attribute, allowed) is expected


def test_the_default_allows_the_demo_step_and_nothing_else_of_its_module(settings):
    from platform_site import settings as platform_settings

    settings.PYTHON_CALLABLE_MODULES = platform_settings.PYTHON_CALLABLE_MODULES
    assert load_callable("chains.demo:transfers_from_logs").__name__ == "transfers_from_logs"
    for refused in ("chains.demo:demo_pipeline_seed", "chains.demographics:x"):
        with pytest.raises(ValueError, match="not among"):
            load_callable(refused)


def test_names_a_listed_module_imports_are_not_callable(settings):
    settings.PYTHON_CALLABLE_MODULES = ["chains.demo"]
    with pytest.raises(ValueError, match="defines no callable"):
        load_callable("chains.demo:decode_transfers")  # imported there, defined elsewhere
    with pytest.raises(ValueError, match="not among"):
        load_callable("chains.demo:_private")
