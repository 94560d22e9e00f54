"""WAHA connections are looked up by the SHA-256 of their URL secret (constant time, SPEC P5)."""

import hashlib

from django.db import migrations, models


def fill_digests(apps, schema_editor):
    WahaConnection = apps.get_model("whatsapp", "WahaConnection")
    for pk, secret in WahaConnection.objects.values_list("pk", "secret"):
        digest = hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()
        WahaConnection.objects.filter(pk=pk).update(secret_sha256=digest)


class Migration(migrations.Migration):
    dependencies = [("whatsapp", "0005_early_ack")]

    operations = [
        migrations.AddField(
            model_name="wahaconnection",
            name="secret_sha256",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_digests, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="wahaconnection",
            name="secret_sha256",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
    ]
