"""Creates the Viewer, Operator and Admin groups with their permissions.

Permissions are normally created after all migrations ran (post_migrate);
ensure_roles creates the ones it needs first, so this works on a fresh database."""

from django.db import migrations

from accounts.roles import ensure_roles


def create_roles(apps, schema_editor):
    ensure_roles(apps, using=schema_editor.connection.alias)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Viewer", "Operator", "Admin"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("synchronizations", "0001_initial"),
        ("metrics", "0001_initial"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
