"""Every answer of the API is JSON, whatever the request's Accept header says."""

from rest_framework.negotiation import BaseContentNegotiation


class AlwaysJson(BaseContentNegotiation):
    """Picks the view's first renderer and parser: an Accept header asking for
    something else gets JSON anyway, never 406 (schemathesis and curl alike)."""

    def select_parser(self, request, parsers):
        """The first parser that can read the request's content type, or None (415)."""
        for parser in parsers:
            if request.content_type.split(";")[0].strip().lower() == parser.media_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        """The view's first renderer and its media type."""
        return renderers[0], renderers[0].media_type
