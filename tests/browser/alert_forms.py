"""Filling the alert definition's add page as a person does, shared by the alerting browser tests."""

from __future__ import annotations

import json


def choose_org(page, org) -> None:
    # The org is an autocomplete widget: give its <select> the one option it needs.
    page.evaluate(
        "([id, name]) => { const s = document.querySelector('#id_org');"
        " s.innerHTML = `<option value='${id}' selected>${name}</option>`; }",
        [str(org.pk), org.name],
    )


def start_definition(page, org, name: str, condition: dict) -> None:
    """Open the add page and fill the org, the name and the condition (as JSON, past the builder)."""
    page.goto("/admin/alerting/alertdefinition/add/")
    choose_org(page, org)
    page.fill("#id_name", name)
    page.click(".cl-condition-tab[value=json]")
    page.fill("#id_condition", json.dumps(condition))
