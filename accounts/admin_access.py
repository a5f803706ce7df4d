"""What each role may do in the Django admin, and what an editor may hand out there.

The API decides who may do what with ``accounts.permissions``; the Django admin decides with Django
permissions and ``is_staff``. So that a role means the same in both places:

- every user with a role is staff (``accounts.users.set_role``; role holders who aren't are made
  staff on migrate), so they can sign in to the admin;
- every ``migrate`` sets the role groups' permissions on the platform's models to exactly these:

  ========  ==============================================================================
  viewer    view every model of the platform's apps
  operator  viewer + add and change the models an app lists in ``operator_editable_models``
  admin     every permission on the platform's models, on this app's own models (the audit
            log, read-only in the admin anyway) and on users and groups
  ========  ==============================================================================

  Models an app lists in ``admin_only_models`` are left out of the viewer's and operator's share.

An app is one of the platform's when its AppConfig declares ``operator_editable_models`` (a list of
model names, possibly empty). This module reads those declarations and imports no domain app. The
grant runs for each app as Django creates its permissions on migrate, so a model added later gets
its rights on the migrate that creates it. Edit the declaration, not the role groups: the admin
shows them read-only and the next migrate would undo a change anyway.

Superusers keep every permission whatever their groups. Beyond their groups, nobody who isn't a
superuser gets Django permissions from the platform, so third-party admin pages (periodic tasks,
the token blacklist) stay with superusers. And an editor who isn't a superuser can hand out only
the permissions they hold (``grantable_permissions``, ``grantable_groups``), so an admin can't grant
themselves or anyone else more than the admin role has.
"""

from pathlib import Path

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib.auth import get_permission_codename
from django.contrib.auth.models import Group, Permission
from django.core import checks
from django.db import DEFAULT_DB_ALIAS, router
from django.db.models import Q

from accounts.roles import ROLE_NAMES, Role

DECLARATION = "operator_editable_models"
ADMIN_ONLY_DECLARATION = "admin_only_models"

# Apps whose every model is the admin role's alone: Django's users and groups (managing users and
# roles) and this app's audit trail and token bookkeeping (the API shows the audit log to admins only).
ADMIN_ONLY_MODELS = {"auth": ["user", "group"], "accounts": None}  # None: every model of the app


def is_platform_app(app_config):
    return hasattr(app_config, DECLARATION)


def _codenames(model, actions):
    opts = model._meta
    return {get_permission_codename(action, opts) for action in actions if action in opts.default_permissions}


def _all_codenames(model):
    return _codenames(model, model._meta.default_permissions) | {codename for codename, _ in model._meta.permissions}


def role_rights(app_config):
    """{model name: {Role: set of permission codenames}} for the models of ``app_config`` whose role
    rights this module decides; empty for apps it leaves alone (third-party apps other than auth)."""
    models = {model._meta.model_name: model for model in app_config.get_models()}
    if app_config.label in ADMIN_ONLY_MODELS:
        names = ADMIN_ONLY_MODELS[app_config.label] or list(models)
        return {name: {Role.ADMIN: _all_codenames(models[name])} for name in names if name in models}
    if not is_platform_app(app_config):
        return {}
    editable = set(getattr(app_config, DECLARATION))
    admin_only = set(getattr(app_config, ADMIN_ONLY_DECLARATION, ()))
    rights = {}
    for name, model in models.items():
        viewer = set() if name in admin_only else _codenames(model, ["view"])
        operator = viewer | (_codenames(model, ["add", "change"]) if name in editable else set())
        rights[name] = {Role.VIEWER: viewer, Role.OPERATOR: operator, Role.ADMIN: _all_codenames(model)}
    return rights


def grant_role_permissions(app_config, using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs):
    """post_migrate receiver: sets the role groups' permissions on this app's models to ``role_rights``.

    Runs after Django's own receiver has created the app's permissions (auth is installed before
    accounts, so its receiver is connected first). Creates a missing role group (a test database
    flush deletes them).
    """
    rights = role_rights(app_config)
    if not rights:
        return
    try:  # the models as the migrations left them, like Django's own post_migrate receivers
        group_model = apps.get_model("auth", "Group")
        permission_model = apps.get_model("auth", "Permission")
    except LookupError:
        return
    if not router.allow_migrate_model(using, permission_model):
        return
    on_these_models = permission_model.objects.using(using).filter(
        content_type__app_label=app_config.label, content_type__model__in=list(rights)
    )
    permissions = {(p.content_type.model, p.codename): p for p in on_these_models.select_related("content_type")}
    for role in Role:
        wanted = {
            permission
            for (model, codename), permission in permissions.items()
            if codename in rights[model].get(role, set())
        }
        group, _ = group_model.objects.using(using).get_or_create(name=role.group_name)
        held = set(group.permissions.filter(pk__in=on_these_models))
        group.permissions.remove(*(held - wanted))
        group.permissions.add(*(wanted - held))


def make_role_holders_staff(app_config, using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs):
    """post_migrate receiver for the accounts app: gives admin access to users who got their role
    before a role implied it (or through a path that bypassed ``accounts.users.set_role``)."""
    try:
        user_model = apps.get_model(settings.AUTH_USER_MODEL)
    except LookupError:
        return
    if not router.allow_migrate_model(using, user_model):
        return
    user_model.objects.using(using).filter(is_staff=False, groups__name__in=ROLE_NAMES).update(is_staff=True)


def check_role_declarations(app_configs=None, **kwargs):
    """System check: declared model names exist, and every app of this project that has models has
    said what the roles may do with them (an undeclared app's models would be the superusers' alone)."""
    errors = []
    base_dir = Path(settings.BASE_DIR).resolve()
    for app_config in app_configs or global_apps.get_app_configs():
        if app_config.label in ADMIN_ONLY_MODELS:
            continue
        models = {model._meta.model_name for model in app_config.get_models()}
        if not is_platform_app(app_config):
            if models and Path(app_config.path).resolve().parent == base_dir:
                errors.append(
                    checks.Warning(
                        f"The {app_config.label} app's models are out of the platform roles' Django admin rights.",
                        hint=f"Declare {DECLARATION} (the models operators may add and change, possibly []) "
                        f"on {type(app_config).__name__}; see accounts/admin_access.py.",
                        obj=app_config,
                        id="accounts.W001",
                    )
                )
            continue
        for declaration in (DECLARATION, ADMIN_ONLY_DECLARATION):
            for name in set(getattr(app_config, declaration, ())) - models:
                errors.append(
                    checks.Error(
                        f"{type(app_config).__name__}.{declaration} names {name!r}, which is not a model of "
                        f"the {app_config.label} app.",
                        hint=f"Use model names in lower case: {', '.join(sorted(models)) or 'the app has none'}.",
                        obj=app_config,
                        id="accounts.E001",
                    )
                )
    return errors


def grantable_permissions(user):
    """The permissions ``user`` may hand out in the admin: every one for a superuser, else those they
    hold themselves, directly or through a group, so no one can give anyone more than they have."""
    if user.is_superuser:
        return Permission.objects.all()
    return Permission.objects.filter(Q(user=user) | Q(group__user=user)).distinct()


def grantable_groups(user):
    """The groups ``user`` may put people in or edit: those all of whose permissions they hold."""
    if user.is_superuser:
        return Group.objects.all()
    held = grantable_permissions(user).values("pk")
    return Group.objects.exclude(permissions__in=Permission.objects.exclude(pk__in=held))
