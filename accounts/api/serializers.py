"""Request and response bodies of the auth API. Response shapes follow the original platform's
(``access_token``, ``refresh_token``, ``user``...) so existing integrations keep working."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import users
from accounts.models import AuthEvent, AuthEventKind, ChangeAction, ChangeChannel, ChangeEvent
from accounts.roles import ROLE_NAMES, Role, account_role
from config.params import QueryParams

User = get_user_model()

USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length
# Long enough for any passphrase, short enough that hashing it costs nothing unusual
# (Django capped passwords at 4096 characters for the same reason in 2013).
PASSWORD_MAX_LENGTH = 4096
# A JWT from this platform is a few hundred characters.
TOKEN_MAX_LENGTH = 2048


def password_field(**kwargs):
    return serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
        **kwargs,
    )


def role_field(**kwargs):
    return serializers.ChoiceField(
        choices=ROLE_NAMES, help_text="viewer: read; operator: viewer + writes; admin: everything.", **kwargs
    )


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=USERNAME_MAX_LENGTH)
    password = password_field()


class RefreshTokenSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=TOKEN_MAX_LENGTH, write_only=True)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField(help_text="Send as `Authorization: Bearer <access_token>`.")
    refresh_token = serializers.CharField(help_text="Exchange once at /api/v1/auth/refresh for a new pair.")
    token_type = serializers.CharField(help_text='Always "Bearer".')
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class SignedInUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=ROLE_NAMES, allow_null=True)


class LoginResponseSerializer(TokenPairSerializer):
    user = SignedInUserSerializer()


class UserAccountSerializer(serializers.ModelSerializer):
    """A user as the API shows it: never the password hash."""

    role = serializers.SerializerMethodField()
    # What is on file, as stored: "" when there is none (input is validated as an address elsewhere).
    email = serializers.CharField(read_only=True, help_text='The email address on file; "" when there is none.')

    class Meta:
        model = User
        fields = ["id", "username", "email", "role", "is_active", "last_login", "date_joined"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=ROLE_NAMES, allow_null=True))
    def get_role(self, user):
        """The account's role (kept while it is inactive); null for a user without one."""
        role = account_role(user)
        return role.group_name if role is not None else None


def _validated_password(password, user):
    try:
        validate_password(password, user)
    except DjangoValidationError as error:
        raise serializers.ValidationError({"password": list(error.messages)}) from None
    return password


class UserCreateSerializer(serializers.ModelSerializer):
    password = password_field()
    role = role_field()

    class Meta:
        model = User
        fields = ["username", "email", "password", "role"]

    def validate(self, attrs):
        _validated_password(attrs["password"], User(username=attrs["username"], email=attrs.get("email", "")))
        return attrs

    def create(self, validated_data):
        return users.create_user(
            username=validated_data["username"],
            email=validated_data.get("email", ""),
            password=validated_data["password"],
            role=Role.from_name(validated_data["role"]),
            request=self.context.get("request"),
        )

    def to_representation(self, instance):
        return UserAccountSerializer(instance, context=self.context).data


class UserUpdateSerializer(serializers.Serializer):
    """The changes an admin may make to a user; each field is optional."""

    role = role_field(required=False)
    is_active = serializers.BooleanField(required=False, help_text="false deactivates and revokes all tokens.")
    password = password_field(required=False, help_text="A new password; revokes all of the user's tokens.")
    email = serializers.EmailField(required=False, allow_blank=True)

    def validate(self, attrs):
        user, caller = self.instance, self.context["request"].user
        if "role" in attrs:
            try:
                users.check_role_allowed(user, Role.from_name(attrs["role"]))
            except DjangoValidationError as error:
                raise serializers.ValidationError({"role": error.messages}) from None
        # An admin locking themselves out would leave nobody to undo it.
        if user.pk == caller.pk and attrs.get("is_active") is False:
            raise serializers.ValidationError({"is_active": "You can't deactivate your own account."})
        if user.pk == caller.pk and attrs.get("role", Role.ADMIN.group_name) != Role.ADMIN.group_name:
            raise serializers.ValidationError({"role": "You can't take away your own admin role."})
        if "password" in attrs:
            _validated_password(attrs["password"], user)
        return attrs

    def update(self, instance, validated_data):
        role = validated_data.get("role")
        return users.update_user(
            instance,
            role=Role.from_name(role) if role else None,
            is_active=validated_data.get("is_active"),
            password=validated_data.get("password"),
            email=validated_data.get("email"),
            request=self.context.get("request"),
        )

    def to_representation(self, instance):
        return UserAccountSerializer(instance, context=self.context).data


class AuthEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who did it (username): the user for their own sign-in, an administrator for changes; "
        "null for anonymous callers, management commands and deleted users.",
    )

    class Meta:
        model = AuthEvent
        fields = ["id", "timestamp", "event", "username", "actor", "ip_address", "user_agent", "details"]
        read_only_fields = fields


class TimeWindowParams(QueryParams):
    """The ``since`` and ``until`` query parameters of an audit trail."""

    since = serializers.DateTimeField(required=False, help_text="Events at or after this time (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Events before this time (ISO 8601).")

    def validate(self, attrs):
        if "since" in attrs and "until" in attrs and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": "until must be later than since."})
        return attrs


class AuditFilterSerializer(TimeWindowParams):
    """Query parameters of the sign-in audit log."""

    username = serializers.CharField(
        required=False, max_length=USERNAME_MAX_LENGTH, help_text="Events about this account (exact username)."
    )
    event = serializers.ChoiceField(choices=AuthEventKind.values, required=False, help_text="Only this kind of event.")


class ChangeEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChangeEvent
        fields = [
            "id",
            "timestamp",
            "action",
            "model",
            "object_id",
            "object_repr",
            "actor_username",
            "via",
            "request_method",
            "request_path",
            "ip_address",
            "user_agent",
            "before",
            "after",
        ]
        read_only_fields = fields


class ChangeFilterSerializer(TimeWindowParams):
    """Query parameters of the change audit trail."""

    model = serializers.CharField(
        required=False, max_length=100, help_text="Changes to this kind of record, e.g. wells.well or auth.user."
    )
    object_id = serializers.CharField(required=False, max_length=255, help_text="Changes to this record (its key).")
    actor = serializers.CharField(
        required=False, max_length=USERNAME_MAX_LENGTH, help_text="Changes made by this account (exact username)."
    )
    action = serializers.ChoiceField(choices=ChangeAction.values, required=False, help_text="Only this action.")
    via = serializers.ChoiceField(
        choices=ChangeChannel.values, required=False, help_text="Only changes made through this channel."
    )
