"""The hostile-input corpus: what buggy and hostile clients send, as data the tests walk over.

Each entry is (name, what to send). Bodies are built from an endpoint's valid example (``body_variants``)
so that one field at a time carries the hostile value and the rest of the body would be accepted.
"""

import json

TOO_DEEP = 100_000
BIG_BYTES = 10 * 1024 * 1024 + 1  # one byte past the largest body any endpoint takes

# Values that break text: NUL, an unpaired surrogate (as a JSON escape), a right-to-left override.
HOSTILE_TEXT = {
    "nul": "WELL\u0000-001",
    "lone_surrogate": "WELL-\ud800",
    "rtl_override": "\u202e100-LLEW",
}
# Numbers JSON can't carry or a double can't hold, spelled as clients send them.
HOSTILE_NUMBERS = {"nan": "NaN", "infinity": "Infinity", "minus_infinity": "-Infinity", "1e400": "1e400"}
# Timestamps at the ends of the calendar, with offsets that push them past it in UTC: no valid instant.
HOSTILE_TIMES = {
    "year_1_east": "0001-01-01T00:00:00+14:00",
    "year_9999_west": "9999-12-31T23:59:59-14:00",
    "year_0": "0000-01-01T00:00:00Z",
    "year_10000": "10000-01-01T00:00:00Z",
}
# The same ends with offsets that keep them inside it: odd but valid instants (a query over them is a fair
# question; a reading or a shelve at them is refused by the field's own rules).
EXTREME_TIMES = {
    "year_1_west": "0001-01-01T00:00:00-14:00",
    "year_9999_east": "9999-12-31T23:59:59+14:00",
}
# SQL and shell metacharacters, and a sleep that would show if anything reached SQL as text.
SLEEP_SECONDS = 5
INJECTIONS = {
    "sql_quote": "' OR '1'='1",
    "sql_comment": "WELL-001'--",
    "sql_union": "1 UNION SELECT username, password FROM auth_user--",
    "pg_sleep": f"1'; SELECT pg_sleep({SLEEP_SECONDS});--",
    "pg_sleep_numeric": f"1 AND 1=(SELECT 1 FROM pg_sleep({SLEEP_SECONDS}))",
    "shell": "$(sleep 5); `id` | cat /etc/passwd && rm -rf /",
    "percent_and_backslash": "%_\\%\\\\",
}


def body_variants(example, text_field, number_field=None, time_field=None):
    """(name, raw bytes) of hostile bodies derived from the valid ``example`` dict."""
    valid = json.dumps(example)
    variants = [
        ("malformed", b'{"' + text_field.encode() + b'": '),
        ("single_quotes", valid.replace('"', "'").encode()),
        ("truncated", valid[: len(valid) // 2].encode()),
        ("not_an_object", b'"just a string"'),
        ("array", b"[" + valid.encode() + b"]"),
        ("null", b"null"),
        (
            "deeply_nested",
            json.dumps({**example, text_field: "@"}).replace('"@"', "[" * TOO_DEEP + "]" * TOO_DEEP).encode(),
        ),
        ("invalid_utf8", json.dumps({**example, text_field: "@"}).encode().replace(b"@", b"\xff\xfe\xc3")),
        ("duplicate_key", valid[:-1].encode() + b", " + json.dumps({text_field: "second"})[1:].encode()),
    ]
    for name, text in HOSTILE_TEXT.items():
        variants.append((name, json.dumps({**example, text_field: text}).encode()))
    if number_field:
        for name, number in HOSTILE_NUMBERS.items():
            body = json.dumps({**example, number_field: "@"}).replace('"@"', number)
            variants.append((name, body.encode()))
    if time_field:
        for name, moment in {**HOSTILE_TIMES, **EXTREME_TIMES}.items():
            variants.append((name, json.dumps({**example, time_field: moment}).encode()))
    return variants
