"""The API's JSON parser: DRF's, bounded. A body nested deeper than any request
of the API needs (``[[[[…]]]]``, which makes Python's json module recurse until
it gives up) is a 400 problem naming the body, never a 500."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The deepest body the API reads is {"filter": {"status": …}} or {"ids": [1]}: 2
# levels. Anything past MAX_DEPTH is refused before a serializer walks it.
MAX_DEPTH = 16
TOO_DEEP = f"The request body nests lists or objects more than {MAX_DEPTH} levels deep."


def depth(value) -> int:
    """How deeply ``value`` (parsed JSON) nests lists and objects: 0 for a scalar,
    1 for [] or {}. Iterative, so it never recurses itself."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser; raises ParseError (400) for a body nested more than
    MAX_DEPTH levels, however deep (Python's RecursionError included)."""

    def parse(self, stream, media_type=None, parser_context=None):
        """The parsed body; ParseError when it is not JSON or nests too deeply."""
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if depth(data) > MAX_DEPTH:
            raise ParseError(TOO_DEEP)
        return data
