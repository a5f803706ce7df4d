"""The read-only readings page reached from a well's admin page."""

import datetime
import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from telemetry.ingest import ingest_readings, parse_batch
from tests.telemetry.conftest import batch_body, reading

pytestmark = pytest.mark.django_db


def readings_url(well):
    return f"/admin/wells/well/{well.pk}/readings/"


def shown_times(page):
    return re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)</td>", page)


def test_the_well_page_links_to_its_readings(staff_client, well):
    page = staff_client.get(f"/admin/wells/well/{well.pk}/change/").content.decode()
    assert f'href="{readings_url(well)}"' in page


def test_it_pages_readings_newest_first_by_time_without_counting(staff_client, well, second_well, now):
    start = now.replace(second=0) - datetime.timedelta(hours=5)
    minutes = [start + datetime.timedelta(minutes=m) for m in range(230)]
    ingest_readings(parse_batch(batch_body([reading(time=moment) for moment in minutes])))
    ingest_readings(parse_batch(batch_body([reading("WELL-002", now)])))
    newest_first = [moment.strftime("%Y-%m-%d %H:%M:%S") for moment in reversed(minutes)]

    with CaptureQueriesContext(connection) as queries:
        first = staff_client.get(readings_url(well))
    assert first.status_code == 200
    assert not any("COUNT(" in query["sql"].upper() for query in queries)
    assert shown_times(first.content.decode()) == newest_first[:100]

    second = staff_client.get(readings_url(well) + first.context["older_url"])
    assert shown_times(second.content.decode()) == newest_first[100:200]
    third = staff_client.get(readings_url(well) + second.context["older_url"])
    assert shown_times(third.content.decode()) == newest_first[200:]
    assert third.context["older_url"] is None


def test_it_refuses_a_before_that_is_not_a_time(staff_client, well):
    assert staff_client.get(readings_url(well), {"before": "last week"}).status_code == 400


def test_it_is_read_only(staff_client, well):
    assert staff_client.post(readings_url(well), {}).status_code == 405


def test_staff_without_the_well_view_permission_are_refused(client, well):
    user = User.objects.create_user("intern", password="a-long-enough-password-1", is_staff=True)
    client.force_login(user)
    assert client.get(readings_url(well)).status_code == 403
