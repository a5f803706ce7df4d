"""The production stack (docker/compose.yaml, docker/Dockerfile), checked without Docker: the files parse,
every service's command exists in the project, every variable passed to the platform is one its settings
read, mounts point at files that exist, images are pinned, the image runs as an unprivileged user."""

import importlib
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

PROJECT = Path(__file__).resolve().parents[2]
DOCKER = PROJECT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
# The services running the platform's own image.
APP_SERVICES = ["migrate", "web", "worker", "beat", "mqtt-bridge"]
LONG_RUNNING = [name for name in SERVICES if name != "migrate"]
# Variables the platform's processes read that are not Django settings, and who reads them.
NOT_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR": "prometheus_client and config/gunicorn.py"}
# ${…} values compose itself needs from the env file, beyond the settings: all documented for the sysadmin.
COMPOSE_ONLY = {
    *("POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "MQTT_BRIDGE_PASSWORD"),
    *("MQTT_PASSWORD_FILE", "METRICS_TOKEN_FILE"),
    # Alertmanager's receivers, read by docker/alertmanager/render-config.sh from the template's ${…}.
    *("ALERTMANAGER_SMTP_SMARTHOST", "ALERTMANAGER_SMTP_FROM", "ALERTMANAGER_SMTP_USERNAME"),
    *("ALERTMANAGER_SMTP_PASSWORD", "ALERTMANAGER_EMAIL_TO", "ALERTMANAGER_ONCALL_EMAIL_TO"),
    "ALERTMANAGER_ONCALL_WEBHOOK_URL",
}


def settings_variables():
    source = (PROJECT / "config" / "settings.py").read_text()
    return set(re.findall(r"""env_\w+\(\s*["']([A-Z_]+)["']""", source))


def dockerfile_instructions():
    """(instruction, argument) of each Dockerfile line, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def command_of(service):
    command = SERVICES[service].get("command")
    if command is None:  # the image's CMD
        (cmd,) = [argument for instruction, argument in dockerfile_instructions() if instruction == "CMD"]
        return json.loads(cmd)
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def test_it_has_every_service_of_the_stack():
    assert set(SERVICES) == {
        *("db", "redis", "mosquitto", "migrate", "web", "worker", "beat", "mqtt-bridge"),
        *("prometheus", "alertmanager", "grafana"),
    }


@pytest.mark.parametrize("service", APP_SERVICES)
def test_each_platform_service_runs_a_command_the_project_has(service):
    argv = command_of(service)
    if argv[:2] == ["python", "manage.py"]:
        assert argv[2] in get_commands(), f"{service}: manage.py has no {argv[2]} command"
    elif argv[0] == "celery":
        assert argv[1:3] == ["-A", "config"] and argv[3] in ("worker", "beat")
        assert importlib.import_module("config.celery").app.main == "esp_platform"
    elif argv[0] == "gunicorn":
        config_file = argv[argv.index("-c") + 1]
        assert (PROJECT / config_file).is_file()
        module, _, attribute = argv[argv.index("-c") + 2].partition(":")
        assert hasattr(importlib.import_module(module), attribute or "application")
    else:
        pytest.fail(f"{service}: unexpected command {argv}")


def test_the_images_default_command_is_the_web_server():
    assert command_of("web") == json.loads(dict(dockerfile_instructions())["CMD"])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_variable_passed_to_the_platform_is_one_it_reads(service):
    read = settings_variables()
    passed = set(SERVICES[service]["environment"])
    unknown = passed - read - set(NOT_SETTINGS)
    assert not unknown, f"{service} passes {sorted(unknown)}, which nothing in the platform reads"
    assert SERVICES[service]["env_file"] == "../.env"


def test_every_variable_compose_needs_is_a_setting_or_a_documented_secret():
    needed = set(re.findall(r"\$\{([A-Z_]+)", (DOCKER / "compose.yaml").read_text()))
    assert needed - settings_variables() == COMPOSE_ONLY
    deployment = (PROJECT / "docs" / "deployment.md").read_text()
    for name in COMPOSE_ONLY:
        assert name in deployment, f"docs/deployment.md does not say how to set {name}"


def test_secrets_come_from_the_env_file_never_from_the_compose_file():
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN|SECRET", key):
                assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*|:-)\}", value), f"{name}: {key} is not from the env file"
            for password in re.findall(r"://[^:/@]+:([^@]+)@", str(value)):
                assert password.startswith("${") and ":?" in password, f"{name}: {key} has a password in it"
    assert "postgres://esp:${POSTGRES_PASSWORD:?" in SERVICES["web"]["environment"]["DATABASE_URL"]


def test_images_are_pinned_to_versions():
    for name, service in SERVICES.items():
        if name in APP_SERVICES:
            assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
            continue
        image, _, tag = service["image"].partition(":")
        assert re.match(r"v?\d+\.\d+", tag), f"{name}: {service['image']} is not pinned to a version"
    (base,) = [argument for instruction, argument in dockerfile_instructions() if instruction == "FROM"]
    assert re.match(r"python:3\.11[.-]", base)


def test_the_image_runs_as_an_unprivileged_user_and_ships_pg_dump():
    instructions = dockerfile_instructions()
    users = [index for index, (instruction, _) in enumerate(instructions) if instruction == "USER"]
    runs = [index for index, (instruction, _) in enumerate(instructions) if instruction == "RUN"]
    assert users and instructions[users[-1]][1] not in ("root", "0")
    assert users[-1] > max(runs)
    assert any("postgresql-client" in argument for instruction, argument in instructions if instruction == "RUN")


def test_long_running_services_restart_and_migrate_runs_once():
    for name in LONG_RUNNING:
        assert SERVICES[name]["restart"] in ("unless-stopped", "always"), name
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat", "mqtt-bridge"):
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_services_others_wait_for_have_healthchecks():
    waited_for = {
        dependency
        for service in SERVICES.values()
        for dependency, condition in (service.get("depends_on") or {}).items()
        if condition["condition"] == "service_healthy"
    }
    assert waited_for >= {"db", "redis", "web", "prometheus"}
    for name in waited_for | {"worker", "alertmanager", "grafana"}:
        assert SERVICES[name]["healthcheck"]["test"], name


def mounts(service):
    for volume in SERVICES[service].get("volumes", []):
        if isinstance(volume, str):
            source, target, *options = volume.split(":")
            yield source, target, "ro" in options
        else:
            yield volume["source"], volume["target"], volume.get("read_only", False)


def test_every_mount_is_a_declared_volume_or_a_file_in_the_repository():
    for service in SERVICES:
        for source, _target, _read_only in mounts(service):
            if source.startswith("${"):
                continue  # a host file outside the repository (a secret)
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{service} mounts {source}, which is not in docker/"
            else:
                assert source in COMPOSE["volumes"], f"{service} mounts an undeclared volume {source}"


def test_backups_and_metrics_have_volumes_where_the_settings_point():
    worker = {target: source for source, target, _ in mounts("worker")}
    assert worker[SERVICES["worker"]["environment"]["BACKUP_DIR"]] == "backups"
    metrics_dir = SERVICES["web"]["environment"]["METRICS_DIR"]
    for service in ("web", "worker", "beat", "mqtt-bridge"):
        assert {target: source for source, target, _ in mounts(service)}[metrics_dir] == "metrics"
        own = SERVICES[service]["environment"].get("PROMETHEUS_MULTIPROC_DIR", f"{metrics_dir}/web")
        assert own.startswith(metrics_dir + "/")


def test_prometheus_scrapes_the_web_service_with_the_metrics_token_secret():
    config = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "esp-web"]
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    assert targets == ["web:8000"]
    assert "127.0.0.1:8000:8000" in SERVICES["web"]["ports"]
    token_file = job["authorization"]["credentials_file"]
    (secret,) = SERVICES["prometheus"]["secrets"]
    assert secret["target"] == str(Path("/etc/prometheus") / token_file)
    assert COMPOSE["secrets"][secret["source"]]["file"].startswith("${METRICS_TOKEN_FILE:?")
    mounted = {target: source for source, target, _ in mounts("prometheus")}
    for rule_file in config.get("rule_files", []):
        assert mounted[f"/etc/prometheus/{rule_file}"] == f"./prometheus/{rule_file}"
    assert mounted["/prometheus"] == "prometheus-data"


def test_alertmanager_gets_every_receiver_variable_its_template_needs():
    template = (DOCKER / "alertmanager" / "alertmanager.yml").read_text()
    needed = {
        name for line in template.splitlines() if not line.lstrip().startswith("#")
        for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", line)
    }  # fmt: skip
    assert needed and needed <= set(SERVICES["alertmanager"]["environment"])
    mounted = {target for _source, target, _ in mounts("alertmanager")}
    assert {"/etc/alertmanager/alertmanager.yml", "/etc/alertmanager/render-config.sh"} <= mounted


def test_grafana_is_provisioned_read_only_with_its_admin_password_from_the_env_file():
    provisioning = [(source, read_only) for source, target, read_only in mounts("grafana")
                    if target == "/etc/grafana/provisioning"]  # fmt: skip
    assert provisioning == [("./grafana/provisioning", True)]
    dashboards = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/esp.yml").read_text())["providers"]
    mounted = {target: (source, read_only) for source, target, read_only in mounts("grafana")}
    for provider in dashboards:
        assert mounted[provider["options"]["path"]] == ("./grafana/dashboards", True)
    assert SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert "3000" in SERVICES["grafana"]["ports"][0] and "9093" in SERVICES["alertmanager"]["ports"][0]
