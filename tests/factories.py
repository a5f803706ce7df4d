"""Factories for the platform's models, shared by every test folder."""

import datetime

import factory
from django.contrib.auth.models import Group, User

from wells.models import Well, WellStatus

TEST_PASSWORD = "correct-horse-battery-staple-42"


class WellFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Well

    well_id = factory.Sequence(lambda n: f"WELL-{n + 100:03d}")
    name = factory.Sequence(lambda n: f"Test Well {n}")
    field = "Ghawar"
    latitude = 25.5
    longitude = 49.2
    status = WellStatus.ACTIVE
    install_date = datetime.date(2024, 1, 1)
    timezone = "Asia/Riyadh"
    pump_model = "REDA D1050N"
    pump_stages = 180
    rated_flow_bpd = 1050.0
    min_operating_flow_bpd = 700.0
    max_operating_flow_bpd = 1350.0
    motor_nameplate_current_a = 48.0
    motor_temp_limit_c = 150.0
    vibration_limit_mm_s = 7.1


class UserFactory(factory.django.DjangoModelFactory):
    """A user; pass ``role="viewer"|"operator"|"admin"`` to put them in that role's group."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            # The groups come from a data migration, but a transactional test's flush deletes them.
            group, _ = Group.objects.get_or_create(name=extracted)
            self.groups.add(group)
        if create:
            self.save()
