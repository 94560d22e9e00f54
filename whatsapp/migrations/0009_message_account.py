"""A message keeps its chat's account, so that an account's waiting messages have an index of
their own (the paced sender looks up each account's oldest one at every send)."""

import django.db.models.deletion
from django.db import migrations, models


def fill_in(apps, schema_editor):
    Message = apps.get_model("whatsapp", "Message")
    Chat = apps.get_model("whatsapp", "Chat")
    Message.objects.update(
        account_id=models.Subquery(
            Chat.objects.filter(pk=models.OuterRef("chat_id")).values("account_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("whatsapp", "0008_leases_in_timelines_and_ready_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="whatsapp.account",
            ),
        ),
        migrations.RunPython(fill_in, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="message",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="whatsapp.account",
            ),
        ),
        migrations.RemoveIndex(model_name="message", name="message_pending"),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("status__in", ["queued", "sending"])),
                fields=["account", "id"],
                name="message_pending",
            ),
        ),
    ]
