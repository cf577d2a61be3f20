# Inviting existing customers (issue 14): the partner's invitations.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_audit_owner_partner_message_user_language"),
        ("customers", "0016_realname_personal_uploads"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Invitation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("email", models.CharField(max_length=254, verbose_name="email")),
                (
                    "account_name_hint",
                    models.CharField(blank=True, max_length=32, verbose_name="account name (if known)"),
                ),
                (
                    "association_type",
                    models.CharField(
                        choices=[("1", "Referral"), ("2", "Resale")],
                        default="2",
                        max_length=1,
                        verbose_name="association type",
                    ),
                ),
                (
                    "language",
                    models.CharField(
                        choices=[("zh-hans", "简体中文"), ("en", "English")],
                        max_length=8,
                        verbose_name="message language",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("sent", "Sent, awaiting the customer"),
                            ("accepted", "Accepted, associating"),
                            ("associated", "Associated"),
                            ("failed", "Not associated"),
                            ("expired", "Expired"),
                            ("revoked", "Revoked"),
                        ],
                        default="sent",
                        max_length=10,
                        verbose_name="status",
                    ),
                ),
                ("token_nonce", models.CharField(blank=True, default="", max_length=32)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="sent")),
                ("expires_at", models.DateTimeField(verbose_name="expires")),
                ("used_at", models.DateTimeField(blank=True, null=True, verbose_name="accepted at")),
                ("account_name", models.CharField(blank=True, max_length=32, verbose_name="account name")),
                ("error_code", models.CharField(blank=True, max_length=32, verbose_name="error code")),
                ("error", models.TextField(blank=True, verbose_name="error")),
                ("code_hash", models.CharField(blank=True, max_length=64)),
                ("code_sent_at", models.DateTimeField(blank=True, null=True)),
                ("code_valid_until", models.DateTimeField(blank=True, null=True)),
                ("code_failures", models.PositiveSmallIntegerField(default=0)),
                (
                    "updated_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="last changed"),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="invited by",
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="customers.customer",
                        verbose_name="customer",
                    ),
                ),
                (
                    "partner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="invitations",
                        to="accounts.partner",
                        verbose_name="partner",
                    ),
                ),
            ],
            options={
                "verbose_name": "invitation",
                "verbose_name_plural": "invitations",
                "ordering": ["-created_at", "-pk"],
                "indexes": [models.Index(fields=["partner", "-created_at"], name="invitation_partner_idx")],
            },
        ),
    ]
