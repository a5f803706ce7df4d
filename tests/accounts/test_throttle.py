"""Brute-force protection on sign-in (policy: accounts/throttling.py)."""

import time

import pytest

from accounts import throttling
from accounts.models import AuthEvent
from tests.accounts.auth_calls import NEW_PASSWORD, USERS_URL, login
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER = {"REMOTE_ADDR": "198.51.100.66"}
OFFICE = {"REMOTE_ADDR": "203.0.113.10"}


class FakeClock:
    """The throttle's wall clock, moved by the test instead of by sleeping."""

    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(throttling, "clock", fake)
    return fake


WINDOW = 15 * 60


def fail(username, times, **meta):
    return [login(username, "wrong-guess-0000", **meta).status_code for _ in range(times)]


def fail_many_usernames(count, **meta):
    return [login(f"guess{n}", "wrong-guess-0000", **meta).status_code for n in range(count)]


def test_it_locks_a_username_after_five_refusals_with_retry_after(viewer):
    assert fail("vera_viewer", 5) == [401] * 5
    response = login("vera_viewer", "wrong-guess-0000")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert response.json()["type"] == "throttled"
    assert "Expected available in" in response.json()["detail"]
    # During the lock even the right password is not checked.
    assert login("vera_viewer").status_code == 429


def test_it_lets_the_right_password_in_once_the_window_is_over(clock, viewer):
    assert fail("vera_viewer", 6) == [401] * 5 + [429]
    clock.advance(WINDOW - 1)
    assert login("vera_viewer").status_code == 429
    clock.advance(1)
    assert login("vera_viewer").status_code == 200


def test_it_does_not_extend_the_lock_for_attempts_made_during_it(clock, viewer):
    fail("vera_viewer", 5)
    clock.advance(WINDOW / 2)
    assert fail("vera_viewer", 10) == [429] * 10
    clock.advance(WINDOW / 2)
    assert login("vera_viewer").status_code == 200


def test_a_refusal_after_the_window_opens_a_new_one(clock, viewer):
    fail("vera_viewer", 5)
    clock.advance(WINDOW)
    assert fail("vera_viewer", 5) == [401] * 5  # counted afresh, not on top of the old window
    assert login("vera_viewer").status_code == 429


def test_it_counts_usernames_case_insensitively(viewer):
    fail("vera_viewer", 3)
    fail("VERA_VIEWER", 2)
    assert login("Vera_Viewer", "wrong-guess-0000").status_code == 429


def test_it_clears_the_count_after_a_successful_sign_in(viewer):
    fail("vera_viewer", 4)
    assert login("vera_viewer").status_code == 200
    assert fail("vera_viewer", 4) == [401] * 4


def test_it_locks_an_ip_that_sprays_many_usernames(db):
    assert fail_many_usernames(20, **ATTACKER) == [401] * 20
    assert login("someone_else", "wrong-guess-0000", **ATTACKER).status_code == 429
    assert login("someone_else", "wrong-guess-0000", **OFFICE).status_code == 401


def test_it_keeps_letting_the_user_in_from_where_they_signed_in_before(viewer):
    assert login("vera_viewer", **OFFICE).status_code == 200
    fail("vera_viewer", 10, **ATTACKER)
    assert login("vera_viewer", **ATTACKER).status_code == 429
    # The attacker can't lock the real user out of the office they work from ...
    assert login("vera_viewer", **OFFICE).status_code == 200
    # ... and that office still gets only five guesses itself.
    assert fail("vera_viewer", 6, **OFFICE) == [401] * 5 + [429]


def test_it_unlocks_a_username_when_an_admin_sets_a_new_password(viewer, admin_user, bearer_client):
    fail("vera_viewer", 5)
    assert login("vera_viewer").status_code == 429
    response = bearer_client(admin_user).patch(f"{USERS_URL}/{viewer.pk}", {"password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200
    assert login("vera_viewer", NEW_PASSWORD).status_code == 200


def test_it_audits_a_lock_once_not_every_hammered_attempt(viewer):
    fail("vera_viewer", 5)
    fail("vera_viewer", 30)
    throttled = AuthEvent.objects.filter(event="login_failed", details__reason="throttled")
    assert throttled.count() == 1
    assert AuthEvent.objects.filter(event="login_failed").count() == 6


def test_it_leaves_the_right_password_working_for_other_users(viewer, operator):
    fail("vera_viewer", 6)
    assert login("omar_operator", TEST_PASSWORD).status_code == 200


def admin_sign_in(client, username, password):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_the_admin_sign_in_page_shares_the_lock(client):
    UserFactory(username="eve_engineer", is_staff=True, is_superuser=True)
    for _ in range(5):
        assert (
            "Please enter the correct username" in admin_sign_in(client, "eve_engineer", "wrong-guess").content.decode()
        )
    page = admin_sign_in(client, "eve_engineer", TEST_PASSWORD)
    assert "Too many failed sign-ins" in page.content.decode()
    assert "_auth_user_id" not in client.session  # the right password did not get in during the lock
    assert login("eve_engineer").status_code == 429  # and the API refuses the same username


def test_the_admin_sign_in_page_lets_the_right_password_in_after_the_window(client, clock):
    UserFactory(username="eve_engineer", is_staff=True, is_superuser=True)
    for _ in range(5):
        admin_sign_in(client, "eve_engineer", "wrong-guess")
    clock.advance(WINDOW)
    assert admin_sign_in(client, "eve_engineer", TEST_PASSWORD).status_code == 302
    assert client.session["_auth_user_id"]
