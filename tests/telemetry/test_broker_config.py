"""The MQTT broker configuration the project ships (docker/): it refuses anonymous clients, lets each device
publish only to its own well's topic, and keeps what it acknowledged across a bridge outage and a broker
restart. That it really does, with the bridge killed and the broker restarted, is proven against a real
Mosquitto run from the same file in tests/faults; these checks say which setting has drifted."""

import re
from pathlib import Path

import yaml
from django.conf import settings

DOCKER = Path(__file__).resolve().parents[2] / "docker"
# The outage the bridge's queue must cover (issue 8): 10 minutes at 1,000 messages a second of ~300 bytes.
OUTAGE_S = 600
MESSAGES_PER_S = 1_000
MESSAGE_BYTES = 300
# Mosquitto's duration units (persistent_client_expiration): hour, day, week, month, year.
DURATION_UNITS_S = {"h": 3600, "d": 86_400, "w": 7 * 86_400, "m": 30 * 86_400, "y": 365 * 86_400}


def broker_options():
    """docker/mosquitto.conf as {option: [values]}; an option may be given more than once."""
    options = {}
    for line in (DOCKER / "mosquitto.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            options.setdefault(name, []).append(value.strip())
    return options


def option(name, default=None):
    values = broker_options().get(name, [default])
    assert len(values) == 1, f"{name} is set {len(values)} times"
    return values[0]


def broker_acl():
    """docker/mosquitto.acl as (rules for anonymous clients, {user: rules}, patterns); a rule is (access, topic)."""
    anonymous, users, patterns = [], {}, []
    rules = anonymous
    for line in (DOCKER / "mosquitto.acl").read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            rules = users.setdefault(words[1], [])
        elif words[0] in ("topic", "pattern"):
            access, topic = words[1:] if len(words) == 3 else ("readwrite", words[1])
            (patterns if words[0] == "pattern" else rules).append((access, topic))
    return anonymous, users, patterns


def compose_service(name):
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"][name]


def mounts(service):
    """{container path: host source} of a compose service's volumes, short and long syntax alike."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        found[target.rstrip("/")] = source
    return found


def test_it_refuses_anonymous_clients():
    assert option("allow_anonymous") == "false"
    assert option("password_file")
    assert option("acl_file")


def test_compose_mounts_the_acl_from_the_repository_and_the_password_file_from_outside_it():
    mounted = mounts(compose_service("mosquitto"))
    assert mounted[option("acl_file")] == "./mosquitto.acl"
    assert mounted[option("password_file")].startswith("${MQTT_PASSWORD_FILE:?")


def test_each_device_may_publish_only_to_its_own_topic_and_only_the_bridge_reads():
    anonymous, users, patterns = broker_acl()
    assert anonymous == []
    # A device's username is its well id: the '+' of the bridge's topic filter.
    assert patterns == [("write", settings.MQTT_TOPIC.replace("+", "%u"))]
    readers = {user for user, rules in users.items() if ("read", settings.MQTT_TOPIC) in rules}
    assert users == {user: [("read", settings.MQTT_TOPIC)] for user in readers}
    assert len(readers) == 1

    # mqtt://user:${MQTT_BRIDGE_PASSWORD:?...}@host:port (not urlsplit's to parse: the '?' starts a query)
    bridge_url = compose_service("mqtt-bridge")["environment"]["MQTT_URL"]
    credentials = re.match(r"mqtt://(?P<user>[^:@]+):(?P<password>\$\{[^}]+\})@", bridge_url)
    assert credentials, bridge_url
    assert credentials["user"] in readers
    assert credentials["password"].startswith("${MQTT_BRIDGE_PASSWORD:?")


def test_its_queue_holds_a_ten_minute_bridge_outage():
    messages = OUTAGE_S * MESSAGES_PER_S
    max_messages = int(option("max_queued_messages", "1000"))  # Mosquitto's default
    max_bytes = int(option("max_queued_bytes", "0"))
    assert max_messages == 0 or max_messages >= messages  # 0: no limit
    assert max_bytes == 0 or max_bytes >= messages * MESSAGE_BYTES


def test_it_keeps_the_bridges_session_at_least_as_long_as_the_bridge_asks():
    expiration = option("persistent_client_expiration")
    if expiration is not None:  # unset: sessions last as long as each client asks
        count, unit = int(expiration[:-1]), expiration[-1]
        assert count * DURATION_UNITS_S[unit] >= settings.MQTT_SESSION_EXPIRY_SECONDS


def test_it_saves_sessions_and_queues_to_a_volume_that_outlives_the_container():
    assert option("persistence") == "true"
    assert option("autosave_on_changes", "false") == "false"
    # A crash loses what arrived since the last save: at most a few minutes' worth.
    assert 0 < int(option("autosave_interval", "1800")) <= 300
    data = option("persistence_location").rstrip("/")
    named_volumes = yaml.safe_load((DOCKER / "compose.yaml").read_text())["volumes"]
    assert mounts(compose_service("mosquitto"))[data] in named_volumes
