"""What the diagnostics engine tells the layers above it (alarms) without importing them."""

from django.dispatch import Signal

# Sent after each diagnostics run of one well has stored its findings, in the run's transaction.
# Arguments: ``well`` (wells.models.Well), ``ran_at`` (aware datetime: the run's clock),
# ``findings`` (list of analytics.diagnostics.findings.Finding, every severity, stored or already
# stored by an earlier run of the same window), ``evaluated`` (frozenset of DiagnosticType values the
# run could judge: a type in ``evaluated`` but not in ``findings`` is a condition seen to be absent).
diagnostics_ran = Signal()
