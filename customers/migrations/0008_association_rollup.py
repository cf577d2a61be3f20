"""Maintained counts for the dashboard (issue 11): association events per partner and day, associated
customers per partner, association type, level and label, and pending warnings per partner and category.
All kept exact by triggers.

- AssociationDay (one row per partner and day, Asia/Shanghai): the dashboard's twelve monthly counts of
  associations, disassociations and switches would count up to 500,000 events per request; they sum these
  rows (at most 366 per partner and year) instead.
- CustomerTally (one row per partner, association type, level and label, associated customers only): the
  dashboard's "current customers" would scan a distributor's 100,000 customers (72 ms); it sums these.
- WarningTally (one row per partner and category): pending warnings, for "open warnings by category" (the
  resellers' 200,000 pending warnings of 1,000,000 took 110 ms to count by category).

Why triggers: the counts must equal a recount whoever writes (the syncs' bulk upserts, the portal's
association workflow, the admin site, a later migration). Each is an AFTER … FOR EACH STATEMENT trigger with
transition tables: per statement, the net change per group (new rows minus old rows) is added with one
INSERT … ON CONFLICT DO UPDATE, in the writer's own transaction. Groups whose net change is zero (a re-synced
row that kept its partner, day and operation; a customer whose balance or counter changed) are not written.
Concurrent writers of the same group serialise on its row lock, so no increment is lost; groups are written
in key order, so two writers do not deadlock on each other's groups. Statement-level, not per row: a
100-row sync page writes each touched group once, and the tables do not bloat with a dead row version per
event (500,000 events inserted in one statement: 15 s with the trigger, 18 s without, i.e. noise; a 100-row
customer page update: 1–2 ms more).

Days are calendar days in Asia/Shanghai (customers.models.ROLLUP_ZONE): the portal's default zone, so months
of users there are sums of whole days. A user in another zone gets its months from the days inside them plus
a count of the events of the partial days at the month's edges (portal/dashboard.py).

The existing rows are counted in once, here.
"""

import django.db.models.deletion
from django.db import migrations, models

ZONE = "Asia/Shanghai"  # customers.models.ROLLUP_ZONE (a migration does not import the app's code)

EVENT_DELTA = f"""
    INSERT INTO customers_associationday AS d (partner_id, day, associated, disassociated, switched)
    SELECT partner_id, (occurred_at AT TIME ZONE '{ZONE}')::date,
           COALESCE(SUM(n) FILTER (WHERE operation = 'ASSOCIATE'), 0),
           COALESCE(SUM(n) FILTER (WHERE operation = 'DISASSOCIATE'), 0),
           COALESCE(SUM(n) FILTER (WHERE operation = 'SWITCH'), 0)
    FROM ({{rows}}) AS delta
    GROUP BY 1, 2
    HAVING COALESCE(SUM(n) FILTER (WHERE operation = 'ASSOCIATE'), 0) <> 0
        OR COALESCE(SUM(n) FILTER (WHERE operation = 'DISASSOCIATE'), 0) <> 0
        OR COALESCE(SUM(n) FILTER (WHERE operation = 'SWITCH'), 0) <> 0
    ORDER BY 1, 2
    ON CONFLICT (partner_id, day) DO UPDATE SET
        associated = d.associated + EXCLUDED.associated,
        disassociated = d.disassociated + EXCLUDED.disassociated,
        switched = d.switched + EXCLUDED.switched;
"""
EVENT_NEW = "SELECT partner_id, occurred_at, operation, 1 AS n FROM new_rows"
EVENT_OLD = "SELECT partner_id, occurred_at, operation, -1 AS n FROM old_rows"

CUSTOMER_DELTA = """
    INSERT INTO customers_customertally AS t (partner_id, association_type, customer_level, label, customers)
    SELECT partner_id, association_type, customer_level, label, SUM(n)
    FROM ({rows}) AS delta
    GROUP BY 1, 2, 3, 4
    HAVING SUM(n) <> 0
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (partner_id, association_type, customer_level, label) DO UPDATE SET
        customers = t.customers + EXCLUDED.customers;
"""
CUSTOMER_NEW = (
    "SELECT partner_id, association_type, customer_level, label, 1 AS n FROM new_rows "
    "WHERE disassociated_at IS NULL"
)
CUSTOMER_OLD = (
    "SELECT partner_id, association_type, customer_level, label, -1 AS n FROM old_rows "
    "WHERE disassociated_at IS NULL"
)

WARNING_DELTA = """
    INSERT INTO customers_warningtally AS t (partner_id, category, pending)
    SELECT partner_id, category, SUM(n)
    FROM ({rows}) AS delta
    GROUP BY 1, 2
    HAVING SUM(n) <> 0
    ORDER BY 1, 2
    ON CONFLICT (partner_id, category) DO UPDATE SET pending = t.pending + EXCLUDED.pending;
"""
WARNING_NEW = "SELECT partner_id, category, 1 AS n FROM new_rows WHERE status = 'PENDING'"
WARNING_OLD = "SELECT partner_id, category, -1 AS n FROM old_rows WHERE status = 'PENDING'"


def trigger_sql(table: str, name: str, delta: str, new: str, old: str) -> str:
    """One plpgsql function for the three statement triggers of `table` (each names the transition tables it
    has: INSERT new_rows, DELETE old_rows, UPDATE both)."""
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {delta.format(rows=new)}
    ELSIF TG_OP = 'DELETE' THEN
        {delta.format(rows=old)}
    ELSE
        {delta.format(rows=new + " UNION ALL " + old)}
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER {name}_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
CREATE TRIGGER {name}_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
CREATE TRIGGER {name}_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
"""


def drop_sql(table: str, name: str) -> str:
    return "".join(f"DROP TRIGGER IF EXISTS {name}_{op} ON {table};\n" for op in ("insert", "update", "delete")) + (
        f"DROP FUNCTION IF EXISTS {name}();\n"
    )


FORWARD = (
    trigger_sql("customers_associationevent", "customers_association_day", EVENT_DELTA, EVENT_NEW, EVENT_OLD)
    + trigger_sql("customers_customer", "customers_customer_tally", CUSTOMER_DELTA, CUSTOMER_NEW, CUSTOMER_OLD)
    + trigger_sql("customers_customerwarning", "customers_warning_tally", WARNING_DELTA, WARNING_NEW, WARNING_OLD)
    + f"""
INSERT INTO customers_associationday (partner_id, day, associated, disassociated, switched)
SELECT partner_id, (occurred_at AT TIME ZONE '{ZONE}')::date,
       COUNT(*) FILTER (WHERE operation = 'ASSOCIATE'),
       COUNT(*) FILTER (WHERE operation = 'DISASSOCIATE'),
       COUNT(*) FILTER (WHERE operation = 'SWITCH')
FROM customers_associationevent
GROUP BY 1, 2;
INSERT INTO customers_customertally (partner_id, association_type, customer_level, label, customers)
SELECT partner_id, association_type, customer_level, label, COUNT(*)
FROM customers_customer WHERE disassociated_at IS NULL
GROUP BY 1, 2, 3, 4;
INSERT INTO customers_warningtally (partner_id, category, pending)
SELECT partner_id, category, COUNT(*)
FROM customers_customerwarning WHERE status = 'PENDING'
GROUP BY 1, 2;
"""
)
BACKWARD = (
    drop_sql("customers_associationevent", "customers_association_day")
    + drop_sql("customers_customer", "customers_customer_tally")
    + drop_sql("customers_customerwarning", "customers_warning_tally")
)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_audit_owner_partner_message_user_language'),
        ('customers', '0007_warning_list_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='AssociationDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='day')),
                ('associated', models.IntegerField(default=0, verbose_name='associations')),
                ('disassociated', models.IntegerField(default=0, verbose_name='disassociations')),
                ('switched', models.IntegerField(default=0, verbose_name='switches')),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.partner', verbose_name='partner')),
            ],
            options={
                'verbose_name': 'association events of a day',
                'verbose_name_plural': 'association events by day',
                'constraints': [models.UniqueConstraint(fields=('partner', 'day'), include=('associated', 'disassociated', 'switched'), name='association_day_unique')],
            },
        ),
        migrations.CreateModel(
            name='CustomerTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('association_type', models.CharField(choices=[('1', 'Referral'), ('2', 'Resale')], max_length=1, verbose_name='association type')),
                ('customer_level', models.CharField(blank=True, max_length=8, verbose_name='customer level')),
                ('label', models.CharField(blank=True, max_length=200, verbose_name='label')),
                ('customers', models.IntegerField(default=0, verbose_name='customers')),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.partner', verbose_name='partner')),
            ],
            options={
                'verbose_name': 'customer count',
                'verbose_name_plural': 'customer counts',
                'constraints': [models.UniqueConstraint(fields=('partner', 'association_type', 'customer_level', 'label'), include=('customers',), name='customer_tally_unique')],
            },
        ),
        migrations.CreateModel(
            name='WarningTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('category', models.CharField(max_length=16, verbose_name='category')),
                ('pending', models.IntegerField(default=0, verbose_name='pending')),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.partner', verbose_name='partner')),
            ],
            options={
                'verbose_name': 'pending warning count',
                'verbose_name_plural': 'pending warning counts',
                'constraints': [models.UniqueConstraint(fields=('partner', 'category'), include=('pending',), name='warning_tally_unique')],
            },
        ),
        migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD),
    ]
