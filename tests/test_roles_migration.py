"""The data migration creates the three groups with exactly their permissions."""

import pytest
from django.contrib.auth.models import Group

from accounts.roles import assign_role, role_of

pytestmark = pytest.mark.django_db


def perms(group_name):
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_viewer_may_only_view():
    viewer = perms("Viewer")
    assert "synchronizations.view_synchronization" in viewer
    assert "metrics.view_syncevent" in viewer
    assert all(".view_" in p for p in viewer)


def test_operator_may_view_and_run_actions_but_edit_nothing():
    operator = perms("Operator")
    assert operator == perms("Viewer") | {"synchronizations.run_sync_actions"}


def test_admin_may_edit_configuration_and_users():
    admin = perms("Admin")
    assert {"synchronizations.change_mapping", "synchronizations.add_repository", "auth.change_user"} <= admin
    assert "synchronizations.run_sync_actions" in admin


def test_assigning_a_role_replaces_the_previous_one(make_user):
    user = make_user("admin", "alice")
    assert user.is_staff
    assign_role(user, "viewer")
    user.refresh_from_db()
    assert role_of(user) == "viewer"
    assert not user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["Viewer"]


def test_assigning_an_unknown_role_is_refused(make_user):
    with pytest.raises(ValueError, match="Unknown role 'root'"):
        assign_role(make_user(None, "bob"), "root")


@pytest.mark.django_db(transaction=True)
def test_roles_come_back_after_a_flush():
    from django.core.management import call_command

    call_command("flush", "--no-input", verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) == {"Viewer", "Operator", "Admin"}
    assert "synchronizations.run_sync_actions" in perms("Operator")


def test_roles_are_set_once_after_every_app_whatever_the_order_of_installed_apps(monkeypatch):
    """With metrics first and accounts last, the roles are still set exactly once per
    migrate, and only once post_migrate has been sent for every other app."""
    from django.conf import settings
    from django.core.management.sql import emit_post_migrate_signal
    from django.db.models.signals import post_migrate
    from django.test import override_settings

    from accounts import roles

    reordered = ["metrics", *(app for app in settings.INSTALLED_APPS if app not in ("metrics", "accounts")), "accounts"]
    sent: list[str] = []
    seen_when_roles_were_set: list[list[str]] = []
    real_ensure_roles = roles.ensure_roles

    def spy(**kwargs):
        seen_when_roles_were_set.append(list(sent))
        real_ensure_roles(**kwargs)

    def record(sender, **kwargs):  # connected after accounts' receiver: it sees the earlier sends
        sent.append(sender.label)

    monkeypatch.setattr(roles, "ensure_roles", spy)
    Group.objects.all().delete()
    post_migrate.connect(record, dispatch_uid="test.record_post_migrate")
    try:
        with override_settings(INSTALLED_APPS=reordered):
            emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    finally:
        post_migrate.disconnect(dispatch_uid="test.record_post_migrate")

    assert sent[0] == "metrics"
    assert len(seen_when_roles_were_set) == 1, "ensure_roles ran more than once, or never"
    assert seen_when_roles_were_set[0] == sent[:-1], "roles were set before post_migrate reached every app"
    assert set(Group.objects.values_list("name", flat=True)) == {"Viewer", "Operator", "Admin"}
    assert perms("Operator") == perms("Viewer") | {"synchronizations.run_sync_actions"}
