"""Demo ESP telemetry: what each well's pump controller would report, healthy or in a named fault.

- ``model``: the pump model (``PumpSpec``, ``WellSimulator``): a reading for any moment, plain code over data.
- ``faults``: the fault catalogue and the operating changes, each with its effect on a reading's conditions,
  and the parsing of ``--fault`` specifications.
- ``backfill``: days of history written through ``telemetry.ingest.store_rows``, generated in a second
  process while this one writes.
- ``live``: one reading per well every few seconds over MQTT or HTTP.

``manage.py simulate`` wraps the last two.
"""
