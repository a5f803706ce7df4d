"""Query filters of the wells API, declared once: the view applies them and the schema documents them."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError

from config.params import not_a_choice
from wells.models import Well, WellStatus

STATUS_ERROR = not_a_choice('"%(value)s"', WellStatus.values)


class _WellFilterForm(forms.Form):
    def clean_status(self):
        # Given empty is an unknown status too, as for every API parameter (config.params).
        status = self.cleaned_data["status"]
        if status == "" and "status" in self.data:
            raise ValidationError(STATUS_ERROR, code="invalid_choice", params={"value": ""})
        return status


class WellFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=WellStatus.choices,
        error_messages={"invalid_choice": STATUS_ERROR},
        help_text="Only wells in this status.",
    )
    field = django_filters.CharFilter(
        lookup_expr="iexact", help_text="Only wells in this field / area (exact, case-insensitive)."
    )
    search = django_filters.CharFilter(method="search_id_or_name", help_text="Substring of the well ID or name.")

    class Meta:
        model = Well
        fields = ["status", "field", "search"]
        form = _WellFilterForm

    def search_id_or_name(self, wells, name, value):
        return wells.filter(well_id__icontains=value) | wells.filter(name__icontains=value)
