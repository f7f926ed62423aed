"""``Authorization: Bearer <token>`` with a personal API token (api.models)."""

from django.utils import timezone
from rest_framework import authentication, exceptions

from api.models import ApiToken

KEYWORD = "Bearer"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a request by the personal API token in its Authorization
    header. No such header: not this scheme (the session may authenticate it).
    A header naming no active token of an active user: 401, saying why (unknown,
    revoked or expired token, inactive user). Sets ``request.auth`` to the token."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be 'Bearer <token>'.")
        try:
            plain = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not one syncweb made.") from None
        token = ApiToken.objects.find(plain)
        if token is None:
            raise exceptions.AuthenticationFailed("The token is not one syncweb made.")
        now = timezone.now()
        state = token.state(now)
        if state != "active":
            raise exceptions.AuthenticationFailed(f"The token {token.shown_prefix} is {state}.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        token.record_use(now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        """What a 401 answer's WWW-Authenticate says (and why it is 401, not 403)."""
        return f'{KEYWORD} realm="syncweb"'
