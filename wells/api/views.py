from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets

from accounts.permissions import RolePermission
from accounts.roles import Role
from wells.api.serializers import WellSerializer
from wells.filtersets import WellFilterSet
from wells.models import Well

# 400/401/403/404 and their error body are documented for every operation by config.schema.document_errors.
BAD_REQUEST = OpenApiResponse(description="A field or parameter is invalid; errors names each one.")
NOT_FOUND = OpenApiResponse(description="No well with that ID.")


@extend_schema_view(
    list=extend_schema(
        summary="List wells",
        responses={
            200: WellSerializer(many=True),
            400: BAD_REQUEST,
            404: OpenApiResponse(description="No such page: page is below 1 or past the last one."),
        },
    ),
    retrieve=extend_schema(summary="Get one well by its public ID", responses={200: WellSerializer, 404: NOT_FOUND}),
    create=extend_schema(
        summary="Register a well (operator or admin)", responses={201: WellSerializer, 400: BAD_REQUEST}
    ),
    update=extend_schema(
        summary="Replace a well's details (operator or admin)",
        responses={200: WellSerializer, 400: BAD_REQUEST, 404: NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Change some of a well's details (operator or admin)",
        responses={200: WellSerializer, 400: BAD_REQUEST, 404: NOT_FOUND},
    ),
    destroy=extend_schema(summary="Delete a well and its data (admin only)", responses={204: None, 404: NOT_FOUND}),
)
@extend_schema(tags=["Wells"])
class WellViewSet(viewsets.ModelViewSet):
    """The wells registry. Reads need a viewer, writes an operator, deletes an admin."""

    permission_classes = [RolePermission]
    required_roles = {
        "GET": Role.VIEWER,
        "POST": Role.OPERATOR,
        "PUT": Role.OPERATOR,
        "PATCH": Role.OPERATOR,
        "DELETE": Role.ADMIN,
    }
    serializer_class = WellSerializer
    queryset = Well.objects.all()
    filter_backends = [DjangoFilterBackend]
    filterset_class = WellFilterSet
    lookup_field = "well_id"
    lookup_value_regex = r"[A-Za-z0-9-]+"
