"""Django admin for the diagnostics engine's findings: read-only, filterable, the evidence in full."""

from django.contrib import admin

from analytics.models import DiagnosticResult


@admin.register(DiagnosticResult)
class DiagnosticResultAdmin(admin.ModelAdmin):
    """Findings are computed: engineers filter and read them (with the figures behind each), never edit."""

    list_display = ["detected_at", "well", "diagnostic_type", "severity", "confidence", "window_end"]
    list_filter = ["severity", "diagnostic_type", "well__field"]
    search_fields = ["well__well_id", "well__name"]
    list_select_related = ["well"]
    date_hierarchy = "detected_at"
    readonly_fields = [field.name for field in DiagnosticResult._meta.fields]
    show_full_result_count = False  # the table grows by thousands a day: no COUNT(*) per page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
