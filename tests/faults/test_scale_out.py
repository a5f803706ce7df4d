"""Scale-out on loopback: two web instances behind one address, two Celery workers, two MQTT bridges on a
shared subscription (``MQTT_SHARED_GROUP``) — the load splits between them, and killing one bridge and one
worker mid-run loses nothing. In ``make faults`` (about 30 s each).
"""

import time

import pytest
from celery import Celery

from tests.faults.conftest import WELLS
from tests.faults.proxy import RoundRobinProxy
from tests.faults.scenario import Ingest
from tests.faults.stack import messages_taken, wait_for, well_ids

HTTP_WELLS = well_ids(WELLS)[: WELLS // 2]
MQTT_WELLS = well_ids(WELLS)[WELLS // 2 :]
GROUP = {"MQTT_SHARED_GROUP": "esp-ingest"}
VISIBILITY = {"CELERY_VISIBILITY_TIMEOUT_SECONDS": "10"}
TASKS = 20


def stored_since(stack, rows):
    return stack.readings()[0] - rows


def two_bridges(stack):
    return [stack.bridge(f"bridge-{n}", client_id=f"esp-ingest-{n}", **GROUP) for n in (1, 2)]


def kill_one_bridge_and_restart_it(stack, ingest, bridges):
    """Kill bridge-1 mid-run; return what happened until it was back and had caught up."""
    wait_for(lambda: all(messages_taken(b) > 0 for b in bridges), stack.logs, 120)
    bridges[0].kill()
    killed = time.monotonic()
    rows = stack.readings()[0]
    wait_for(lambda: stored_since(stack, rows) > 10 * len(MQTT_WELLS), stack.logs, 120)  # bridge-2 carries on
    while_dead = stored_since(stack, rows)
    # Acknowledged to devices but not stored yet: mostly what the broker keeps in bridge-1's session.
    waiting = len(ingest.acknowledged()) - stack.readings()[0]
    bridges[0].start()  # the same client id: its session, and what the broker kept in it, come back
    return {
        "stored_while_bridge_1_dead": while_dead,
        "acknowledged_not_yet_stored_when_bridge_1_restarted": waiting,
        "bridge_1_dead_s": round(time.monotonic() - killed, 1),
    }


def messages_per_bridge(bridges):
    """Stop the bridges (each logs its final counters) and add up what each took."""
    for bridge in bridges:
        bridge.stop()
    return {bridge.name: messages_taken(bridge) for bridge in bridges}


@pytest.mark.long_fault
def test_two_bridges_on_a_shared_subscription_split_the_messages_and_one_may_die(stack, outcome):
    web = stack.web()
    bridges = two_bridges(stack)
    ingest = Ingest(stack, web, [], MQTT_WELLS)
    ingest.start()

    kill = kill_one_bridge_and_restart_it(stack, ingest, bridges)
    figures = ingest.assert_stored_exactly_once()
    split = {bridge.name: messages_taken(bridge) for bridge in bridges}
    assert all(split.values()), split
    outcome(
        fault="one of two bridges on $share/esp-ingest SIGKILLed, restarted", messages_taken=split, **kill, **figures
    )


@pytest.mark.long_fault
def test_two_of_each_split_the_load_and_losing_a_bridge_and_a_worker_loses_nothing(stack, outcome):
    webs = [stack.web(f"web-{n}", access_log=True) for n in (1, 2)]
    proxy = RoundRobinProxy([web.address for web in webs]).start()
    workers = [stack.worker(f"worker-{n}", **VISIBILITY) for n in (1, 2)]
    bridges = two_bridges(stack)
    ingest = Ingest(stack, proxy, HTTP_WELLS, MQTT_WELLS, gateways=4)
    ingest.start()
    celery = Celery(broker=stack.redis.url(0))
    before = [celery.send_task("analytics.refresh_rollups").id for _ in range(TASKS)]
    wait_for(lambda: all(any(f"{t}] succeeded" in w.log(None) for w in workers) for t in before), stack.logs, 120)

    workers[0].kill()
    after = [celery.send_task("analytics.refresh_rollups").id for _ in range(TASKS)]
    kill = kill_one_bridge_and_restart_it(stack, ingest, bridges)
    wait_for(lambda: all(f"{t}] succeeded" in workers[1].log(None) for t in after), stack.logs, 240)

    figures = ingest.assert_stored_exactly_once()
    proxy.stop()
    requests_served = {web.name: web.log(None).count('"POST /api/v1/telemetry/batch HTTP/1.1" 201') for web in webs}
    tasks_done = {worker.name: worker.log(None).count("] succeeded") for worker in workers}
    split = messages_per_bridge(bridges)
    assert all(requests_served.values()) and all(split.values()), (requests_served, split)
    assert all(tasks_done.values()), tasks_done
    outcome(
        fault="two web instances behind one proxy, two workers, two bridges; one worker and one bridge SIGKILLed",
        http_batches_served=requests_served,
        tasks_succeeded=tasks_done,
        mqtt_messages_taken=split,
        http_answers=ingest.http_outcomes(),
        **kill,
        **figures,
    )
