"""What text PostgreSQL and UTF-8 can hold, for code that meets text before a field validator does.

PostgreSQL refuses NUL in text (psycopg raises before sending the query) and UTF-8 has no encoding for an
unpaired UTF-16 surrogate (``"\\ud800"`` is valid JSON, and Python decodes it to such a string). Either
reaching a query or a response is a 500; DRF's CharField already refuses both, these are for the rest:
the ingest decoder, query strings and URL paths.
"""


def printable(text):
    """``text`` with unpaired surrogates spelled out as ``\\udXXX``: safe in a UTF-8 answer or log line."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def storable(text):
    """True when PostgreSQL can hold and compare ``text``: no NUL character, no unpaired surrogate."""
    return "\x00" not in text and text == printable(text)


# Left-to-right and right-to-left override: they make text display as something else than it is (the
# "Trojan source" trick), and nothing the platform stores needs them (Arabic text is right-to-left by itself).
BIDI_OVERRIDES = ("\u202d", "\u202e")
