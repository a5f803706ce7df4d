"""Alarm-system KPIs in the sense of EEMUA 191 and ISA-18.2, computed by PostgreSQL from the events.

What counts as an alarm for the rates is an *activation*: an alarm raised, or one re-activated after
returning to normal (a chatter is a new annunciation to the operator). Conditions suppressed by out of
service never became alarms and are not counted.

- average / peak activations per 10 minutes, over consecutive 10-minute buckets from the window's
  start (empty buckets count as 0); EEMUA 191's steady-state target is below 1 per 10 minutes;
- flood: a bucket with more than 10 activations (EEMUA 191); the share of buckets in flood;
- standing alarms: open alarms active continuously for more than 24 hours at the window's end;
- chattering alarms: (well, type) pairs that went active at least 3 times within 60 minutes. ISA-18.2's
  rule of thumb is 3 in a minute, for controllers that evaluate every second; diagnostics run every
  few minutes and an alarm returns to normal only after ALARM_CLEAR_AFTER_MINUTES, so a minute can never
  hold three activations here;
- the 10 (well, type) pairs with the most activations (the "bad actors");
- acknowledged share: of the alarms raised in the window, those an operator acknowledged or cleared;
  median time from raising to that first response.
"""

import datetime

from django.db import connection

from alarms.models import AlarmEventKind

BUCKET = datetime.timedelta(minutes=10)
FLOOD_ABOVE_PER_BUCKET = 10
STANDING_AFTER = datetime.timedelta(hours=24)
CHATTER_ACTIVATIONS = 3
CHATTER_WITHIN = datetime.timedelta(minutes=60)
TOP_PAIRS = 10
MAX_DAYS = 90

ACTIVATION_KINDS = [AlarmEventKind.RAISED.value, AlarmEventKind.REACTIVATED.value]
RESPONSE_KINDS = [AlarmEventKind.ACKNOWLEDGED.value, AlarmEventKind.CLEARED.value]

# One row for the window [start, end): how many 10-minute buckets, the activations in all, their mean
# and maximum per bucket, and how many buckets were in flood. generate_series lists every bucket, so
# quiet buckets count as 0; date_bin puts each activation in its bucket (same origin: the start).
RATES = """
WITH per_bucket AS (
    SELECT date_bin(%(bucket)s, event.at, %(start)s) AS bucket, count(*) AS activations
    FROM alarms_alarmevent AS event
    WHERE event.kind = ANY(%(activation_kinds)s) AND event.at >= %(start)s AND event.at < %(end)s
    GROUP BY 1
)
SELECT count(*) AS buckets,
       coalesce(sum(per_bucket.activations), 0)::bigint AS activations,
       coalesce(avg(coalesce(per_bucket.activations, 0)), 0) AS average_per_10_min,
       coalesce(max(per_bucket.activations), 0) AS peak_per_10_min,
       count(*) FILTER (WHERE per_bucket.activations > %(flood_above)s) AS flood_buckets
FROM generate_series(%(start)s, %(end)s - %(bucket)s, %(bucket)s) AS buckets(bucket)
LEFT JOIN per_bucket USING (bucket)
"""

# Open alarms active without a break since before end − 24 h.
STANDING = """
SELECT count(*) FROM alarms_alarm
WHERE closed_at IS NULL AND active AND activated_at <= %(end)s - %(standing_after)s
"""

# (well, type) pairs that had CHATTER_ACTIVATIONS activations within CHATTER_WITHIN: for each activation,
# a window function counts the pair's activations in the CHATTER_WITHIN before it (itself included).
CHATTERING = """
SELECT count(*) FROM (
    SELECT alarm.well_id, alarm.alarm_type
    FROM (
        SELECT alarm.well_id, alarm.alarm_type,
               count(*) OVER (
                   PARTITION BY alarm.well_id, alarm.alarm_type ORDER BY event.at
                   RANGE BETWEEN %(chatter_within)s PRECEDING AND CURRENT ROW
               ) AS recent
        FROM alarms_alarmevent AS event
        JOIN alarms_alarm AS alarm ON alarm.id = event.alarm_id
        WHERE event.kind = ANY(%(activation_kinds)s) AND event.at >= %(start)s AND event.at < %(end)s
    ) AS alarm
    GROUP BY alarm.well_id, alarm.alarm_type
    HAVING max(alarm.recent) >= %(chatter_activations)s
) AS chattering
"""

# The pairs with the most activations in the window, most first (ties by well, then type).
TOP = """
SELECT well.well_id, alarm.alarm_type, count(*) AS activations
FROM alarms_alarmevent AS event
JOIN alarms_alarm AS alarm ON alarm.id = event.alarm_id
JOIN wells_well AS well ON well.id = alarm.well_id
WHERE event.kind = ANY(%(activation_kinds)s) AND event.at >= %(start)s AND event.at < %(end)s
GROUP BY well.well_id, alarm.alarm_type
ORDER BY activations DESC, well.well_id, alarm.alarm_type
LIMIT %(top)s
"""

# Alarms raised in the window: how many, how many got a first response from an operator (acknowledged
# or cleared — by anyone, whenever), and the median seconds from raising to that response.
RESPONSE = """
WITH raised AS (
    SELECT alarm.id, alarm.raised_at,
           (SELECT min(event.at) FROM alarms_alarmevent AS event
            WHERE event.alarm_id = alarm.id AND event.kind = ANY(%(response_kinds)s)
              AND event.actor_id IS NOT NULL) AS responded_at
    FROM alarms_alarm AS alarm
    WHERE alarm.raised_at >= %(start)s AND alarm.raised_at < %(end)s
)
SELECT count(*) AS raised,
       count(responded_at) AS responded,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM responded_at - raised_at)) AS median_seconds
FROM raised
"""


def alarm_kpis(*, days, now):
    """The KPIs of the ``days`` before ``now`` (1–MAX_DAYS), as a dict ready for the API."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    start = now - datetime.timedelta(days=days)
    params = {
        "start": start,
        "end": now,
        "bucket": BUCKET,
        "flood_above": FLOOD_ABOVE_PER_BUCKET,
        "standing_after": STANDING_AFTER,
        "chatter_within": CHATTER_WITHIN,
        "chatter_activations": CHATTER_ACTIVATIONS,
        "activation_kinds": ACTIVATION_KINDS,
        "response_kinds": RESPONSE_KINDS,
        "top": TOP_PAIRS,
    }
    with connection.cursor() as cursor:
        cursor.execute(RATES, params)
        buckets, activations, average, peak, flood_buckets = cursor.fetchone()
        cursor.execute(STANDING, params)
        (standing,) = cursor.fetchone()
        cursor.execute(CHATTERING, params)
        (chattering,) = cursor.fetchone()
        cursor.execute(TOP, params)
        top = cursor.fetchall()
        cursor.execute(RESPONSE, params)
        raised, responded, median_seconds = cursor.fetchone()
    return {
        "days": days,
        "start": start,
        "end": now,
        "activations": activations,
        "alarms_raised": raised,
        "average_per_10_min": round(float(average), 3),
        "peak_per_10_min": peak,
        "flood_share": round(flood_buckets / buckets, 4) if buckets else 0.0,
        "standing_alarms": standing,
        "chattering_alarms": chattering,
        "top_alarms": [
            {
                "well_id": well_id,
                "alarm_type": alarm_type,
                "activations": count,
                "share": round(count / activations, 4),
            }
            for well_id, alarm_type, count in top
        ],
        "acknowledged_share": round(responded / raised, 4) if raised else None,
        "median_time_to_acknowledge_seconds": round(median_seconds, 1) if median_seconds is not None else None,
        "thresholds": {
            "flood_above_per_10_min": FLOOD_ABOVE_PER_BUCKET,
            "standing_after_hours": STANDING_AFTER.total_seconds() / 3600,
            "chatter_activations": CHATTER_ACTIVATIONS,
            "chatter_within_minutes": CHATTER_WITHIN.total_seconds() / 60,
        },
    }
