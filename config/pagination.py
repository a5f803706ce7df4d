"""Pagination shared by the list endpoints."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class StrictPageSize:
    """A ``page_size`` that is not a whole number of at least 1 is a 400 naming it, not silently the default
    (DRF's own behaviour), so a client's mistake shows; more than ``max_page_size`` is cut to it. A ``page``
    sent empty is a 400 too, as every empty query parameter is (config/params.py)."""

    def paginate_queryset(self, queryset, request, view=None):
        page_param = getattr(self, "page_query_param", None)
        if page_param and request.query_params.get(page_param) == "":
            raise ValidationError({page_param: ["A page number from 1."]})
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
            if parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"]["minimum"] = 1
        return parameters


class StandardPagination(StrictPageSize, PageNumberPagination):
    """Pages of 50 by default; clients may ask for up to 500 with ``page_size`` (more is cut to 500)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
