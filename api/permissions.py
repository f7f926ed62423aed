"""Who may do what through the API: the console's roles (accounts/roles.py)."""

from rest_framework import permissions

from accounts.roles import RUN_ACTIONS_PERMISSION, VIEW_PERMISSION


class CanView(permissions.BasePermission):
    """Reading: any role (Viewer, Operator, Admin); a user without a role is refused."""

    message = "Your user has no role yet: ask an administrator for one (Viewer, Operator or Admin)."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(VIEW_PERMISSION))


class CanRunActions(CanView):
    """Acting on syncs (Retry, Clear Errors, ...): Operators and Admins, as in the
    console; a Viewer's token cannot act."""

    message = "Your role may view but not act on syncs: Retry and Clear Errors need the Operator or Admin role."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.user.has_perm(RUN_ACTIONS_PERMISSION)


class SessionOnly(permissions.BasePermission):
    """Signed in through the browser (a session), not with a token: tokens are
    managed only there, so that a leaked token cannot make more."""

    message = "API tokens are managed from a signed-in browser session, not with a token."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.auth is None)
