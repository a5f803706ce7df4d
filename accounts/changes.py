"""The change audit trail: every create, change and delete of the records people care about, with who,
when, from where (API, admin, dashboards or a task) and the changed fields before and after.

Apps name their audited models in their AppConfig, as they do their admin rights:

- ``audited_models``: every change is recorded, whoever or whatever makes it;
- ``audited_models_changed_by_people``: only changes made in a request (API, admin, dashboards) —
  alarms, whose machine-made steps have their own trail (``alarms.AlarmEvent``).

Receivers on Django's model signals do the recording, so a change is audited whichever path makes it.
Queryset ``update()`` and ``bulk_create()`` send no signals: audited models must not be changed that way
by people-facing code. The row is written in the same transaction as the change it describes.
"""

import json
import logging
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.utils import timezone

from accounts.audit import client_ip, current_request, user_agent
from accounts.models import AuthEvent, ChangeAction, ChangeChannel, ChangeEvent

logger = logging.getLogger("accounts.changes")

# Never copied into the trail: a change to one of these shows as "(changed)".
SECRET_FIELDS = frozenset({"password", "secret"})
# Changed by every sign-in (sign-ins are AuthEvents) or by every save (the event has its own time).
IGNORED_FIELDS = frozenset({"last_login", "updated_at"})
HIDDEN_VALUE = "(changed)"

OBJECT_REPR_MAX_LENGTH = ChangeEvent._meta.get_field("object_repr").max_length
PATH_MAX_LENGTH = ChangeEvent._meta.get_field("request_path").max_length

# The trail's append-only trigger lets a DELETE through only while this is set in the transaction.
PRUNING_SETTING = "accounts.pruning_audit"


def _channel(request):
    if request is None:
        return ChangeChannel.SYSTEM
    if request.path.startswith("/api/"):
        return ChangeChannel.API
    if request.path.startswith("/admin/"):
        return ChangeChannel.ADMIN
    return ChangeChannel.DASHBOARD


def _json_safe(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _fields(model):
    return [field for field in model._meta.concrete_fields if field.name not in IGNORED_FIELDS]


def _snapshot(instance):
    """The instance's audited field values, JSON-ready, keyed by attribute name (``well_id`` for a key)."""
    return {field.attname: _json_safe(field.value_from_object(instance)) for field in _fields(type(instance))}


def _stored_snapshot(model, pk):
    stored = model._default_manager.filter(pk=pk).first()
    return _snapshot(stored) if stored is not None else None


def _redacted(values):
    return {name: HIDDEN_VALUE if name in SECRET_FIELDS else value for name, value in values.items()}


def _differences(before, after):
    """The fields whose values differ, before and after (redacted); two empty dicts when none do."""
    changed = sorted(name for name in after if before.get(name) != after[name])
    return _redacted({name: before.get(name) for name in changed}), _redacted({name: after[name] for name in changed})


def record(instance, action, before, after):
    """Writes one ChangeEvent for ``instance``; returns it."""
    request = current_request()
    caller = getattr(request, "user", None) if request is not None else None
    actor = caller if caller is not None and caller.is_authenticated else None
    entry = ChangeEvent.objects.create(
        action=action,
        model=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:OBJECT_REPR_MAX_LENGTH],
        actor=actor,
        actor_username=actor.get_username() if actor is not None else "",
        via=_channel(request),
        request_method=request.method if request is not None else "",
        request_path=request.path[:PATH_MAX_LENGTH] if request is not None else "",
        ip_address=client_ip(request) if request is not None else None,
        user_agent=user_agent(request) if request is not None else "",
        before=before,
        after=after,
    )
    logger.info(
        "change %s %s %s by %r via %s fields=%s",
        action,
        entry.model,
        entry.object_id,
        entry.actor_username or None,
        entry.via,
        sorted((after or before or {}).keys()),
    )
    return entry


def _people_only(sender):
    return sender in _audited_when_people_change


def _skip(sender, raw):
    return raw or (_people_only(sender) and current_request() is None)


def _remember_stored(sender, instance, raw, **kwargs):
    if _skip(sender, raw):
        return
    adding = instance._state.adding or instance.pk is None
    instance._audit_before = None if adding else _stored_snapshot(sender, instance.pk)


def _record_save(sender, instance, created, raw, **kwargs):
    if _skip(sender, raw):
        return
    # As stored, not as held in memory: a decimal typed as 49.2 is stored as 49.200000.
    after = _stored_snapshot(sender, instance.pk)
    before = getattr(instance, "_audit_before", None)
    if created or before is None:
        record(instance, ChangeAction.CREATED, None, _redacted(after))
    else:
        changed_before, changed_after = _differences(before, after)
        if changed_after:
            record(instance, ChangeAction.CHANGED, changed_before, changed_after)


def _record_delete(sender, instance, **kwargs):
    if _people_only(sender) and current_request() is None:
        return
    record(instance, ChangeAction.DELETED, _redacted(_snapshot(instance)), None)


def _related_names(instance, field_name):
    return sorted(str(related) for related in getattr(instance, field_name).all())


def _record_membership(sender, instance, action, reverse, model, pk_set, **kwargs):
    """Group membership and permissions: the set of names before and after, as one change of the field."""
    owner = type(instance)
    if reverse or owner not in _audited_relations.get(sender, set()):
        return
    field_name = _audited_relations_field[(sender, owner)]
    if action in ("pre_add", "pre_remove", "pre_clear"):
        instance._audit_related_before = _related_names(instance, field_name)
    elif action in ("post_add", "post_remove", "post_clear"):
        before = getattr(instance, "_audit_related_before", [])
        after = _related_names(instance, field_name)
        if before != after:
            record(instance, ChangeAction.CHANGED, {field_name: before}, {field_name: after})


_audited_when_people_change = set()
_audited_relations = {}
_audited_relations_field = {}


def _model(app_config, name):
    return apps.get_model(name) if "." in name else app_config.get_model(name)


def connect():
    """Connects the receivers for every model the apps declare audited (called once, from accounts' ready)."""
    for app_config in apps.get_app_configs():
        always = [_model(app_config, name) for name in getattr(app_config, "audited_models", [])]
        by_people = [_model(app_config, name) for name in getattr(app_config, "audited_models_changed_by_people", [])]
        _audited_when_people_change.update(by_people)
        for model in always + by_people:
            uid = f"accounts.changes.{model._meta.label_lower}"
            pre_save.connect(_remember_stored, sender=model, dispatch_uid=f"{uid}.pre_save")
            post_save.connect(_record_save, sender=model, dispatch_uid=f"{uid}.post_save")
            post_delete.connect(_record_delete, sender=model, dispatch_uid=f"{uid}.post_delete")
            for field in model._meta.many_to_many:
                through = field.remote_field.through
                _audited_relations.setdefault(through, set()).add(model)
                _audited_relations_field[(through, model)] = field.name
                m2m_changed.connect(_record_membership, sender=through, dispatch_uid=f"{uid}.{field.name}")


def prune(now=None):
    """Deletes change and sign-in events older than AUDIT_RETENTION_DAYS; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [PRUNING_SETTING])
        changes, _ = ChangeEvent.objects.filter(timestamp__lt=cutoff).delete()
        sign_ins, _ = AuthEvent.objects.filter(timestamp__lt=cutoff).delete()
    logger.info("audit retention: deleted %d change and %d sign-in events before %s", changes, sign_ins, cutoff)
    return changes + sign_ins
