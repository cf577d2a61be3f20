"""Indexes that match the customer list's, the badge's and the inbox's filters and sort orders (issue 13).

Measured at 100,000 customers (3 partners) and 1,000,000 warnings (20% pending), EXPLAIN (ANALYZE, BUFFERS):

Customers
- customer_partner_list_idx (partner_id, associated_on DESC NULLS LAST, id) WHERE disassociated_at IS NULL:
  one partner's list (a reseller's, a distributor's "My customers"): `WHERE partner_id = … AND
  disassociated_at IS NULL ORDER BY associated_on DESC NULLS LAST, id LIMIT 20` reads 20 index entries
  (Index Scan, no Sort). It replaces (partner_id, associated_on DESC), whose NULLS FIRST order did not
  match the list's NULLS LAST, so the list sorted every row.
- customer_list_idx (associated_on DESC NULLS LAST, id) WHERE disassociated_at IS NULL: the lists over
  several partners ("Resellers' customers", partner_id IN (…)): the index is walked in the list's order and
  the partner filtered on the way (1.8 s → 0.2 ms for the first page). Read backwards, it serves the last
  pages (portal/lib/lists.py reads the back half of a list in the reverse order).
- customer_managed_idx (account_manager_id, partner_id) INCLUDE (open_warning_count) and
  customer_unmanaged_idx (partner_id) INCLUDE (open_warning_count) WHERE account_manager_id IS NULL: the
  badge (CustomerWarningQuerySet.owned_pending_count) sums the counters of the user's customers and, for an
  admin, of its partner's customers without a manager: each sum an Index Only Scan (190 ms → a few ms for a
  distributor's admin, whose 30,000 customers a Bitmap Heap Scan took 15–40 ms to sum).

Warnings
- warning_partner_status_idx (partner_id, status, send_time DESC, id DESC): the inbox of one partner filtered
  by status, in its order (-send_time, -id); replaces (partner_id, status, send_time DESC), which left the
  id tiebreaker to a sort.
- warning_pending_idx (send_time DESC, id DESC) WHERE status = 'PENDING': the "Handle" tab over several
  partners: walked in the tab's order, the owner checked on the way (the first page reads ~40 entries).
- warning_customer_pending_idx (customer_id) WHERE status = 'PENDING': the recount of a customer's
  open_warning_count after each sync page, handling and linking (an index-only count of a few rows).
- warning_unlinked_pending_idx (partner_id) WHERE status = 'PENDING' AND customer_id IS NULL: the badge's
  second part, the pending warnings whose customer is not mirrored yet (rare: the index stays tiny).
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_audit_owner_partner_message_user_language'),
        ('customers', '0004_customer_open_warning_count'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='customer',
            name='customers_c_partner_aaa88d_idx',
        ),
        migrations.RemoveIndex(
            model_name='customerwarning',
            name='customers_c_partner_3db674_idx',
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(models.F('partner'), models.OrderBy(models.F('associated_on'), descending=True, nulls_last=True), models.F('id'), condition=models.Q(('disassociated_at__isnull', True)), name='customer_partner_list_idx'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(models.OrderBy(models.F('associated_on'), descending=True, nulls_last=True), models.F('id'), condition=models.Q(('disassociated_at__isnull', True)), name='customer_list_idx'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(condition=models.Q(('account_manager__isnull', True)), fields=['partner'], include=('open_warning_count',), name='customer_unmanaged_idx'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['account_manager', 'partner'], include=('open_warning_count',), name='customer_managed_idx'),
        ),
        migrations.AddIndex(
            model_name='customerwarning',
            index=models.Index(fields=['partner', 'status', '-send_time', '-id'], name='warning_partner_status_idx'),
        ),
        migrations.AddIndex(
            model_name='customerwarning',
            index=models.Index(condition=models.Q(('status', 'PENDING')), fields=['-send_time', '-id'], name='warning_pending_idx'),
        ),
        migrations.AddIndex(
            model_name='customerwarning',
            index=models.Index(condition=models.Q(('status', 'PENDING')), fields=['customer'], name='warning_customer_pending_idx'),
        ),
        migrations.AddIndex(
            model_name='customerwarning',
            index=models.Index(condition=models.Q(('customer__isnull', True), ('status', 'PENDING')), fields=['partner'], name='warning_unlinked_pending_idx'),
        ),
    ]
