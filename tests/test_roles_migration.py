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
