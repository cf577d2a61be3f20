"""The records page's anti-join: an upstream record is listed unless an adjustment carries its transaction id.
Without an index on Adjustment.upstream_transaction_id each of a page's records probed the adjustments by a
scan; the partial index (set ids only) answers each probe, and the totals' "records the portal made"."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_audit_owner_partner_message_user_language'),
        ('billing', '0008_funds_day'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='adjustment',
            index=models.Index(condition=models.Q(('upstream_transaction_id', ''), _negated=True), fields=['upstream_transaction_id'], name='adjustment_trans_id_idx'),
        ),
    ]
