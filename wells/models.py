"""The wells registry: each producing well and the ESP string hanging in it."""

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

# Public identifiers travel in URLs and MQTT topics (esp/<well_id>/telemetry), so they are kept to
# upper-case letters, digits and one dash: WELL-001, RYD-0042.
WELL_ID_PATTERN = r"^[A-Z][A-Z0-9]{0,15}-[0-9]{3,6}$"
well_id_validator = RegexValidator(
    WELL_ID_PATTERN,
    "Enter an identifier like WELL-001: upper-case letters or digits, a dash, then 3 to 6 digits.",
)


def validate_timezone(value):
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone such as Asia/Riyadh.") from None


# The recommended operating range must not be upside down: the database constraint, Well.clean() and the
# API serializer all check this one rule.
OPERATING_RANGE_ORDERED = Q(min_operating_flow_bpd__lte=F("max_operating_flow_bpd"))
OPERATING_RANGE_MESSAGE = "The recommended minimum flow must not exceed the maximum."


def validate_operating_range(min_flow_bpd, max_flow_bpd):
    """Raise ValidationError on ``min_operating_flow_bpd`` when min > max; an end not given yet passes."""
    if min_flow_bpd is not None and max_flow_bpd is not None and min_flow_bpd > max_flow_bpd:
        raise ValidationError({"min_operating_flow_bpd": OPERATING_RANGE_MESSAGE})


class WellStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SHUT_IN = "shut_in", "Shut-in"
    MAINTENANCE = "maintenance", "Maintenance"
    DECOMMISSIONED = "decommissioned", "Decommissioned"


class WellQuerySet(models.QuerySet):
    def active(self):
        """Wells expected to be producing and reporting telemetry."""
        return self.filter(status=WellStatus.ACTIVE)


class Well(models.Model):
    """One producing oil well with one ESP string: a multistage pump driven by a downhole motor.

    The pump's specification (stages, rated flow, recommended operating range) and the motor's
    limits (nameplate current, temperature, vibration) are what diagnostics and scores compare
    telemetry against.
    """

    well_id = models.CharField(
        "well ID",
        max_length=24,
        unique=True,
        validators=[well_id_validator],
        help_text="Public identifier, e.g. WELL-001.",
    )
    name = models.CharField(max_length=120)
    field = models.CharField("field / area", max_length=120, help_text="Oil field or producing area.")
    latitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        max_digits=9, decimal_places=6, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    status = models.CharField(max_length=16, choices=WellStatus.choices, default=WellStatus.ACTIVE)
    install_date = models.DateField(
        help_text="Date the current ESP string was installed; readings before it are rejected."
    )
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], help_text="IANA time zone of the well site."
    )

    pump_model = models.CharField(max_length=120)
    pump_stages = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(1000)])
    rated_flow_bpd = models.FloatField("rated flow (bbl/d)", validators=[MinValueValidator(0.1)])
    min_operating_flow_bpd = models.FloatField("recommended minimum flow (bbl/d)", validators=[MinValueValidator(0)])
    max_operating_flow_bpd = models.FloatField("recommended maximum flow (bbl/d)", validators=[MinValueValidator(0.1)])
    motor_nameplate_current_a = models.FloatField("motor nameplate current (A)", validators=[MinValueValidator(0.1)])
    motor_temp_limit_c = models.FloatField(
        "motor temperature limit (°C)", validators=[MinValueValidator(20), MaxValueValidator(300)]
    )
    vibration_limit_mm_s = models.FloatField("vibration limit (mm/s)", validators=[MinValueValidator(0.1)])

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WellQuerySet.as_manager()

    class Meta:
        ordering = ["well_id"]
        indexes = [models.Index(fields=["status", "field"])]
        constraints = [
            models.CheckConstraint(
                condition=OPERATING_RANGE_ORDERED,
                name="well_operating_range_ordered",
                violation_error_message=OPERATING_RANGE_MESSAGE,
            ),
            models.CheckConstraint(
                condition=Q(rated_flow_bpd__gt=0)
                & Q(min_operating_flow_bpd__gte=0)
                & Q(motor_nameplate_current_a__gt=0)
                & Q(vibration_limit_mm_s__gt=0),
                name="well_pump_specs_positive",
            ),
            models.CheckConstraint(condition=Q(status__in=WellStatus.values), name="well_status_known"),
        ]

    def __str__(self):
        return f"{self.well_id} — {self.name}"

    def clean(self):
        super().clean()
        validate_operating_range(self.min_operating_flow_bpd, self.max_operating_flow_bpd)
