"""A channel's shown address, stored in clear, was Apprise's redacted URL, which keeps
a webhook's headers, query tokens and path: it becomes the scheme and host (and
port) of that form, and "…" for the rest (as alerts.models.redacted_url writes it)."""

import re
from urllib.parse import urlsplit

from django.db import migrations, models

MASK = "…"
SHOWN_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~*-]+")
HOST_PORT = re.compile(r"(?P<host>\[[^\]]*\]|[^:]*)(?::(?P<port>\d{1,5}))?")


def scheme_and_host(shown: str) -> str:
    """``shown`` (Apprise's redacted URL, as stored before) cut to its scheme and host."""
    parts = urlsplit(shown)
    found = HOST_PORT.fullmatch(parts.netloc.rpartition("@")[2])
    host = found["host"] if found and SHOWN_HOST.fullmatch(found["host"]) else MASK
    port = f":{found['port']}" if found and found["port"] else ""
    scheme = parts.scheme if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,30}", parts.scheme) else MASK
    return f"{scheme}://{host}{port}/{MASK}"


def cut_addresses(apps, schema_editor):
    Channel = apps.get_model("alerts", "Channel")
    for channel in Channel.objects.all():
        Channel.objects.filter(pk=channel.pk).update(url_redacted=scheme_and_host(channel.url_redacted))


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_rule_bounds_and_errors"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="url_redacted",
            field=models.CharField(editable=False, max_length=1000, verbose_name="address (secrets hidden)"),
        ),
        migrations.RunPython(cut_addresses, migrations.RunPython.noop),
    ]
