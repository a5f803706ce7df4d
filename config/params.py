"""Query parameters of the API: one way to validate them, with errors that name the parameter.

A view declares its parameters as a ``QueryParams`` serializer (drf-spectacular documents it from the
same class) and calls ``Params.validated(request)``. A bad value raises DRF's ``ValidationError``
``{parameter: [message]}``, which the API's error handler renders as a 400. Rules shared by every endpoint:
- a parameter given empty (``?order=``) is refused like any other bad value, not taken as its default;
- a value that is not one of a choice parameter's choices is refused with the choices listed.
"""

from rest_framework import serializers


def not_a_choice(value, choices):
    """The message for ``value`` that is none of ``choices``, listing them: 'use one of: 15m, 1h, 1d'."""
    return f"{value} is not a valid choice; use one of: {', '.join(str(choice) for choice in choices)}."


class QueryParams(serializers.Serializer):
    """The query parameters of one endpoint, validated as values given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, serializers.ChoiceField) and not isinstance(field, serializers.MultipleChoiceField):
                # DRF fills {input} in when it refuses a value.
                field.error_messages["invalid_choice"] = not_a_choice('"{input}"', field.choices)

    @classmethod
    def validated(cls, request):
        """The validated parameters of ``request``; raises ValidationError (400) naming each bad one."""
        # A QueryDict makes DRF treat "" as "not given" for an optional field; a plain dict does not.
        params = cls(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        return params.validated_data
