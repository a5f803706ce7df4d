"""The auth API: sign in, refresh, sign out, who am I, user management and the audit log.

Views parse the body and shape the answer; the work is in ``accounts.signin``, ``accounts.tokens``
and ``accounts.users``.
"""

import dataclasses

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError

from accounts import audit, signin, tokens
from accounts.api.serializers import (
    AuditFilterSerializer,
    AuthEventSerializer,
    ChangeEventSerializer,
    ChangeFilterSerializer,
    CredentialsSerializer,
    LoginResponseSerializer,
    RefreshTokenSerializer,
    TokenPairSerializer,
    UserAccountSerializer,
    UserCreateSerializer,
    UserUpdateSerializer,
)
from accounts.models import AuthEvent, AuthEventKind, ChangeEvent
from accounts.permissions import IsAdmin, IsSignedIn
from accounts.roles import role_of
from config.errors import error_body

INVALID_CREDENTIALS = "Invalid username or password."
REFRESH_REFUSED = "Invalid, expired or already used refresh token."
SIGN_IN_LOCKED = "Too many refused sign-ins for this username or address."
BEARER_CHALLENGE = 'Bearer realm="api"'

# Example values for the docs. They are placeholders, not working tokens.
ACCESS_EXAMPLE = "eyJhbGciOiJIUzI1NiJ9.<access-claims>.<signature>"
REFRESH_EXAMPLE = "eyJhbGciOiJIUzI1NiJ9.<refresh-claims>.<signature>"
TOKEN_PAIR_EXAMPLE = {
    "access_token": ACCESS_EXAMPLE,
    "refresh_token": REFRESH_EXAMPLE,
    "token_type": "Bearer",
    "expires_in": 900,
}
USER_EXAMPLE = {
    "id": 7,
    "username": "omar_operator",
    "email": "omar@example.com",
    "role": "operator",
    "is_active": True,
    "last_login": "2025-06-01T08:15:00Z",
    "date_joined": "2025-03-14T10:00:00Z",
}
# 400, 401, 403 and 404 and their error body are documented for every operation by config.schema.


@extend_schema(
    tags=["Auth"],
    summary="Sign in with a username and password",
    description=(
        "Returns a short-lived access token and a refresh token. Wrong password and unknown user get the "
        "same answer. Five refused sign-ins for a username within 15 minutes lock it for the rest of that "
        "window (429 with Retry-After), as do twenty from one IP."
    ),
    request=CredentialsSerializer,
    responses={
        200: LoginResponseSerializer,
        401: OpenApiResponse(description="Wrong username or password."),
        429: OpenApiResponse(description="Locked after too many refused sign-ins; see Retry-After."),
    },
    examples=[
        OpenApiExample(
            "Credentials", value={"username": "omar_operator", "password": "<your password>"}, request_only=True
        ),
        OpenApiExample(
            "Signed in",
            value={**TOKEN_PAIR_EXAMPLE, "user": {"id": 7, "username": "omar_operator", "role": "operator"}},
            response_only=True,
            status_codes=["200"],
        ),
        OpenApiExample(
            "Refused",
            value=error_body("authentication_failed", INVALID_CREDENTIALS),
            response_only=True,
            status_codes=["401"],
        ),
        OpenApiExample(
            "Locked",
            value=error_body("throttled", f"{SIGN_IN_LOCKED} Expected available in 840 seconds."),
            response_only=True,
            status_codes=["429"],
        ),
    ],
)
class LoginView(APIView):
    authentication_classes = []  # a stale token in the header must not stand in the way of signing in
    permission_classes = [AllowAny]  # signing in is how a caller gets a role

    def get_authenticate_header(self, request):
        return BEARER_CHALLENGE  # without authenticators DRF would turn the refusal's 401 into a 403

    def post(self, request):
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        try:
            user, issued = signin.sign_in(request, **credentials.validated_data)
        except signin.SignInThrottled as locked:
            raise exceptions.Throttled(locked.retry_after, SIGN_IN_LOCKED) from None
        except signin.SignInRefused:
            raise exceptions.AuthenticationFailed(INVALID_CREDENTIALS, code="invalid_credentials") from None
        role = role_of(user)
        body = {
            **dataclasses.asdict(issued),
            "user": {"id": user.pk, "username": user.get_username(), "role": role.group_name if role else None},
        }
        return Response(LoginResponseSerializer(body).data)


@extend_schema(
    tags=["Auth"],
    summary="Exchange a refresh token for a new token pair",
    description="The refresh token given is spent: using it a second time is refused with 401.",
    request=RefreshTokenSerializer,
    responses={200: TokenPairSerializer, 401: OpenApiResponse(description="The refresh token is not valid.")},
    examples=[
        OpenApiExample("Refresh token", value={"refresh_token": REFRESH_EXAMPLE}, request_only=True),
        OpenApiExample("New pair", value=TOKEN_PAIR_EXAMPLE, response_only=True, status_codes=["200"]),
        OpenApiExample(
            "Refused",
            value=error_body("authentication_failed", REFRESH_REFUSED),
            response_only=True,
            status_codes=["401"],
        ),
    ],
)
class RefreshView(APIView):
    authentication_classes = []  # the refresh token in the body is the credential
    permission_classes = [AllowAny]  # the refresh token proves who the caller is

    def get_authenticate_header(self, request):
        return BEARER_CHALLENGE  # without authenticators DRF would turn the refusal's 401 into a 403

    def post(self, request):
        body = RefreshTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            user, issued = tokens.rotate(body.validated_data["refresh_token"])
        except TokenError:
            raise exceptions.AuthenticationFailed(REFRESH_REFUSED, code="refresh_refused") from None
        audit.record(AuthEventKind.REFRESH, user=user, actor=user, request=request)
        return Response(TokenPairSerializer(dataclasses.asdict(issued)).data)


@extend_schema(
    tags=["Auth"],
    summary="Sign out: the access token used and the refresh token given stop working",
    request=RefreshTokenSerializer,
    responses={204: None},
    examples=[OpenApiExample("Refresh token", value={"refresh_token": REFRESH_EXAMPLE}, request_only=True)],
)
class LogoutView(APIView):
    permission_classes = [IsSignedIn]  # anyone may end their own session, with or without a role

    def post(self, request):
        body = RefreshTokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            tokens.log_out(request.user, request.auth, body.validated_data["refresh_token"])
        except TokenError:
            raise serializers.ValidationError({"refresh_token": ["This is not a refresh token of yours."]}) from None
        audit.record(AuthEventKind.LOGOUT, user=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["Auth"],
    summary="The signed-in user, with role and last sign-in",
    responses={200: UserAccountSerializer},
    examples=[OpenApiExample("Operator", value=USER_EXAMPLE, response_only=True)],
)
class MeView(APIView):
    permission_classes = [IsSignedIn]  # a user without a role may still ask who they are

    def get(self, request):
        return Response(UserAccountSerializer(request.user).data)


USER_CREATE_EXAMPLE = {
    "username": "omar_operator",
    "email": "omar@example.com",
    "password": "<at least 12 characters, not common>",
    "role": "operator",
}


@extend_schema_view(
    list=extend_schema(
        summary="List users with their roles (admin)",
        responses={200: UserAccountSerializer(many=True)},
        examples=[OpenApiExample("Users", value=USER_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Create a user with a role (admin)",
        request=UserCreateSerializer,
        responses={201: UserAccountSerializer},
        examples=[
            OpenApiExample("New operator", value=USER_CREATE_EXAMPLE, request_only=True),
            OpenApiExample("Created", value=USER_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    ),
    retrieve=extend_schema(
        summary="Get one user (admin)",
        responses={200: UserAccountSerializer},
        examples=[OpenApiExample("Operator", value=USER_EXAMPLE, response_only=True)],
    ),
    partial_update=extend_schema(
        summary="Change a user's role, deactivate them or set their password (admin)",
        description="Deactivating a user or setting their password revokes every token they hold.",
        request=UserUpdateSerializer,
        responses={200: UserAccountSerializer},
        examples=[
            OpenApiExample("Promote to admin", value={"role": "admin"}, request_only=True),
            OpenApiExample("Deactivate", value={"is_active": False}, request_only=True),
            OpenApiExample("Updated", value={**USER_EXAMPLE, "role": "admin"}, response_only=True),
        ],
    ),
)
@extend_schema(tags=["Auth"])
class UserViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """User accounts. Users are deactivated, never deleted, so their audit trail keeps its meaning."""

    permission_classes = [IsAdmin]
    queryset = get_user_model().objects.prefetch_related("groups").order_by("username")
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = r"[0-9]+"

    def get_serializer_class(self):
        if self.action == "create":
            return UserCreateSerializer
        if self.action == "partial_update":
            return UserUpdateSerializer
        return UserAccountSerializer


AUDIT_EXAMPLE = {
    "id": 4211,
    "timestamp": "2025-06-01T08:15:00Z",
    "event": "login_failed",
    "username": "omar_operator",
    "actor": None,
    "ip_address": "203.0.113.7",
    "user_agent": "scada-bridge/2.1",
    "details": {"reason": "wrong_password"},
}


@extend_schema(
    tags=["Auth"],
    summary="The sign-in audit log, newest first (admin)",
    parameters=[AuditFilterSerializer],
    responses={200: AuthEventSerializer(many=True)},
    examples=[OpenApiExample("A refused sign-in", value=AUDIT_EXAMPLE, response_only=True)],
)
class AuditLogView(generics.ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = AuthEventSerializer

    def get_queryset(self):
        filters = AuditFilterSerializer.validated(self.request)
        return AuthEvent.objects.select_related("actor").matching(**filters)


CHANGE_EXAMPLE = {
    "id": 311,
    "timestamp": "2026-11-30T06:02:11.482Z",
    "action": "changed",
    "model": "wells.well",
    "object_id": "17",
    "object_repr": "W-0017",
    "actor_username": "j.alharbi",
    "via": "admin",
    "request_method": "POST",
    "request_path": "/admin/wells/well/17/change/",
    "ip_address": "203.0.113.7",
    "user_agent": "Mozilla/5.0",
    "before": {"status": "producing"},
    "after": {"status": "shut_in"},
}


@extend_schema(
    tags=["Auth"],
    summary="The change audit trail, newest first (admin)",
    description="Every create, change and delete of wells, alarm actions, out-of-service entries, notification "
    "receivers, users and roles, periodic tasks and backups — through the API, the admin, the dashboards or a "
    'task — with who, when, from where and the changed fields before and after. Secrets show as "(changed)". '
    "Kept AUDIT_RETENTION_DAYS days.",
    parameters=[ChangeFilterSerializer],
    responses={
        200: ChangeEventSerializer(many=True),
        400: OpenApiResponse(description="A filter is invalid; errors names it."),
    },
    examples=[OpenApiExample("A well shut in from the admin", value=CHANGE_EXAMPLE, response_only=True)],
)
class ChangeLogView(generics.ListAPIView):
    permission_classes = [IsAdmin]
    serializer_class = ChangeEventSerializer

    def get_queryset(self):
        return ChangeEvent.objects.matching(**ChangeFilterSerializer.validated(self.request))
