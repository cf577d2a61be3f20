"""The inbox's "All warnings" in its order, from an index that also answers which partner each row is for.

A deep page of a distributor's 1,000,000 warnings (page 500, offset 9,980) found its 21 keys by walking the
single-column send_time index and sorting each group of equal times by id (Incremental Sort, 10,001 rows,
then a heap visit per row for partner_id): 5.5 ms per request at 1M.

- warning_list_idx (send_time DESC, id DESC) INCLUDE (partner_id) replaces the send_time index: the list's
  exact order, and the partner filter read from the index itself (Index Only Scan, no Sort). Every query the
  old index served (send_time ranges) this one serves too.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_audit_owner_partner_message_user_language'),
        ('customers', '0006_customer_balance_column'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='customerwarning',
            name='send_time',
            field=models.DateTimeField(verbose_name='send time'),
        ),
        migrations.AddIndex(
            model_name='customerwarning',
            index=models.Index(fields=['-send_time', '-id'], include=('partner',), name='warning_list_idx'),
        ),
    ]
