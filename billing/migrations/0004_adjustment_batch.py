"""Batch allocation and reclaim (批量拨款 / 批量回收): the batch, and each adjustment's link to its batch;
the reconciliation's explanations of mismatches, one per transaction id."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_audit_owner_partner_message_user_language"),
        ("billing", "0003_discounts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AdjustmentBatch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("allocate", "Allocate"), ("reclaim", "Reclaim")],
                        max_length=16,
                        verbose_name="type",
                    ),
                ),
                ("rows", models.JSONField(default=list, verbose_name="rows")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting"),
                            ("creating", "Creating the adjustments"),
                            ("done", "All rows asked for"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="requested"),
                ),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="finished")),
                (
                    "partner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="adjustment_batches",
                        to="accounts.partner",
                        verbose_name="partner",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="requested by",
                    ),
                ),
            ],
            options={
                "verbose_name": "adjustment batch",
                "verbose_name_plural": "adjustment batches",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ReconciliationNote",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("trans_id", models.CharField(max_length=128, verbose_name="transaction ID")),
                ("note", models.TextField(verbose_name="explanation")),
                (
                    "explained_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="explained"),
                ),
                (
                    "explained_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="explained by",
                    ),
                ),
                (
                    "partner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.partner",
                        verbose_name="partner",
                    ),
                ),
            ],
            options={"verbose_name": "reconciliation note", "verbose_name_plural": "reconciliation notes"},
        ),
        migrations.AddConstraint(
            model_name="reconciliationnote",
            constraint=models.UniqueConstraint(
                fields=("partner", "trans_id"), name="one_note_per_transaction"
            ),
        ),
        migrations.AddField(
            model_name="adjustment",
            name="batch",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="adjustments",
                to="billing.adjustmentbatch",
                verbose_name="batch",
            ),
        ),
    ]
