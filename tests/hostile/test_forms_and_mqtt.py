"""The hostile-input corpus against the dashboards' forms (sign-in, acknowledge, shelve) and the MQTT
bridge's message handler: no 5xx page, nothing done, no row written; the bridge rejects each message and
keeps storing the good ones."""

import json
import time
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client

from alarms.models import AlarmEvent
from tests.dashboards.seed import GAS_LOCK_WELL, seed_fleet
from tests.hostile.conftest import TALLY, row_counts
from tests.hostile.corpus import BIG_BYTES, HOSTILE_NUMBERS, HOSTILE_TEXT, HOSTILE_TIMES, INJECTIONS, SLEEP_SECONDS
from tests.telemetry.conftest import now, reading  # noqa: F401 (now: a fixture)
from tests.telemetry.test_mqtt_bridge import (  # noqa: F401 (fixtures)
    make_bridge,
    minutes_ago,
    prefix,
    publish,
    run_until,
    wait_published,
)

# Form values as a browser (or a script posing as one) sends them, as bytes where they are not UTF-8. In a
# free-text field (a comment) SQL and shell text is just text, stored as written; Django reads bytes that
# are not UTF-8 as U+FFFD. So free text is refused for these, typed fields for the injections too.
FORM_TEXT = {"nul": HOSTILE_TEXT["nul"], "rtl_override": HOSTILE_TEXT["rtl_override"], "overlong": "x" * 20_000}
FORM_VALUES = {
    **FORM_TEXT,
    **INJECTIONS,
    "invalid_utf8": b"\xff\xfe\xc3",
    "lone_surrogate_utf8": b"\xed\xa0\x80",
}
FREE_TEXT_FIELDS = {"comment", "reason"}


def encoded(fields):
    def one(value):
        return quote_from_bytes(value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass"))

    return "&".join(f"{name}={one(value)}" for name, value in fields.items())


def post(client, url, body, content_type="application/x-www-form-urlencoded", **meta):
    TALLY["inputs"] += 1
    TALLY["forms"] += 1
    started = time.monotonic()
    response = client.generic("POST", url, body, content_type=content_type, **meta)
    return response, time.monotonic() - started


@pytest.fixture
def fleet(transactional_db):
    """The seeded fleet, committed: on TimescaleDB the rollup refresh cannot run inside a transaction."""
    return seed_fleet()


def test_hostile_sign_ins_sign_no_one_in_and_never_fail(db, viewer):
    before = row_counts()
    problems = []
    for name, value in FORM_VALUES.items():
        for field in ("username", "password"):
            client = Client()
            fields = {"username": "vera_viewer", "password": "x" * 12, field: value}
            response, elapsed = post(client, "/login", encoded(fields))
            if response.status_code >= 500 or "_auth_user_id" in client.session or elapsed > SLEEP_SECONDS / 2:
                problems.append(f"{field}={name}: {response.status_code} in {elapsed:.1f} s")
            else:
                TALLY["refused"] += 1
    big, _ = post(Client(), "/login", b"username=" + b"x" * BIG_BYTES)
    if big.status_code != 400:
        problems.append(f"10 MB sign-in: {big.status_code}")
    else:
        TALLY["refused"] += 1
    assert row_counts() == before
    assert not problems, problems


@pytest.mark.parametrize(
    ("action", "valid"), [("acknowledge", {"comment": "seen"}), ("shelve", {"reason": "crew", "hours": 4})]
)
def test_hostile_alarm_actions_are_a_4xx_page_and_change_nothing(fleet, operator, action, valid):
    client = Client()
    client.force_login(operator)
    alarm = fleet.alarms[GAS_LOCK_WELL]
    url = f"/alarms/{alarm.pk}/{action}"
    events = AlarmEvent.objects.filter(alarm=alarm).count()
    before = row_counts()
    problems = []
    for field in valid:
        for name, value in (FORM_TEXT if field in FREE_TEXT_FIELDS else FORM_VALUES).items():
            response, elapsed = post(client, url, encoded({**valid, field: value}))
            if not 400 <= response.status_code < 500 or elapsed > SLEEP_SECONDS / 2:
                problems.append(f"{field}={name}: {response.status_code} in {elapsed:.1f} s")
            else:
                TALLY["refused"] += 1
    for label, body, content_type in [
        ("json", json.dumps(valid), "application/json"),
        ("text", "comment=seen", "text/plain"),
        ("10 MB", b"comment=" + b"x" * BIG_BYTES, "application/x-www-form-urlencoded"),
    ]:
        response, _ = post(client, url, body, content_type)
        if not 400 <= response.status_code < 500:
            problems.append(f"{label}: {response.status_code}")
        else:
            TALLY["refused"] += 1
    assert AlarmEvent.objects.filter(alarm=alarm).count() == events
    assert row_counts() == before
    assert not problems, problems


def mqtt_corpus(moment):
    """(name, payload bytes) of hostile MQTT messages for WELL-001."""
    valid = reading("WELL-001", minutes_ago(moment, 30))
    text = json.dumps(valid)
    corpus = [
        ("malformed", b'{"flow_rate": '),
        ("truncated", text[: len(text) // 2].encode()),
        ("deeply_nested", b"[" * 100_000 + b"]" * 100_000),
        ("invalid_utf8", text.replace("WELL-001", "@").encode().replace(b"@", b"\xff\xfe")),
        ("empty", b""),
        ("null", b"null"),
        ("big", b"[" + b" " * BIG_BYTES + b"]"),
        ("duplicate_key", text[:-1].encode() + b', "flow_rate": -5}'),
    ]
    corpus += [(name, json.dumps({**valid, "well_id": value}).encode()) for name, value in HOSTILE_TEXT.items()]
    corpus += [
        (name, text.replace('"flow_rate": 1000.0', f'"flow_rate": {number}').encode())
        for name, number in HOSTILE_NUMBERS.items()
    ]
    corpus += [(name, json.dumps({**valid, "timestamp": moment}).encode()) for name, moment in HOSTILE_TIMES.items()]
    corpus += [(name, json.dumps({**valid, "well_id": value}).encode()) for name, value in INJECTIONS.items()]
    return corpus


@pytest.mark.django_db(transaction=True)
def test_hostile_mqtt_messages_are_rejected_and_the_bridge_keeps_storing(make_bridge, publish, well, now):  # noqa: F811
    bridge = make_bridge()
    corpus = mqtt_corpus(now)
    before = row_counts()
    good = reading("WELL-001", minutes_ago(now, 1))
    infos = [publish("WELL-001", payload) for _, payload in corpus] + [publish("WELL-001", good)]
    wait_published(infos)
    run_until(bridge, lambda: bridge.counters.received == len(corpus) + 1 and bridge.unacknowledged == 0, timeout=60)
    TALLY["inputs"] += len(corpus)
    TALLY["mqtt"] += len(corpus)
    TALLY["refused"] += bridge.counters.rejected
    after = row_counts()
    assert bridge.counters.rejected == len(corpus), bridge.counters
    assert after.pop("telemetry.Reading") == before.pop("telemetry.Reading") + 1  # the good one only
    assert after.pop("telemetry.ReadingChange") <= before.pop("telemetry.ReadingChange") + 1  # and its hour
    assert after.pop("telemetry.LatestReading") == before.pop("telemetry.LatestReading") + 1  # and its well's state
    assert after == before
