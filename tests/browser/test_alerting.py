"""In the browser: create an alert definition in the admin, backtest it, test-fire it, and see the
event and its delivery to a webhook receiver on loopback."""

from alerting.models import AlertDefinition
from alerting.services.deliveries import deliveries_process
from orgs.models import Org
from testkit.factories import OrgFactory, platform_org_for_tests
from tests.alerting.conftest import SECRET, publish
from tests.alerting.receiver import Receiver
from tests.browser.alert_forms import start_definition


def test_create_backtest_and_see_an_event_and_its_delivery(admin_page, page_watch, settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    platform_org_for_tests()
    org = OrgFactory(slug="acme", name="Acme")
    publish(0, 99)
    page = admin_page
    with Receiver() as receiver:
        start_definition(
            page,
            org,
            "Whale transfers",
            {
                "dataset": "evm.transfers",
                "where": {"column": "value", "op": "gte", "value": "90000000000000000000"},
                "severity": "critical",
            },
        )
        page.fill("#id_channel-0-target", receiver.url + "/hook")
        page.fill("#id_channel-0-secret", SECRET)  # pasted: kept as it is
        page.click("[name=_continue]")  # a <button> under the admin theme
        page.wait_for_selector("text=Backtest over past partitions")
        definition = AlertDefinition.objects.get(name="Whale transfers")
        assert definition.org == Org.objects.get(slug="acme")

        page.click("text=Backtest over past partitions")
        page.fill("#id_first", "blocks_00000000")
        page.click("[type=submit][value='Run backtest']")
        # Blocks 90..99 (ten transfers of n * 10^18) and the ten 2^256-1 transfers of blocks 0..90.
        assert page.inner_text("#backtest-events") == "20"

        page.goto(f"/admin/alerting/alertdefinition/{definition.pk}/test-fire/")
        page.click("[type=submit][value='Send a sample event']")
        page.wait_for_url("**/alertevent/**")
        assert "pending" in page.inner_text("#content")
        assert deliveries_process()["delivered"] == 1
        page.reload()
        assert "delivered" in page.inner_text("#content")
        assert receiver.at("/hook")[0].headers["webhook-id"] in page.url

        page.goto(f"/admin/alerting/alertdefinition/{definition.pk}/change/")
        health = page.inner_text("#content").lower()  # delivery health per channel
        assert "delivered" in health and "webhook\t0\t1" in health
    page_watch.assert_clean()
