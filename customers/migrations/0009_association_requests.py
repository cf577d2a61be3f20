"""Association requests (switch / disassociation, confirmed by the other side) and customers' one-time codes.

Indexes: the requests list reads one partner's requests newest first (assocreq_partner_list_idx); the expiry
task reads the waiting requests by expiry time (assocreq_waiting_idx, partial: only waiting rows). The partial
unique constraint holds "one open request per customer" against concurrent filings.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

OPEN = ["pending_customer", "pending_partner", "applying"]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_audit_owner_partner_message_user_language"),
        ("customers", "0008_association_rollup"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AssociationRequest",
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
                        choices=[
                            ("SWITCH_TO_REFERRAL", "Switch to referral"),
                            ("SWITCH_TO_RESALE", "Switch to resale"),
                            ("DISASSOCIATE", "Disassociate"),
                        ],
                        max_length=24,
                        verbose_name="change",
                    ),
                ),
                (
                    "direction",
                    models.CharField(
                        choices=[("partner", "Partner-initiated"), ("customer", "Customer-initiated")],
                        max_length=16,
                        verbose_name="initiated by",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending_customer", "Waiting for the customer"),
                            ("pending_partner", "Waiting for the partner"),
                            ("applying", "Being applied"),
                            ("approved", "Approved"),
                            ("rejected", "Rejected"),
                            ("withdrawn", "Withdrawn"),
                            ("expired", "Expired"),
                            ("failed", "Failed"),
                        ],
                        max_length=24,
                        verbose_name="status",
                    ),
                ),
                (
                    "from_association_type",
                    models.CharField(
                        choices=[("1", "Referral"), ("2", "Resale")],
                        max_length=1,
                        verbose_name="association type before",
                    ),
                ),
                ("reason", models.TextField(verbose_name="reason")),
                (
                    "balance_at_filing",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        max_digits=16,
                        null=True,
                        verbose_name="balance when filed",
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="filed")),
                ("expires_at", models.DateTimeField(verbose_name="expires")),
                ("reminded_at", models.DateTimeField(blank=True, null=True, verbose_name="last reminder")),
                ("token_nonce", models.CharField(blank=True, default="", max_length=32)),
                ("decided_at", models.DateTimeField(blank=True, null=True, verbose_name="decided")),
                ("decision_reason", models.TextField(blank=True, verbose_name="reason for the decision")),
                (
                    "customer_confirmed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="confirmed by the customer"),
                ),
                (
                    "customer_channel",
                    models.CharField(blank=True, max_length=8, verbose_name="confirmed through"),
                ),
                (
                    "notices_version",
                    models.CharField(blank=True, max_length=16, verbose_name="notices version"),
                ),
                ("applied_at", models.DateTimeField(blank=True, null=True, verbose_name="applied")),
                ("record_id", models.CharField(blank=True, max_length=64, verbose_name="record ID")),
                ("failure_reason", models.TextField(blank=True, verbose_name="failure reason")),
                (
                    "updated_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="last changed"),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="association_requests",
                        to="customers.customer",
                        verbose_name="customer",
                    ),
                ),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="decided by",
                    ),
                ),
                (
                    "partner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="association_requests",
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
                "verbose_name": "association request",
                "verbose_name_plural": "association requests",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["partner", "-created_at", "-id"], name="assocreq_partner_list_idx"),
                    models.Index(
                        condition=models.Q(("status__in", ["pending_customer", "pending_partner"])),
                        fields=["expires_at"],
                        name="assocreq_waiting_idx",
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status__in", OPEN)),
                        fields=("customer",),
                        name="one_open_association_request",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CustomerCode",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "purpose",
                    models.CharField(
                        choices=[("confirm", "Confirm a request"), ("sign_in", "Sign in")], max_length=16
                    ),
                ),
                ("channel", models.CharField(choices=[("email", "Email"), ("sms", "SMS")], max_length=8)),
                ("code_hash", models.CharField(blank=True, max_length=64)),
                ("sent_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("valid_until", models.DateTimeField(blank=True, null=True)),
                ("failed_attempts", models.PositiveSmallIntegerField(default=0)),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="customers.customer"
                    ),
                ),
            ],
            options={
                "verbose_name": "customer code",
                "verbose_name_plural": "customer codes",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("customer", "purpose"), name="one_customer_code_per_purpose"
                    )
                ],
            },
        ),
    ]
