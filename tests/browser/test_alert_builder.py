"""In the browser: build an alert condition with the guided builder on the add page (dataset,
column, operator, value, severity, payload columns), save it and find it stored as built; a
condition the builder cannot show opens in the JSON view, kept as it is. The builder's inputs,
selects and buttons are drawn as the theme's, the page logs no console error and asks no outside
host.

With ``CHAINLAKE_SCREENSHOTS=1`` it refreshes ``docs/alert-builder.png`` (1440 by 900).
"""

from __future__ import annotations

import json

from alerting.models import AlertDefinition
from testkit.factories import AlertDefinitionFactory
from tests.browser import test_custom_pages as custom_pages
from tests.browser.alert_forms import choose_org
from tests.browser.test_custom_pages import VIEWPORT, assert_themed, screenshot

# The custom pages' fixtures: a published evm.transfers and the theme's own computed styles.
lake = custom_pages.lake
theme = custom_pages.theme

AMOUNT = "1000000000000000000000"  # 1,000 tokens of 18 decimals
WATCHED = ["0x" + "0" * 40, "0x" + "0" * 39 + "4"]


def test_build_a_condition_save_it_and_find_it_stored(admin_page, page_watch, theme, lake):
    page = admin_page
    page.set_viewport_size(VIEWPORT)
    page.goto("/admin/alerting/alertdefinition/add/")
    assert not page.locator("#id_condition").is_visible()  # the builder is shown, the box is not
    choose_org(page, lake["org"])
    page.fill("#id_name", "Big transfers to watched addresses")

    page.select_option("#id_condition_dataset", "evm.transfers")
    page.wait_for_function("document.querySelector('[data-columns-status]').textContent.endsWith('columns.')")
    page.click(".cl-condition-add")
    first = page.locator("[data-row]").nth(0)
    first.locator("[data-column]").select_option("value")
    ops = first.locator("[data-op] option").evaluate_all("options => options.map(o => o.value)")
    assert "contains" in ops  # value is a string column (uint256 as digits)
    first.locator("[data-op]").select_option("gt")
    first.locator("[data-value] input").fill(AMOUNT)

    page.click(".cl-condition-add")
    second = page.locator("[data-row]").nth(1)
    second.locator("[data-column]").select_option("block_number")
    ops = second.locator("[data-op] option").evaluate_all("options => options.map(o => o.value)")
    assert "contains" not in ops and "between" in ops  # only what the checker takes on an integer
    second.locator("[data-op]").select_option("between")
    second.locator("[data-value] input").nth(0).fill("10")
    second.locator("[data-value] input").nth(1).fill("90")

    page.click(".cl-condition-add")
    third = page.locator("[data-row]").nth(2)
    third.locator("[data-column]").select_option("to_address")
    third.locator("[data-op]").select_option("in")
    third.locator("[data-value] input").fill(", ".join(WATCHED))

    page.click(".cl-condition-add")  # one too many: removed again
    page.locator("[data-row]").nth(3).locator(".cl-condition-remove").click()
    assert page.locator("[data-row]").count() == 3

    page.select_option("#id_condition_severity", "critical")
    page.fill("#id_condition_confirmations", "3")
    for column in ("from_address", "to_address", "value"):
        page.check(f"[data-choices=payload] input[value={column}]")

    assert_themed(
        page,
        theme,
        {
            "#id_condition_dataset": "select",
            "[data-row] [data-op]": "select",
            "[data-row] [data-value] input": "input",
            "#id_condition_confirmations": "input",
            ".cl-condition-add": "secondary_button",
            ".cl-condition-tab": "secondary_button",
        },
    )
    page.evaluate("document.querySelector('#id_condition_dataset').scrollIntoView({block: 'start'})")
    page.evaluate("window.scrollBy(0, -120)")
    screenshot(page, "alert-builder.png")

    expected = {
        "dataset": "evm.transfers",
        "where": {
            "all": [
                {"column": "value", "op": "gt", "value": AMOUNT},
                {"column": "block_number", "op": "between", "value": [10, 90]},
                {"column": "to_address", "op": "in", "value": WATCHED},
            ]
        },
        "severity": "critical",
        "confirmations": 3,
        "payload": ["from_address", "to_address", "value"],
    }
    page.click(".cl-condition-tab[value=json]")  # the box holds what the builder made
    assert json.loads(page.input_value("#id_condition")) == expected

    page.click("[name=_continue]")
    page.wait_for_selector("text=Backtest over past partitions")
    definition = AlertDefinition.objects.get(name="Big transfers to watched addresses")
    assert definition.condition == expected
    # Shown again in the builder, as it was built.
    assert page.locator("[data-row]").count() == 3
    assert page.locator("[data-row]").nth(1).locator("[data-op]").input_value() == "between"
    page_watch.assert_clean()


def test_a_condition_the_builder_cannot_show_opens_as_json_untouched(admin_page, page_watch, lake):
    page = admin_page
    nested = {
        "dataset": "evm.transfers",
        "where": {"all": [{"not": {"column": "to_address", "op": "is_null"}}]},
        "severity": "info",
    }
    definition = AlertDefinitionFactory(org=lake["org"], user=lake["definition"].user, condition=nested)
    page.goto(f"/admin/alerting/alertdefinition/{definition.pk}/change/")
    assert page.locator("#id_condition").is_visible()
    assert "nests all / any / not" in page.inner_text("[data-note]")
    page.click(".cl-condition-tab[value=builder]")  # refused again: nothing is lost
    assert page.locator("#id_condition").is_visible()
    assert json.loads(page.input_value("#id_condition")) == nested

    # The SQL view writes the SQL form of the condition.
    page.fill("#id_condition", json.dumps({"dataset": "evm.transfers", "where": {"all": []}}))
    page.click(".cl-condition-tab[value=sql]")
    page.fill("#id_condition_sql", "SELECT * FROM evm.transfers WHERE log_index = 1")
    page.click(".cl-condition-tab[value=json]")
    written = json.loads(page.input_value("#id_condition"))
    assert written["sql"] == "SELECT * FROM evm.transfers WHERE log_index = 1" and "where" not in written
    page_watch.assert_clean()


def test_without_its_script_the_field_is_the_json_box_with_its_help(admin_page, page_watch, lake):
    # The admin theme itself needs scripts; this is the builder's own script missing or failing.
    page = admin_page
    page.route(
        "**/alerting/condition_builder*.js",
        lambda route: route.fulfill(body="", content_type="application/javascript"),
    )
    page.goto("/admin/alerting/alertdefinition/add/")
    assert page.locator("#id_condition").is_visible()
    assert not page.locator("[data-builder]").is_visible() and not page.locator("[data-tabs]").is_visible()
    assert "1,000 tokens of 18 decimals" in page.inner_text(".cl-condition-help")
    assert json.loads(page.input_value("#id_condition"))["where"] == {"all": []}  # not null
    choose_org(page, lake["org"])
    page.fill("#id_name", "Typed by hand")
    condition = {"dataset": "evm.transfers", "where": {"column": "log_index", "op": "eq", "value": 1}}
    page.fill("#id_condition", json.dumps(condition))
    page.click("[name=_continue]")
    page.wait_for_selector("text=Backtest over past partitions")
    assert AlertDefinition.objects.get(name="Typed by hand").condition == condition
    page_watch.assert_clean()
