"""Alarms: what the diagnostics engine found, turned into things an operator must see and answer.

An ``Alarm`` is one episode of one condition (an ``analytics.DiagnosticType``) on one well, from the
finding that raised it until it is closed; every change of its state is an ``AlarmEvent``. The
lifecycle follows ISA-18.2 / OPC UA Part 9 (Active × Acked, plus Shelved and Out of service):

    (no open alarm)
         │ raise: a warning or critical finding
         ▼
    active_unacknowledged ──── acknowledge ────▶ active_acknowledged
         │        ▲                                     │
         │        │ condition back                      │ condition seen absent for
         │        │ (reactivated, a chatter)            │ ALARM_CLEAR_AFTER_MINUTES
         │ condition seen absent for                    ▼
         │ ALARM_CLEAR_AFTER_MINUTES          closed (returned to normal)
         ▼                                              ▲
    returned_unacknowledged ─── acknowledge ────────────┘

    - An alarm closes when it is both acknowledged and returned to normal, whichever comes last.
    - Severity above the alarm's peak: an acknowledged alarm becomes unacknowledged again (a worse
      condition must be seen), and the escalation clock restarts.
    - clear (operator): any open state → closed, acknowledging it if need be. The operator's manual
      reset, for a condition the engine can no longer judge (a well shut in, a sensor replaced).
    - Hold-off: a ``closed`` alarm that had returned to normal and is raised again within
      ALARM_REALARM_HOLDOFF_MINUTES of its return is reopened (``reactivated``, counted as a chatter)
      instead of a new alarm being created. An alarm closed by clear or by out of service is not.
    - shelve (operator, reason, expiry): any open state → ``shelved``, an overlay: the alarm is still
      evaluated (repeats, return to normal) but is not listed as needing action, not escalated and not
      notified. unshelve, or the expiry (beat task every minute, and lazily on read), → the state
      underneath.
    - out of service (admin, a well, an alarm type or both, reason, optional end): open alarms it
      covers → closed; while it lasts, raises it covers are counted on it and alarm nobody.
    - escalated: a critical alarm unacknowledged for ALARM_ESCALATE_AFTER_MINUTES, not shelved, gets
      one ``escalated`` event per unacknowledged spell; its state does not change.

Notifications (``alarms.notifications``): raised, severity raised, escalated and the first return to
normal reach people — e-mail by their preferences, signed webhooks to the receivers admins configured —
once per transition, sent by Celery workers after the commit, retried with backoff.

At most one open alarm per (well, type), by a partial unique index; ``alarms.lifecycle.raise_alarm``
is the one raise path (the diagnostics signal receiver, tests and shells all use it). Every function
that depends on time takes the time as an argument.
"""
