"""What the analytics app keeps: the findings of the ESP diagnostics engine.

The rollups (telemetry_hourly, telemetry_daily, well_performance_hourly, diagnostic_summary_daily)
are database relations built by this app's migrations (see ``analytics/rollups``), read with SQL,
not Django models.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from wells.models import Well


class DiagnosticType(models.TextChoices):
    GAS_LOCK = "gas_lock", "Gas lock"
    GAS_INTERFERENCE = "gas_interference", "Gas interference"
    PUMP_OFF = "pump_off", "Pump-off"
    BROKEN_SHAFT = "broken_shaft", "Broken shaft"
    TUBING_LEAK = "tubing_leak", "Tubing leak"
    PLUGGED_INTAKE = "plugged_intake", "Plugged intake"
    DEADHEAD = "deadhead", "Deadhead (closed valve)"
    SCALE_WEAR = "scale_wear", "Scale or pump wear"
    OVERLOAD = "overload", "Motor overload"
    HIGH_MOTOR_TEMP = "high_motor_temp", "High motor temperature"
    HIGH_VIBRATION = "high_vibration", "High vibration"
    POWER_TRIP = "power_trip", "Power trip"
    STALE_SENSOR = "stale_sensor", "Stale sensor"
    FREQUENT_RESTARTS = "frequent_restarts", "Frequent restarts"
    OUT_OF_RANGE = "out_of_range", "Outside the recommended range"
    NO_DATA = "no_data", "No data"
    ANOMALY = "anomaly", "Anomaly against the well's baseline"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class DiagnosticResult(models.Model):
    """One condition the diagnostics engine found on a well's pump over a window of telemetry.

    ``evidence`` holds the figures that led to the finding (e.g. the drop in motor current and
    flow), so an engineer can check the diagnosis before sending a rig.
    """

    well = models.ForeignKey(Well, on_delete=models.CASCADE, related_name="diagnostic_results")
    detected_at = models.DateTimeField(db_index=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    diagnostic_type = models.CharField(max_length=32, choices=DiagnosticType.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    confidence = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    evidence = models.JSONField(default=dict, blank=True)
    recommended_action = models.TextField(blank=True)

    class Meta:
        ordering = ["-detected_at"]
        indexes = [models.Index(fields=["well", "detected_at"], name="diagnostic_well_time")]
        constraints = [
            models.CheckConstraint(condition=Q(window_start__lte=F("window_end")), name="diagnostic_window_ordered"),
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="diagnostic_confidence_0_1"
            ),
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="diagnostic_severity_known"),
            # A run is keyed by its window: a retried or overlapping run finds the row already there.
            models.UniqueConstraint(
                fields=["well", "diagnostic_type", "window_end"], name="diagnostic_once_per_window"
            ),
        ]

    def __str__(self):
        return f"{self.get_diagnostic_type_display()} on {self.well.well_id} at {self.detected_at:%Y-%m-%d %H:%M}"
