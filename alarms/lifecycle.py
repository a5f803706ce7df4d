"""The transitions the platform makes on its own: raise, return to normal, shelve expiry, escalation,
out of service. The ones operators make are methods of ``alarms.models.Alarm``.

Every function takes the time (``at`` / ``now``) from its caller: the diagnostics run's clock, the
beat task's, a test's.
"""

import dataclasses
import datetime
import json

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Greatest

from alarms.models import (
    ALARM_SEVERITIES,
    SEVERITY_RANK,
    Alarm,
    AlarmEventKind,
    AlarmState,
    AlarmTransitionRefused,
    CloseReason,
    OutOfService,
)
from analytics.models import Severity
from wells.models import WellStatus

# Inserts the open alarm of a (well, type) unless one is already open. ON CONFLICT names the partial
# unique index alarm_one_open_per_well_type: when another transaction holds an uncommitted open row for
# the pair, PostgreSQL waits for it, then inserts nothing (it committed) or inserts (it rolled back).
# Returns the new id, or no row. Every NOT NULL column without a database default is listed.
INSERT_OPEN_ALARM = """
INSERT INTO alarms_alarm (
    well_id, alarm_type, peak_severity, last_severity, active, acknowledged,
    raised_at, activated_at, last_seen_at, last_window_end, occurrence_count, reactivation_count,
    unacknowledged_since, shelve_reason, close_reason, confidence, evidence, recommended_action
) VALUES (
    %(well_id)s, %(alarm_type)s, %(severity)s, %(severity)s, TRUE, FALSE,
    %(at)s, %(at)s, %(at)s, %(window_end)s, 1, 0,
    %(at)s, '', '', %(confidence)s, %(evidence)s::jsonb, %(recommended_action)s
)
ON CONFLICT (well_id, alarm_type) WHERE closed_at IS NULL DO NOTHING
RETURNING id
"""

# Attempts before giving up on a raise; each retry follows a conflict with a transaction that has
# committed meanwhile, so the second attempt finds its row. More would mean something else is wrong.
RAISE_ATTEMPTS = 5


class Outcome:
    RAISED = "raised"
    REPEATED = "repeated"
    REACTIVATED = "reactivated"
    REPLAYED = "replayed"  # the same finding (window) again: nothing counted
    SUPPRESSED = "suppressed"  # out of service: counted on the entry, no alarm
    REFUSED = "refused"  # the well is not active


@dataclasses.dataclass(frozen=True)
class RaiseResult:
    outcome: str
    alarm: Alarm | None = None


def _minutes(name):
    return datetime.timedelta(minutes=getattr(settings, name))


def raise_alarm(
    well,
    alarm_type,
    severity,
    *,
    at,
    evidence=None,
    confidence=None,
    recommended_action="",
    window_end=None,
):
    """Raises the alarm of ``alarm_type`` on ``well`` for a finding of ``severity`` seen at ``at``, or
    counts a repeat on the one already open. Safe to call from any number of workers at once: they get
    one open alarm and every call is counted. Returns a ``RaiseResult``.

    - An open alarm for the pair: a repeat (count, last seen, peak severity, evidence); if it had
      returned to normal it is re-activated. Severity above the peak makes it unacknowledged again.
    - None open, but one that returned to normal within ALARM_REALARM_HOLDOFF_MINUTES of ``at`` and was
      closed by acknowledgement: that alarm is reopened (re-activated) rather than a new one raised.
    - Otherwise a new alarm, with a ``raised`` event.
    - ``window_end``: the end of the finding's window; a finding no newer than the one last counted
      (a retried diagnostics run) changes nothing.
    - A well that is not active, or a pair out of service at ``at``, raises nothing.
    """
    if severity not in ALARM_SEVERITIES:
        raise ValueError(f"only {' and '.join(ALARM_SEVERITIES)} findings raise alarms, not {severity!r}")
    if well.status != WellStatus.ACTIVE:
        return RaiseResult(Outcome.REFUSED)
    finding = {
        "severity": severity,
        "at": at,
        "evidence": evidence or {},
        "confidence": confidence,
        "recommended_action": recommended_action or "",
        "window_end": window_end,
    }
    with transaction.atomic():
        suppressed = OutOfService.objects.covering(well, alarm_type, at).update(
            suppressed_count=F("suppressed_count") + 1,
            last_suppressed_at=Greatest(F("last_suppressed_at"), Value(at), output_field=DateTimeField()),
        )
        if suppressed:
            return RaiseResult(Outcome.SUPPRESSED)
        for _ in range(RAISE_ATTEMPTS):
            alarm = Alarm.objects.select_for_update().open().filter(well=well, alarm_type=alarm_type).first()
            if alarm is not None:
                return _repeat(alarm, finding)
            reopened = _reopen_within_holdoff(well, alarm_type, finding)
            if reopened is not None:
                return reopened
            with connection.cursor() as cursor:
                cursor.execute(
                    INSERT_OPEN_ALARM,
                    {
                        "well_id": well.pk,
                        "alarm_type": alarm_type,
                        **finding,
                        "evidence": json.dumps(finding["evidence"]),
                    },
                )
                inserted = cursor.fetchone()
            if inserted is not None:
                alarm = Alarm.objects.select_related("well").get(pk=inserted[0])
                alarm.record(
                    AlarmEventKind.RAISED,
                    at=at,
                    from_state="",
                    details={"evidence": finding["evidence"], "confidence": confidence},
                )
                return RaiseResult(Outcome.RAISED, alarm)
            # Another transaction opened the pair's alarm and has committed: count on it next time round.
    raise RuntimeError(f"could not raise {alarm_type} on {well.well_id} in {RAISE_ATTEMPTS} attempts")


def _take_finding(alarm, finding):
    """Counts the finding on the (locked) alarm. Returns True when the severity rose above the peak."""
    alarm.occurrence_count += 1
    alarm.last_seen_at = max(alarm.last_seen_at, finding["at"])
    alarm.last_severity = finding["severity"]
    alarm.absent_since = None
    alarm.evidence = finding["evidence"]
    alarm.confidence = finding["confidence"]
    alarm.recommended_action = finding["recommended_action"]
    if finding["window_end"] is not None:
        alarm.last_window_end = max(filter(None, [alarm.last_window_end, finding["window_end"]]))
    if SEVERITY_RANK[finding["severity"]] > SEVERITY_RANK[alarm.peak_severity]:
        alarm.peak_severity = finding["severity"]
        return True
    return False


def _is_replay(alarm, finding):
    return (
        finding["window_end"] is not None
        and alarm.last_window_end is not None
        and finding["window_end"] <= alarm.last_window_end
    )


def _repeat(alarm, finding):
    if _is_replay(alarm, finding):
        return RaiseResult(Outcome.REPLAYED, alarm)
    at = finding["at"]
    rose = _take_finding(alarm, finding)
    if not alarm.active:
        # Returned to normal but not yet acknowledged: the condition is back (a chatter).
        alarm.active, alarm.activated_at, alarm.returned_at = True, at, None
        alarm.reactivation_count += 1
        if rose:
            alarm._mark_unacknowledged(at)
        alarm.record(AlarmEventKind.REACTIVATED, at=at, details={"severity": finding["severity"], "peak_rose": rose})
        return RaiseResult(Outcome.REACTIVATED, alarm)
    if rose:
        alarm._mark_unacknowledged(at)
        alarm.record(AlarmEventKind.SEVERITY_RAISED, at=at, details={"severity": finding["severity"]})
    else:
        alarm.save()
    return RaiseResult(Outcome.REPEATED, alarm)


def _reopen_within_holdoff(well, alarm_type, finding):
    """Reopens the pair's alarm that returned to normal within the hold-off and was closed by
    acknowledgement, if there is one; None otherwise (or when another worker reopened it first)."""
    at = finding["at"]
    candidate = (
        Alarm.objects.select_for_update()
        .filter(
            well=well,
            alarm_type=alarm_type,
            closed_at__isnull=False,
            close_reason=CloseReason.NORMAL,
            returned_at__gte=at - _minutes("ALARM_REALARM_HOLDOFF_MINUTES"),
            returned_at__lte=at,
        )
        .order_by("-returned_at", "-id")
        .first()
    )
    if candidate is None:
        return None
    if _is_replay(candidate, finding):
        return RaiseResult(Outcome.REPLAYED, candidate)
    candidate.closed_at, candidate.close_reason = None, ""
    candidate.active, candidate.activated_at, candidate.returned_at = True, at, None
    candidate.reactivation_count += 1
    candidate._mark_unacknowledged(at)
    _take_finding(candidate, finding)
    try:
        with transaction.atomic():
            candidate.record(
                AlarmEventKind.REACTIVATED,
                at=at,
                details={"severity": finding["severity"], "within_holdoff": True},
            )
    except IntegrityError:
        # A new alarm for the pair was opened meanwhile (the unique index refused a second open row).
        return None
    return RaiseResult(Outcome.REACTIVATED, candidate)


def note_condition_absent(alarm, *, at):
    """A diagnostics run at ``at`` judged the (locked, open) alarm's condition absent. Returns it to
    normal once the condition has been seen absent for ALARM_CLEAR_AFTER_MINUTES since the first run that
    saw it gone (a run that sees it again starts over); closes it if it was acknowledged."""
    if not alarm.active:
        return None
    if alarm.absent_since is None:
        alarm.absent_since = at
    if at - alarm.absent_since < _minutes("ALARM_CLEAR_AFTER_MINUTES"):
        alarm.save(update_fields=["absent_since"])
        return None
    absent_since = alarm.absent_since
    alarm.active, alarm.returned_at, alarm.absent_since = False, at, None
    if alarm.acknowledged:
        alarm._close(CloseReason.NORMAL, at)
    return alarm.record(AlarmEventKind.RETURNED_TO_NORMAL, at=at, details={"absent_since": absent_since.isoformat()})


def apply_diagnostics_run(*, well, ran_at, findings, evaluated):
    """What one diagnostics run of ``well`` means for its alarms (the ``diagnostics_ran`` receiver).

    Warning and critical findings raise or repeat alarms (the worst finding per type counts once);
    each open, active alarm whose type the run evaluated and found absent — or found at info level only —
    moves towards returning to normal. A well that is not active gets nothing. Returns the raise results.
    """
    if well.status != WellStatus.ACTIVE:
        return []
    worst = {}
    for finding in findings:
        if finding.severity not in ALARM_SEVERITIES:
            continue
        kept = worst.get(finding.diagnostic_type)
        rank = (SEVERITY_RANK[finding.severity], finding.window_end)
        if kept is None or rank > (SEVERITY_RANK[kept.severity], kept.window_end):
            worst[finding.diagnostic_type] = finding
    with transaction.atomic():
        results = [
            raise_alarm(
                well,
                alarm_type,
                finding.severity,
                at=ran_at,
                evidence=finding.evidence,
                confidence=finding.confidence,
                recommended_action=finding.recommended_action,
                window_end=finding.window_end,
            )
            for alarm_type, finding in sorted(worst.items())
        ]
        absent = set(evaluated) - set(worst)
        if absent:
            gone = (
                Alarm.objects.select_for_update(of=("self",))
                .open()
                .filter(well=well, active=True, alarm_type__in=absent)
            )
            for alarm in gone.select_related("well").order_by("id"):
                note_condition_absent(alarm, at=ran_at)
    return results


def on_diagnostics_ran(sender, *, well, ran_at, findings, evaluated, **kwargs):
    """Receiver of ``analytics.diagnostics.signals.diagnostics_ran`` (connected in AlarmsConfig.ready)."""
    apply_diagnostics_run(well=well, ran_at=ran_at, findings=findings, evaluated=evaluated)


def unshelve_expired(*, now):
    """Unshelves every alarm whose shelve has expired by ``now``; returns how many. Skips rows another
    worker holds (it is unshelving them or acting on them), so two beat runs never unshelve twice."""
    count = 0
    with transaction.atomic():
        expired = (
            Alarm.objects.select_for_update(skip_locked=True, of=("self",))
            .open()
            .filter(shelved_until__lte=now)
            .select_related("well")
            .order_by("id")
        )
        for alarm in expired:
            details = {"shelved_until": alarm.shelved_until.isoformat(), "expired": True}
            alarm._end_shelve()
            alarm.record(AlarmEventKind.UNSHELVED, at=now, comment="Shelve expired.", details=details)
            count += 1
    return count


def escalate_overdue(*, now):
    """Escalates every critical alarm active and unacknowledged for ALARM_ESCALATE_AFTER_MINUTES, not
    shelved and not yet escalated in this unacknowledged spell: one ``escalated`` event each. Returns
    how many."""
    after = _minutes("ALARM_ESCALATE_AFTER_MINUTES")
    count = 0
    with transaction.atomic():
        overdue = (
            Alarm.objects.select_for_update(skip_locked=True, of=("self",))
            .open()
            .filter(
                state=AlarmState.ACTIVE_UNACKNOWLEDGED,
                peak_severity=Severity.CRITICAL,
                escalated_at__isnull=True,
                unacknowledged_since__lte=now - after,
            )
            .select_related("well")
            .order_by("id")
        )
        for alarm in overdue:
            alarm.escalated_at = now
            alarm.record(
                AlarmEventKind.ESCALATED,
                at=now,
                details={
                    "receivers": list(settings.ALARM_ESCALATION_RECEIVERS),
                    "unacknowledged_since": alarm.unacknowledged_since.isoformat(),
                    "after_minutes": settings.ALARM_ESCALATE_AFTER_MINUTES,
                },
            )
            count += 1
    return count


def check_alarm_timers(*, now):
    """The beat task's work: expired shelves first (an alarm unshelved now may be overdue), then escalation."""
    return {"unshelved": unshelve_expired(now=now), "escalated": escalate_overdue(now=now)}


def take_out_of_service(*, well, alarm_type, reason, until, user, now):
    """Takes a well, an alarm type or both out of alarm service from ``now``; closes the open alarms it
    covers (``out_of_service`` events). Returns the new OutOfService entry."""
    reason = (reason or "").strip()
    if well is None and not alarm_type:
        raise AlarmTransitionRefused("well_id", "Give a well, an alarm type or both.")
    if not reason:
        raise AlarmTransitionRefused("reason", "Give the reason for taking it out of service.")
    if until is not None and until <= now:
        raise AlarmTransitionRefused("until", "The end of the out-of-service period must be in the future.")
    with transaction.atomic():
        entry = OutOfService.objects.create(
            well=well, alarm_type=alarm_type or "", reason=reason, starts_at=now, until=until, created_by=user
        )
        covered = Alarm.objects.select_for_update(of=("self",)).open()
        if well is not None:
            covered = covered.filter(well=well)
        if alarm_type:
            covered = covered.filter(alarm_type=alarm_type)
        for alarm in covered.select_related("well").order_by("id"):
            alarm.active = False
            alarm.returned_at = alarm.returned_at or now
            alarm.unacknowledged_since = None
            alarm._close(CloseReason.OUT_OF_SERVICE, now)
            alarm.record(
                AlarmEventKind.OUT_OF_SERVICE, at=now, actor=user, comment=reason, details={"out_of_service": entry.pk}
            )
    return entry


def return_to_service(entry, *, user, now):
    """Ends an out-of-service entry: from ``now`` its conditions raise alarms again."""
    with transaction.atomic():
        locked = OutOfService.objects.select_for_update().get(pk=entry.pk)
        if locked.ended_at is not None:
            raise AlarmTransitionRefused(
                "state", f"This entry was already returned to service at {locked.ended_at:%Y-%m-%d %H:%M} UTC."
            )
        locked.ended_at, locked.ended_by = now, user
        locked.save(update_fields=["ended_at", "ended_by"])
    entry.refresh_from_db()
    return entry
