"""Dashboards: the server-rendered pages managers and engineers look at — fleet, well, alarms, rankings.

The top floor of the platform: it reads wells, telemetry, analytics and alarms, and nothing imports it.
Pages are plain Django views over sessions (sign-in at /login with the admin's throttled, audited form);
``dashboards.access`` says which role each view needs, ``dashboards.csp`` puts a Content-Security-Policy on
every response, charts are uPlot (vendored under static/dashboards/vendor, see scripts/vendor_assets.sh)
fed by a JSON endpoint, and pages refresh their live parts by polling small HTML fragments.
"""
