"""Reading the API's error body (config/errors.py) in tests."""


def named_errors(response):
    """{field: [message, ...]} of an error answer; problems with no field are under None.

    Fails unless the body has the API's error shape, so every test that reads an error through it checks
    that shape too.
    """
    body = response.json()
    assert {"type", "detail", "errors"} <= set(body), body
    named = {}
    for entry in body["errors"]:
        named.setdefault(entry["field"], []).append(entry["message"])
    return named
