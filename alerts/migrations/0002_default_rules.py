"""The default rules, created once when the alerts app is first migrated (a later
deletion by an admin is respected)."""

from django.db import migrations

from alerts.rules import create_defaults


def forwards(apps, schema_editor):
    create_defaults(apps.get_model("alerts", "Rule"), using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
