"""Where alarm notifications (e-mail, signed webhooks) plug in. Not built yet: the hook does nothing.

Every alarm transition is one ``AlarmEvent`` row, written in the transaction that changes the alarm
(``Alarm.record``). Once that transaction commits, ``alarm_event_committed(event_id)`` is called with
the event's id — for every event, exactly once per commit, never for a rolled-back one.

What a sender needs from the event:

- ``event.notify`` says whether it should reach people. It is true for ``raised``,
  ``severity_raised`` and ``escalated`` events, and for the first ``returned_to_normal`` of an alarm;
  false for anything while the alarm is shelved, for operators' own actions (acknowledged, shelved,
  unshelved, cleared), for ``reactivated`` (a chatter within the hold-off) and for
  ``out_of_service``. Conditions suppressed by out of service write no event at all.
- ``event.kind``, ``from_state`` → ``to_state``, ``at``, ``severity`` (the alarm's peak then),
  ``actor``, ``comment``, ``details``; ``event.alarm`` with its ``well``, ``alarm_type``, ``evidence``
  and ``recommended_action``.
- ``escalated`` events carry ``details["receivers"]``: the addresses in ALARM_ESCALATION_RECEIVERS
  when it was written.

Sending must not run inside this call (it runs in the request or worker that made the change): queue
a Celery task with the event id, and make the task idempotent per event id (a retried task must not
send twice).
"""


def alarm_event_committed(event_id):
    """Called after the transaction that wrote AlarmEvent ``event_id`` has committed. Does nothing yet."""
