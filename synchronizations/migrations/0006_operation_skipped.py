from django.db import migrations


class Migration(migrations.Migration):
    """Operation.failed held the syncs an operation skipped (no longer eligible), not
    failures: it says so now."""

    dependencies = [("synchronizations", "0005_derived_counts_search")]

    operations = [
        migrations.RenameField(model_name="operation", old_name="failed", new_name="skipped"),
    ]
