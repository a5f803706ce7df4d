"""The alarm history: append-only, written with the change it records, announced only once committed."""

import pytest
from django.db import IntegrityError, transaction

from alarms import notifications
from alarms.models import Alarm, AlarmEvent, AlarmState
from tests.alarms.conftest import T0, finding, minutes, raise_gas_lock, run_diagnostics

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced(monkeypatch):
    """The event ids handed to the notifications hook."""
    calls = []
    monkeypatch.setattr(notifications, "alarm_event_committed", calls.append)
    return calls


def test_it_refuses_to_change_a_recorded_event(well):
    event = raise_gas_lock(well).alarm.events.get()
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AlarmEvent.objects.filter(pk=event.pk).update(comment="rewritten")
    event.refresh_from_db()
    assert event.comment == ""


def test_it_deletes_the_history_with_the_well(well):
    raise_gas_lock(well)
    well.delete()
    assert not Alarm.objects.exists() and not AlarmEvent.objects.exists()


def test_it_hands_each_event_to_the_notifications_hook_after_the_commit(
    well, operator, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run_diagnostics(well, T0, [finding()])
        assert announced == []  # not before the commit
    with django_capture_on_commit_callbacks(execute=True):
        Alarm.objects.get().acknowledge(operator, now=T0 + minutes(1))
    assert announced == list(AlarmEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(announced) == 2


def test_it_announces_nothing_and_keeps_nothing_from_a_rolled_back_run(
    well, announced, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        run_diagnostics(well, T0, [finding()])
        raise RuntimeError("the diagnostics run failed after the alarms were raised")
    assert announced == []
    assert not Alarm.objects.exists() and not AlarmEvent.objects.exists()


def test_it_leaves_the_alarm_as_it_was_when_its_event_cannot_be_written(well, operator, monkeypatch):
    alarm = raise_gas_lock(well).alarm

    def refuse(**kwargs):
        raise IntegrityError("disk full")

    monkeypatch.setattr(AlarmEvent.objects, "create", refuse)
    with pytest.raises(IntegrityError):
        alarm.acknowledge(operator, now=T0 + minutes(1))
    alarm.refresh_from_db()
    assert (alarm.state, alarm.acknowledged_by) == (AlarmState.ACTIVE_UNACKNOWLEDGED, None)
