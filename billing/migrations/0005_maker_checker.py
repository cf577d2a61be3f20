"""Maker-checker: a partner's approval threshold, and who approved or rejected an adjustment above it."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_audit_owner_partner_message_user_language"),
        ("billing", "0004_adjustment_batch"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApprovalPolicy",
            fields=[
                (
                    "partner",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="accounts.partner",
                        verbose_name="partner",
                    ),
                ),
                (
                    "approval_threshold",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="Adjustments above this amount wait for a second finance user or admin. Empty: off.",
                        max_digits=16,
                        null=True,
                        verbose_name="approval threshold",
                    ),
                ),
                (
                    "updated_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="last changed"),
                ),
            ],
            options={
                "verbose_name": "approval policy",
                "verbose_name_plural": "approval policies",
            },
        ),
        migrations.AddField(
            model_name="adjustment",
            name="decided_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="approved or rejected"),
        ),
        migrations.AddField(
            model_name="adjustment",
            name="decided_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="approved or rejected by",
            ),
        ),
        migrations.AlterField(
            model_name="adjustment",
            name="status",
            field=models.CharField(
                choices=[
                    ("awaiting", "Waiting for approval"),
                    ("pending", "Pending"),
                    ("sent", "Sent"),
                    ("succeeded", "Succeeded"),
                    ("failed", "Failed"),
                    ("rejected", "Rejected"),
                ],
                default="pending",
                max_length=16,
                verbose_name="status",
            ),
        ),
    ]
