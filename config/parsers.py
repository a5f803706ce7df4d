"""Request body parsers of the API (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that a document nested deeper than the decoder can follow (Python's
    recursion limit, about 1,000 levels) is a 400 like any other malformed JSON instead of a 500.

    DRF catches the decoder's ValueError but not its RecursionError. Other hostile text needs nothing
    here: DRF's CharField refuses NUL and unpaired surrogates, naming the field.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
