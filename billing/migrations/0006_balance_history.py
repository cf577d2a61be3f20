"""The balance history the runway is computed from: one snapshot per resale customer and day."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_maker_checker"),
        ("customers", "0010_customer_runway"),
    ]

    operations = [
        migrations.CreateModel(
            name="BalanceSnapshot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(verbose_name="day")),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, max_digits=16, verbose_name="available amount"),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="customers.customer",
                        verbose_name="customer",
                    ),
                ),
            ],
            options={
                "verbose_name": "balance of a day",
                "verbose_name_plural": "balance history",
                "constraints": [
                    models.UniqueConstraint(fields=("customer", "day"), name="one_balance_per_day")
                ],
            },
        ),
    ]
