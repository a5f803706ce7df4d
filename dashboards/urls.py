"""The dashboards' URLs, mounted at the site root. Every view here answers with the dashboards'
Content-Security-Policy; every one but sign-in and sign-out names the role it needs (``dashboards.access``).
"""

from django.urls import path

from dashboards import views
from dashboards.csp import content_security_policy

app_name = "dashboards"


def page(route, view, name):
    return path(route, content_security_policy(view), name=name)


urlpatterns = [
    page("login", views.SignInView.as_view(), "login"),
    page("logout", views.SignOutView.as_view(), "logout"),
    page("", views.fleet_overview, "fleet"),
    page("wells/<str:well_id>/", views.well_detail, "well"),
    page("wells/<str:well_id>/charts.json", views.well_chart_data, "well-chart-data"),
    page("rankings/", views.ranking, "rankings"),
    page("alarms/", views.alarm_list, "alarms"),
    page("alarms/<int:pk>/acknowledge", views.acknowledge_alarm, "alarm-acknowledge"),
    page("alarms/<int:pk>/shelve", views.shelve_alarm, "alarm-shelve"),
    page("alarms/<int:pk>/unshelve", views.unshelve_alarm, "alarm-unshelve"),
]
