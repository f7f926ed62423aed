"""The three roles of the web console, as Django groups.

Viewer sees everything and changes nothing; Operator also runs actions on syncs
(retry, clear errors); Admin also uses the Django admin. The groups are created by
the data migration accounts/0001_roles and kept complete after every migrate and
flush (ensure_roles_after_migrate, connected in apps.py), so models added later
join the roles too.
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS

VIEWER = "Viewer"
OPERATOR = "Operator"
ADMIN = "Admin"
ROLES = {"viewer": VIEWER, "operator": OPERATOR, "admin": ADMIN}

RUN_ACTIONS_PERMISSION = "synchronizations.run_sync_actions"
VIEW_PERMISSION = "synchronizations.view_synchronization"

# Every model of these apps can be viewed by all roles and edited by admins.
DOMAIN_APPS = ("synchronizations", "metrics", "alerts")
# Admins also manage users, groups, login lockouts, everyone's API tokens and webhooks.
ADMIN_APPS = ("auth", "axes", "api", "hooks")


def ensure_roles(apps=global_apps, using: str = DEFAULT_DB_ALIAS) -> None:
    """Creates the role groups if missing and sets their permissions. Idempotent.

    ``apps`` is the app registry: the real one, or a migration's historical state."""
    for label in (*DOMAIN_APPS, *ADMIN_APPS):
        try:
            app_config = apps.get_app_config(label)
        except LookupError:
            # An app added after this migration (alerts): not in its historical state
            # yet; the post_migrate pass grants its permissions once it is migrated.
            continue
        # Historical app configs have no models module; create_permissions skips those.
        restore = getattr(app_config, "models_module", None)
        app_config.models_module = restore or True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = restore
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.using(using).select_related("content_type")
    domain = [p for p in permissions if p.content_type.app_label in DOMAIN_APPS]
    admin = [p for p in permissions if p.content_type.app_label in ADMIN_APPS]
    view = [p for p in domain if p.codename.startswith("view_")]
    run_actions = [p for p in domain if f"{p.content_type.app_label}.{p.codename}" == RUN_ACTIONS_PERMISSION]
    grants = {VIEWER: view, OPERATOR: view + run_actions, ADMIN: domain + admin}
    for name, granted in grants.items():
        Group.objects.using(using).get_or_create(name=name)[0].permissions.set(granted)


def ensure_roles_after_migrate(sender, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate receiver: runs ensure_roles once per migrate or flush.

    post_migrate is sent after every migration has been applied, once for each app
    with models, in INSTALLED_APPS order. One pass is enough, and ensure_roles creates
    the permissions it grants itself, so any one of those sends would do; the last
    is taken, whichever app that is, so that Django's own handlers have created every
    app's permissions by then. Nothing depends on where our apps are in the list."""
    senders = [config for config in global_apps.get_app_configs() if config.models_module is not None]
    if senders and sender.label == senders[-1].label:
        ensure_roles(using=using)


def assign_role(user, role: str) -> None:
    """Make ``role`` (a key of ROLES) the user's only role; admins get the Django admin."""
    Group = global_apps.get_model("auth", "Group")
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}: choose one of {', '.join(ROLES)}.")
    user.is_staff = role == "admin"
    user.save(update_fields=["is_staff"])
    user.groups.remove(*Group.objects.filter(name__in=ROLES.values()))
    user.groups.add(Group.objects.get(name=ROLES[role]))


def role_of(user) -> str | None:
    """The user's role key, the highest if several; superusers count as admin."""
    if user.is_superuser:
        return "admin"
    names = set(user.groups.values_list("name", flat=True))
    for key in ("admin", "operator", "viewer"):
        if ROLES[key] in names:
            return key
    return None


def can_run_actions(user) -> bool:
    """Whether ``user`` may retry and clear syncs (the Operator and Admin roles)."""
    return user.has_perm(RUN_ACTIONS_PERMISSION)
