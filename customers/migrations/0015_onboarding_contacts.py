# Issue 14: the new customer's contacts verified by a code, the platform's error code of a refused creation,
# and when the background status sync last asked about a real-name review.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0014_onboarding"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="customerapplication",
            name="contact_email",
            field=models.CharField(blank=True, max_length=254, verbose_name="contact email"),
        ),
        migrations.AddField(
            model_name="customerapplication",
            name="contact_phone",
            field=models.CharField(blank=True, max_length=32, verbose_name="contact mobile phone"),
        ),
        migrations.AddField(
            model_name="customerapplication",
            name="phone_code",
            field=models.CharField(blank=True, editable=False, max_length=8),
        ),
        migrations.AddField(
            model_name="customerapplication",
            name="error_code",
            field=models.CharField(blank=True, editable=False, max_length=32),
        ),
        migrations.AddField(
            model_name="realnameapplication",
            name="checked_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.CreateModel(
            name="ContactCode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("channel", models.CharField(choices=[("email", "Email"), ("sms", "SMS")], max_length=8)),
                ("address_digest", models.CharField(max_length=64)),
                ("code_hash", models.CharField(blank=True, max_length=64)),
                ("sent_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("valid_until", models.DateTimeField(blank=True, null=True)),
                ("failed_attempts", models.PositiveSmallIntegerField(default=0)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "contact verification code",
                "verbose_name_plural": "contact verification codes",
                "indexes": [
                    models.Index(fields=["address_digest", "sent_at"], name="onboarding_code_address_idx")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "channel"), name="onboarding_one_contact_code_per_channel"
                    )
                ],
            },
        ),
    ]
