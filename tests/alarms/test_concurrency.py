"""Two workers raising the same condition at once get one alarm and a correct count.

Real threads, each with its own PostgreSQL connection (Django gives every thread one), and real
transactions (``transaction=True``): what ThingsBoard gets wrong (duplicate alarms when messages race).
"""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from alarms import lifecycle
from alarms.lifecycle import Outcome
from alarms.models import Alarm, AlarmEvent
from analytics.models import DiagnosticType
from tests.alarms.conftest import T0, finding, minutes, run_diagnostics
from tests.factories import WellFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Upper bound on waiting for another thread to reach a point; never a timing assumption.
DEADLINE_SECONDS = 30


def in_threads(count, work):
    """Runs ``work(index, barrier)`` in ``count`` threads at once; returns their results (or raises
    the first error). Each thread closes its database connection when done."""
    barrier = threading.Barrier(count, timeout=DEADLINE_SECONDS)
    results, errors = [None] * count, []

    def target(index):
        try:
            results[index] = work(index, barrier)
        except Exception as error:  # handed back to the test below
            errors.append(error)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    if errors:
        raise errors[0]
    return results


def test_it_gives_one_alarm_when_many_workers_raise_the_same_condition_at_the_same_moment():
    well = WellFactory(well_id="WELL-001")

    def raise_at_the_barrier(index, barrier):
        barrier.wait()
        return lifecycle.raise_alarm(well, DiagnosticType.GAS_LOCK, "critical", at=T0 + minutes(index)).outcome

    outcomes = in_threads(8, raise_at_the_barrier)

    alarm = Alarm.objects.get()
    assert alarm.occurrence_count == 8
    assert sorted(outcomes) == ["raised"] + ["repeated"] * 7
    assert list(alarm.events.values_list("kind", flat=True)) == ["raised"]


def backend_waiting_on_a_lock(pid):
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def wait_until(condition):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.01)


def test_it_counts_on_the_first_workers_alarm_when_the_second_raises_before_the_first_commits():
    """The exact race: worker A has inserted the alarm but not committed; worker B, which cannot see it yet,
    raises the same condition. B must wait for A, then count on A's alarm — not insert a second one."""
    well = WellFactory(well_id="WELL-001")
    a_inserted, b_started = threading.Event(), threading.Event()
    b_pid = []

    def worker(index, barrier):
        barrier.wait()
        if index == 0:  # A: a diagnostics run whose transaction stays open until B is blocked behind it
            with transaction.atomic():
                run_diagnostics(well, T0, [finding()])
                a_inserted.set()
                assert b_started.wait(DEADLINE_SECONDS)
                wait_until(lambda: backend_waiting_on_a_lock(b_pid[0]))
            return "A committed"
        assert a_inserted.wait(DEADLINE_SECONDS)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            b_pid.append(cursor.fetchone()[0])
        b_started.set()
        with transaction.atomic():
            run_diagnostics(well, T0 + minutes(5), [finding(at=T0 + minutes(5))])
        return "B committed"

    assert in_threads(2, worker) == ["A committed", "B committed"]

    alarm = Alarm.objects.get()
    assert alarm.occurrence_count == 2
    assert alarm.last_seen_at == T0 + minutes(5)
    assert AlarmEvent.objects.filter(kind="raised").count() == 1


def test_it_reopens_a_held_off_alarm_once_when_two_workers_bring_it_back_at_once(operator):
    well = WellFactory(well_id="WELL-001")
    alarm = lifecycle.raise_alarm(well, DiagnosticType.GAS_LOCK, "warning", at=T0).alarm
    alarm.acknowledge(operator, now=T0 + minutes(1))
    run_diagnostics(well, T0 + minutes(5))
    run_diagnostics(well, T0 + minutes(20))  # returned to normal, acknowledged: closed
    alarm.refresh_from_db()
    assert alarm.state == "closed"

    def raise_again(index, barrier):
        barrier.wait()
        return lifecycle.raise_alarm(well, DiagnosticType.GAS_LOCK, "warning", at=T0 + minutes(30)).outcome

    outcomes = in_threads(4, raise_again)

    assert Alarm.objects.count() == 1
    alarm.refresh_from_db()
    assert alarm.state == "active_unacknowledged"
    assert alarm.reactivation_count == 1
    assert alarm.occurrence_count == 5
    assert sorted(outcomes) == [Outcome.REACTIVATED] + [Outcome.REPEATED] * 3
