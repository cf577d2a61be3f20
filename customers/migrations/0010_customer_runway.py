"""The runway of a resale balance on the customer (average daily spend, days until zero), kept by billing
after each balance sync; a partial index for "runs out within N days" (only customers with a runway)."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_audit_owner_partner_message_user_language"),
        ("customers", "0009_association_requests"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="daily_spend",
            field=models.DecimalField(
                blank=True, decimal_places=2, max_digits=16, null=True, verbose_name="average daily spend"
            ),
        ),
        migrations.AddField(
            model_name="customer",
            name="runway_days",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="days until zero"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("runway_days__isnull", False)),
                fields=["partner", "runway_days"],
                name="customer_runway_idx",
            ),
        ),
    ]
