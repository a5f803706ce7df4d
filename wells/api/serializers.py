from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from wells.models import Well, validate_operating_range

WELL_EXAMPLE = {
    "well_id": "WELL-001",
    "name": "Ghawar North 1",
    "field": "Ghawar",
    "latitude": "25.370000",
    "longitude": "49.230000",
    "status": "active",
    "install_date": "2025-03-14",
    "timezone": "Asia/Riyadh",
    "pump_model": "REDA D1050N",
    "pump_stages": 180,
    "rated_flow_bpd": 1050.0,
    "min_operating_flow_bpd": 700.0,
    "max_operating_flow_bpd": 1350.0,
    "motor_nameplate_current_a": 52.0,
    "motor_temp_limit_c": 150.0,
    "vibration_limit_mm_s": 7.1,
}


@extend_schema_serializer(examples=[OpenApiExample("An active well", value=WELL_EXAMPLE)])
class WellSerializer(serializers.ModelSerializer):
    """A well and its ESP specification. The public ``well_id`` is the key in URLs."""

    class Meta:
        model = Well
        fields = [
            "well_id",
            "name",
            "field",
            "latitude",
            "longitude",
            "status",
            "install_date",
            "timezone",
            "pump_model",
            "pump_stages",
            "rated_flow_bpd",
            "min_operating_flow_bpd",
            "max_operating_flow_bpd",
            "motor_nameplate_current_a",
            "motor_temp_limit_c",
            "vibration_limit_mm_s",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate(self, attrs):
        # Check the range against the stored value when a PATCH changes only one end of it.
        low = attrs.get("min_operating_flow_bpd", getattr(self.instance, "min_operating_flow_bpd", None))
        high = attrs.get("max_operating_flow_bpd", getattr(self.instance, "max_operating_flow_bpd", None))
        validate_operating_range(low, high)  # a Django ValidationError: DRF reports it as the field's error
        return attrs
