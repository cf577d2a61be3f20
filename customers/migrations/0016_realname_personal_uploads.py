# Issue 14: personal real-name verification (a person's name and document type beside the enterprise's
# fields) and documents uploaded ahead of the form (drag and drop).

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import customers.realname

ROLES = [
    ("licence", "Business licence"),
    ("id_front", "ID card, portrait side"),
    ("id_back", "ID card, emblem side"),
    ("doc_front", "Document, front"),
    ("doc_back", "Document, back"),
    ("doc_held", "Photo holding the document"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_audit_owner_partner_message_user_language"),
        ("customers", "0015_onboarding_contacts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="realnameapplication",
            name="kind",
            field=models.CharField(
                choices=[("enterprise", "Enterprise"), ("personal", "Personal")],
                default="enterprise",
                max_length=10,
                verbose_name="type",
            ),
        ),
        migrations.AddField(
            model_name="realnameapplication",
            name="name",
            field=models.CharField(blank=True, max_length=100, verbose_name="name"),
        ),
        migrations.AddField(
            model_name="realnameapplication",
            name="document_type",
            field=models.PositiveSmallIntegerField(
                blank=True,
                choices=[
                    (3, "Passport"),
                    (5, "Mainland Travel Permit for Hong Kong and Macao Residents"),
                    (6, "Mainland Travel Permit for Taiwan Residents"),
                    (9, "Residence Permit for Hong Kong and Macao Residents"),
                    (10, "Residence Permit for Taiwan Residents"),
                ],
                null=True,
                verbose_name="document type",
            ),
        ),
        migrations.AlterField(
            model_name="realnameapplication",
            name="corp_name",
            field=models.CharField(blank=True, max_length=200, verbose_name="company name"),
        ),
        migrations.AlterField(
            model_name="realnameapplication",
            name="representative",
            field=models.CharField(blank=True, max_length=100, verbose_name="legal representative"),
        ),
        migrations.AlterField(
            model_name="realnameapplication",
            name="representative_id",
            field=models.CharField(blank=True, max_length=32, verbose_name="representative's ID number"),
        ),
        migrations.AlterField(
            model_name="realnamedocument",
            name="role",
            field=models.CharField(choices=ROLES, max_length=10, verbose_name="document"),
        ),
        migrations.CreateModel(
            name="RealnameUpload",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key",
                    models.CharField(default=customers.realname._new_key, max_length=32, unique=True),
                ),
                ("role", models.CharField(choices=ROLES, max_length=10)),
                ("name", models.CharField(max_length=255)),
                ("thumbnail_name", models.CharField(blank=True, max_length=255)),
                ("kind", models.CharField(max_length=8)),
                ("size", models.PositiveIntegerField()),
                ("sha256", models.CharField(max_length=64)),
                ("pages", models.PositiveIntegerField(blank=True, null=True)),
                ("width", models.PositiveIntegerField(blank=True, null=True)),
                ("height", models.PositiveIntegerField(blank=True, null=True)),
                ("display_name", models.CharField(blank=True, max_length=255)),
                ("created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="customers.customer"
                    ),
                ),
                (
                    "partner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="accounts.partner"
                    ),
                ),
                (
                    "uploaded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["id"]},
        ),
    ]
