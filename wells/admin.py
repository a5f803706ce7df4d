from django.contrib import admin

from wells.models import Well


@admin.register(Well)
class WellAdmin(admin.ModelAdmin):
    list_display = [
        "well_id",
        "name",
        "field",
        "status",
        "pump_model",
        "rated_flow_bpd",
        "operating_range",
        "install_date",
    ]
    list_filter = ["status", "field", "pump_model"]
    search_fields = ["well_id", "name", "field", "pump_model"]
    ordering = ["well_id"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["well_id", "name", "field", "status", "install_date", "timezone"]}),
        ("Location", {"fields": ["latitude", "longitude"]}),
        (
            "ESP string",
            {
                "fields": [
                    "pump_model",
                    "pump_stages",
                    "rated_flow_bpd",
                    ("min_operating_flow_bpd", "max_operating_flow_bpd"),
                    "motor_nameplate_current_a",
                    "motor_temp_limit_c",
                    "vibration_limit_mm_s",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Operating range (bbl/d)")
    def operating_range(self, well):
        return f"{well.min_operating_flow_bpd:,.0f} – {well.max_operating_flow_bpd:,.0f}"
