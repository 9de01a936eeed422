"""A fast yes-check for the plain JSON Schemas of the API's request bodies.

A full JSON Schema validator walks every keyword of every item with a generic machine: for a
usage batch of 1,000 records that was a third of the request's time. Most bodies are valid,
so :func:`compile_check` turns a schema that uses only a few plain keywords into a function
made of ``type()`` tests and loops that answers ``True`` only when the value surely conforms.
``False`` means "not sure": the caller then runs the full validator, which finds (and words)
the error. So the check may be stricter than the schema (an integer written ``1.0``, which
the schema accepts, goes to the full validator), never looser.

Supported: ``$ref`` (local pointers), ``type`` (one name), ``properties``, ``required``,
``additionalProperties: false``, ``minLength``/``maxLength``, ``minItems``/``maxItems``,
``items``, ``anyOf``, ``enum`` and ``const`` of strings and null, and annotations. Any other
keyword makes :func:`compile_check` return ``None`` (no fast check; every body is validated fully).
"""

from collections.abc import Callable

#: keywords that do not constrain a value
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "examples", "default", "deprecated", "components"}
)

_TYPE_TESTS = {
    # bool is a subclass of int in Python, not a number in JSON: test the exact type
    "object": lambda value: type(value) is dict,
    "array": lambda value: type(value) is list,
    "string": lambda value: type(value) is str,
    "integer": lambda value: type(value) is int,
    "number": lambda value: type(value) is int or type(value) is float,
    "boolean": lambda value: type(value) is bool,
    "null": lambda value: value is None,
}


class _Unsupported(Exception):
    """The schema uses a keyword this module does not check."""


def compile_check(schema: dict, root: dict | None = None) -> Callable[[object], bool] | None:
    """A function ``value -> bool`` that is ``True`` only if ``value`` conforms to ``schema``.

    ``root`` is the document ``$ref`` pointers (``#/a/b``) resolve in (default: ``schema``).
    ``None`` if the schema uses a keyword outside the supported set.
    """
    try:
        return _compile(schema, schema if root is None else root, ())
    except _Unsupported:
        return None


def _resolve(root, ref):
    if not ref.startswith("#/"):
        raise _Unsupported(ref)
    node = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise _Unsupported(ref)
        node = node[part]
    return node


def _compile(schema, root, seen):
    if schema is True:
        return lambda value: True
    if not isinstance(schema, dict):
        raise _Unsupported(schema)
    checks = []
    for keyword, argument in schema.items():
        if keyword in ANNOTATIONS:
            continue
        if keyword == "$ref":
            if argument in seen:  # a recursive schema: not for this check
                raise _Unsupported(argument)
            checks.append(_compile(_resolve(root, argument), root, (*seen, argument)))
        elif keyword == "type":
            if argument not in _TYPE_TESTS:
                raise _Unsupported(argument)
            checks.append(_TYPE_TESTS[argument])
        elif keyword in ("properties", "required", "additionalProperties"):
            continue  # compiled together below
        elif keyword in ("minLength", "maxLength", "minItems", "maxItems"):
            checks.append(_compile_size(keyword, argument, schema.get("type")))
        elif keyword == "items":
            item_check = _compile(argument, root, seen)
            checks.append(lambda value, check=item_check: type(value) is not list or all(map(check, value)))
        elif keyword == "enum":
            checks.append(_compile_enum(argument))
        elif keyword == "const":
            checks.append(_compile_enum([argument]))
        elif keyword == "anyOf":
            options = tuple(_compile(option, root, seen) for option in argument)
            checks.append(lambda value, options=options: any(option(value) for option in options))
        else:
            raise _Unsupported(keyword)
    if {"properties", "required", "additionalProperties"} & schema.keys():
        checks.append(_compile_object(schema, root, seen))
    if not checks:
        return lambda value: True
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _compile_size(keyword, argument, type_name):
    if not isinstance(argument, int) or isinstance(argument, bool):
        raise _Unsupported(keyword)
    kind = str if keyword.endswith("Length") else list
    if keyword.startswith("min"):
        return lambda value: type(value) is not kind or len(value) >= argument
    return lambda value: type(value) is not kind or len(value) <= argument


def _compile_enum(options):
    # only scalars of exact type: JSON Schema equality (1 == 1.0, but not True == 1) is left to the full validator
    if not all(type(option) in (str, type(None)) for option in options):
        raise _Unsupported("enum")
    allowed = frozenset(options)
    return lambda value: (type(value) is str or value is None) and value in allowed


def _compile_object(schema, root, seen):
    properties = schema.get("properties", {})
    required = tuple(schema.get("required", ()))
    additional = schema.get("additionalProperties", True)
    if additional not in (True, False) or not isinstance(properties, dict):
        raise _Unsupported("additionalProperties")
    property_checks = {name: _compile(sub, root, seen) for name, sub in properties.items()}
    closed = additional is False

    def check(value):
        if type(value) is not dict:
            return True  # "properties" says nothing about other types
        for name in required:
            if name not in value:
                return False
        for name, item in value.items():
            property_check = property_checks.get(name)
            if property_check is None:
                if closed:
                    return False
            elif not property_check(item):
                return False
        return True

    return check
