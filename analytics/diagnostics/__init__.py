"""The ESP diagnostics engine: conditions of a well's pump found in its telemetry.

- ``rules``: the rules, plain functions over readings and hourly rollups (no ORM, no clock);
- ``engine``: loading a batch of wells' inputs, running the rules, storing ``DiagnosticResult`` once
  per window, and sending ``signals.diagnostics_ran`` for the alarms;
- ``findings.Finding``: what a rule concludes.
"""
