"""Request body parsers of the API (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

import codecs
import json
import math

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from config.text import BIDI_OVERRIDES, storable


def _finite(text):
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:40]}")
    return number


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _object_without_duplicates(pairs):
    seen = set()
    for key, _value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        if _text_problem(key):
            raise ValueError(f"key {key.encode('unicode_escape').decode()} is not valid text")
        seen.add(key)
    return dict(pairs)


def _text_problem(text):
    if not storable(text):
        return "Must be valid Unicode text without NUL characters."
    if any(mark in text for mark in BIDI_OVERRIDES):
        return "Must not hold a text direction override (U+202D, U+202E): it can make text read as something else."
    return None


def _refuse_bad_text(value, path=None):
    """Raises ValidationError naming the first string under ``value`` that can't be stored or shown as
    it is. DRF's CharField refuses some of these itself, but other fields echo the value in their error
    (``"\ud800" is not a valid choice``), which then can't be encoded: a 500."""
    if isinstance(value, str):
        if problem := _text_problem(value):
            raise ValidationError({path or "body": [problem]})
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_bad_text(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_bad_text(item, f"{path or 'body'}[{index}]")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, stricter where JSON itself is ambiguous or where Python would accept more:

    - a document nested deeper than the decoder can follow (Python's recursion limit, about 1,000 levels)
      is a 400 like any other malformed JSON instead of a 500 (DRF catches ValueError, not RecursionError);
    - a key given twice in one object is a 400: parsers disagree on which value wins, so a proxy or
      validator in front could have checked the other one;
    - NaN, Infinity and numbers beyond a double (``1e400``, which Python reads as infinity) are a 400;
    - a string with NUL, an unpaired surrogate, or a left-to-right or right-to-left override (U+202D,
      U+202E: text that displays as something else, a well name read backwards in the admin) is a 400
      naming the field, whatever kind of field it is.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(
                text,
                parse_float=_finite,
                parse_constant=_refuse_constant,
                object_pairs_hook=_object_without_duplicates,
            )
            _refuse_bad_text(data)
            return data
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as error:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {error}") from None
