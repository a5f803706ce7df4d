"""The seeded fleet and signed-in browser sessions (Django's test client) for the dashboards' tests."""

import pytest

from tests.dashboards.seed import seed_fleet
from tests.factories import UserFactory


@pytest.fixture
def fleet(transactional_db):
    """The seeded fleet, committed: on TimescaleDB the rollup refresh cannot run inside a transaction."""
    return seed_fleet()


@pytest.fixture
def roleless(db):
    """A user with a password and no platform role."""
    return UserFactory(username="nora_norole")


@pytest.fixture
def signed_in(client):
    """``signed_in(user)``: the test client with ``user``'s browser session."""

    def _signed_in(user):
        client.force_login(user)
        return client

    return _signed_in
