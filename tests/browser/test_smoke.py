"""The browser fixtures themselves: a real login, a clean admin page, outside hosts refused."""
# Outside hosts do not resolve inside the test browser, and the attempt is recorded.

from tests.browser.conftest import BROWSER_PASSWORD, load_seconds, log_in


def test_login_form_reaches_the_admin_index_without_console_errors(page, page_watch, browser_superuser):
    log_in(page, username=browser_superuser.external_id, password=BROWSER_PASSWORD)

    assert page.url.endswith("/admin/")
    assert page.locator("form[action$='/admin/logout/']").count() == 1
    page_watch.assert_clean()


def test_admin_page_fixture_is_logged_in_and_load_time_is_read_from_the_browser(admin_page, page_watch):
    seconds = load_seconds(admin_page, "/admin/")

    assert "/admin/login/" not in admin_page.url
    assert 0 < seconds < 60
    page_watch.assert_clean()


def test_requests_to_outside_hosts_are_refused_and_recorded(admin_page, page_watch):
    admin_page.goto("/admin/")
    admin_page.evaluate("() => fetch('https://fonts.example.org/x.css').catch(() => null)")

    assert page_watch.outside_requests == ["https://fonts.example.org/x.css"]
    assert page_watch.problems()
