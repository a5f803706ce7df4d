"""A finding: one condition a diagnostics rule saw on one well, with the figures that show it."""

import dataclasses
import datetime


@dataclasses.dataclass(frozen=True)
class Finding:
    """What a rule concluded over ``[window_start, window_end]``; stored as an ``analytics.DiagnosticResult``.

    ``diagnostic_type`` and ``severity`` are ``analytics.models.DiagnosticType`` / ``Severity`` values;
    ``confidence`` is 0–1; ``evidence`` holds the figures that triggered it, JSON-ready, with units in
    the keys (``current_a``, ``flow_bpd``, ``pip_psi``…); ``detected_at`` is the run's clock.
    """

    diagnostic_type: str
    severity: str
    confidence: float
    evidence: dict
    recommended_action: str
    window_start: datetime.datetime
    window_end: datetime.datetime
    detected_at: datetime.datetime
