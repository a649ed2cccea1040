"""In the browser: an alert definition's channels as rows. Add a definition with a webhook channel
and an email one (the second row added by "Add another channel"), see the generated signing secret
once, press the webhook's Test button and see it delivered to a receiver on loopback. The rows are
drawn with the theme's own inputs, selects and buttons; no console error, no outside request.

With ``CHAINLAKE_SCREENSHOTS=1`` the page is saved as ``docs/alert-channels.png``.
"""

from __future__ import annotations

from standardwebhooks import Webhook

from alerting.models import AlertDefinition
from tests.alerting.receiver import Receiver
from tests.browser.alert_forms import start_definition
from tests.browser.test_custom_pages import (
    VIEWPORT,
    assert_themed,
    lake,  # noqa: F401 (a fixture)
    screenshot,
    theme,  # noqa: F401 (a fixture)
)


def test_add_a_webhook_channel_see_its_secret_once_and_test_it(
    admin_page,
    page_watch,
    theme,  # noqa: F811 (the fixture imported above)
    lake,  # noqa: F811
    settings,
):
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    org = lake["org"]
    page = admin_page
    page.set_viewport_size(VIEWPORT)
    with Receiver() as receiver:
        start_definition(
            page,
            org,
            "Whale transfers to the desk",
            {
                "dataset": "evm.transfers",
                "where": {"column": "value", "op": "gte", "value": "90000000000000000000"},
                "severity": "critical",
            },
        )
        content = page.inner_text("#content")
        assert "Operations" not in content and "Created at" not in content
        page.fill("#id_channel-0-target", receiver.url + "/hook")
        page.click("#channel-add")
        page.select_option("#id_channel-1-type", "email")
        # A row that is not a webhook has no secret to show.
        assert page.locator("#id_channel-1-secret").is_hidden()
        assert page.locator("#id_channel-0-secret").is_visible()
        page.fill("#id_channel-1-target", "desk@example.com")
        assert_themed(
            page,
            theme,
            {
                "#id_channel-0-target": "input",
                "#id_channel-0-secret": "input",
                "#id_channel-1-type": "select",
                "#channel-add": "secondary_button",
            },
        )
        page.click("[name=_continue]")
        page.wait_for_selector("[data-new-secret]")

        definition = AlertDefinition.objects.get(name="Whale transfers to the desk")
        secret = definition.channels[0]["secret"]
        assert page.locator("[data-new-secret]").all_inner_texts() == [secret]
        assert definition.channels[1] == {"type": "email", "to": ["desk@example.com"]}
        assert page.input_value("#id_channel-0-secret") == "whsec_..." + secret[-4:]
        page.locator("#channel-rows").scroll_into_view_if_needed()
        screenshot(page, "alert-channels.png")

        page.locator("[data-channel-row]").first.locator("[name=_channel_test]").click()
        page.wait_for_selector("text=Test message delivered to webhook")
        assert secret not in page.content() and secret[6:] not in page.content()  # shown once only
        [received] = receiver.at("/hook")
        document = Webhook(secret).verify(received.body, received.headers)
        assert document["type"] == "alert.sample"
        assert_themed(page, theme, {"[data-channel-row] [name=_channel_test]": "secondary_button"})
    page_watch.assert_clean()
