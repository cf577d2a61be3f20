"""Customers mirrored from the upstream, their association history and the warnings about them."""

from __future__ import annotations

import functools

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner
from accounts.tenancy import PartnerScopedQuerySet
from portal.lib.masking import mask_contacts, redact
from portal.lib.text import db_text


class AssociationType(models.TextChoices):
    REFERRAL = "1", _("Referral")
    RESALE = "2", _("Resale")


# Only resale customers keep a balance with the partner; referral customers pay the platform directly.
# (`Customer.has_balance` is this rule for one row, `CustomerQuerySet.refresh_balances` for the column.)
HOLDS_BALANCE = models.Q(association_type=AssociationType.RESALE)


class CustomerQuerySet(PartnerScopedQuerySet):
    def associated(self):
        return self.filter(disassociated_at__isnull=True)

    def resale(self):
        return self.filter(association_type=AssociationType.RESALE)

    def refresh_balances(self) -> int:
        """Set `balance` of these customers from their resale account (billing's CustomerAccount), NULL for
        customers who hold no balance with us; only rows whose balance changes are written.

        Every path that writes an account's amount or a customer's association type calls this for the
        customers it touched (the balance sync, a succeeded adjustment, the customer sync), so the column
        always equals this recomputation (tests: test_balance_column). The rule "only resale customers have
        a balance" lives here and in `Customer.has_balance`.
        """
        from billing.models import CustomerAccount  # billing builds on customers, not the other way

        amount = CustomerAccount.objects.filter(customer=models.OuterRef("pk")).values("amount")[:1]
        fresh = models.Case(models.When(HOLDS_BALANCE, then=models.Subquery(amount)), default=None)
        return (
            self.order_by()
            .annotate(fresh=fresh)
            .filter(  # IS DISTINCT FROM: one side NULL and not the other, or both set and different
                models.Q(balance__isnull=True, fresh__isnull=False)
                | models.Q(balance__isnull=False, fresh__isnull=True)
                | models.Q(balance__lt=models.F("fresh"))
                | models.Q(balance__gt=models.F("fresh"))
            )
            .update(balance=fresh)
        )

    def recount_open_warnings(self) -> int:
        """Set `open_warning_count` of these customers to a recount of their pending warnings (exact).

        Every path that changes a warning's status or customer calls this for the customers it touched
        (the warnings sync after each page, handling, push failure, late linking). The rows are locked
        first, in primary-key order, by a statement of their own: the recount that follows then runs on a
        snapshot taken after every earlier writer of these customers committed (READ COMMITTED), so two
        transactions recounting the same customer cannot leave a stale number behind, nor deadlock.
        """
        with transaction.atomic():
            return self._recount_open_warnings()

    def _recount_open_warnings(self) -> int:
        ids = list(self.order_by("pk").select_for_update().values_list("pk", flat=True))
        if not ids:
            return 0
        pending = (
            CustomerWarning.objects.filter(
                customer=models.OuterRef("pk"), status=CustomerWarning.Status.PENDING
            )
            .order_by()
            .values("customer")
            .annotate(n=models.Count("pk"))
            .values("n")
        )
        return Customer.objects.filter(pk__in=ids).update(
            open_warning_count=Coalesce(models.Subquery(pending), 0)
        )

    def open_warnings_total(self) -> int:
        """The sum of the maintained counters: the pending warnings of these customers."""
        return self.aggregate(total=Coalesce(models.Sum("open_warning_count"), 0))["total"]


class Customer(models.Model):
    """A partner's customer, mirrored from ListSubCustomers."""

    class Frozen(models.IntegerChoices):
        NO = 0, _("Not frozen")
        ACCOUNT = 1, _("Account frozen")
        ACCOUNT_AND_RESOURCES = 2, _("Account and resources frozen")

    class Verified(models.IntegerChoices):
        NONE = -1, _("Not verified")
        REVIEWING = 0, _("Under review")
        FAILED = 1, _("Verification failed")
        VERIFIED = 2, _("Verified")

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="customers"
    )
    customer_id = models.CharField(_("customer ID"), max_length=64, unique=True)
    name = models.CharField(_("customer name"), max_length=200, blank=True)
    account_name = models.CharField(_("account name"), max_length=100, blank=True, db_index=True)
    phone = models.CharField(_("mobile phone"), max_length=32, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)
    country_code = models.CharField(_("country code"), max_length=8, blank=True)
    association_type = models.CharField(_("association type"), max_length=1, choices=AssociationType.choices)
    associated_on = models.DateTimeField(_("associated on"), null=True, blank=True)
    label = models.CharField(_("label"), max_length=200, blank=True)
    customer_level = models.CharField(_("customer level"), max_length=8, blank=True)
    verified_status = models.SmallIntegerField(
        _("verification"), null=True, blank=True, choices=Verified.choices
    )
    customer_type = models.SmallIntegerField(_("customer type"), null=True, blank=True)
    frozen_status = models.SmallIntegerField(_("frozen status"), default=0, choices=Frozen.choices)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_customers",
    )
    upstream_account_manager = models.CharField(_("account manager upstream"), max_length=100, blank=True)
    # Its pending warnings, maintained (CustomerQuerySet.recount_open_warnings) so that the list, its sort and
    # the badge read a column instead of counting a million warnings per request.
    # Its resale balance, copied from billing's account (CustomerQuerySet.refresh_balances) so that the list
    # sorts on an index of this table instead of joining and sorting every account (15 ms at 100k).
    balance = models.DecimalField(_("balance"), max_digits=16, decimal_places=2, null=True, blank=True)
    open_warning_count = models.PositiveIntegerField(_("open warnings"), default=0)
    # The runway of a resale balance, written by billing after each balance sync from the balance history it
    # keeps (billing.services.refresh_runway): the average daily spend over 30 days, and how many days the
    # balance lasts at that rate. None while the history is too short or nothing is spent.
    daily_spend = models.DecimalField(
        _("average daily spend"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    runway_days = models.PositiveIntegerField(_("days until zero"), null=True, blank=True)
    # Set when the customer no longer appears upstream: kept, marked disassociated, never deleted.
    disassociated_at = models.DateTimeField(_("disassociated on"), null=True, blank=True)
    created_at = models.DateTimeField(_("first synced"), default=timezone.now)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-associated_on", "id"]
        # Each index, the query it serves and the plan it gives: migration 0005.
        indexes = [
            models.Index(
                "partner",
                models.F("associated_on").desc(nulls_last=True),
                "id",
                name="customer_partner_list_idx",
                condition=models.Q(disassociated_at__isnull=True),
            ),
            models.Index(
                models.F("associated_on").desc(nulls_last=True),
                "id",
                name="customer_list_idx",
                condition=models.Q(disassociated_at__isnull=True),
            ),
            models.Index(
                fields=["partner"],
                include=["open_warning_count"],
                name="customer_unmanaged_idx",
                condition=models.Q(account_manager__isnull=True),
            ),
            models.Index(
                fields=["account_manager", "partner"],
                include=["open_warning_count"],
                name="customer_managed_idx",
            ),
            models.Index(fields=["partner", "association_type"]),
            # "Runs out within N days": the few customers with a runway, per partner.
            models.Index(
                fields=["partner", "runway_days"],
                name="customer_runway_idx",
                condition=models.Q(runway_days__isnull=False),
            ),
            # Sorted by balance, both ways (NULLs last either way), for one partner and across several.
            *(
                models.Index(
                    *partner,
                    models.OrderBy(models.F("balance"), descending=descending, nulls_last=True),
                    "id",
                    name=f"customer_{scope}bal_{'desc' if descending else 'asc'}_idx",
                    condition=models.Q(disassociated_at__isnull=True),
                )
                for partner, scope in ((("partner",), "partner_"), ((), ""))
                for descending in (True, False)
            ),
            # "Is this customer still associated?" answered from the index alone, per joined row (the
            # dashboard's resale customers in debt: migration 0013).
            models.Index(
                fields=["id"],
                name="customer_associated_idx",
                condition=models.Q(disassociated_at__isnull=True),
            ),
        ]
        permissions = [
            ("reveal_customer", _("Can reveal customers' personal data")),
            ("export_customer", _("Can export the customer list")),
            ("assign_account_manager", _("Can assign an account manager to a customer")),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_name})"

    @property
    def is_associated(self) -> bool:
        return self.disassociated_at is None

    @property
    def is_resale(self) -> bool:
        return self.association_type == AssociationType.RESALE

    @property
    def has_balance(self) -> bool:
        """Whether the customer keeps a balance with the partner (see HOLDS_BALANCE)."""
        return self.is_resale


class CustomerRecord(models.Model):
    """A row the upstream keeps about one customer (an event, a warning, a record, a discount).

    It names the customer by its upstream id, so it is kept even when that customer is not (or no
    longer) mirrored; `customer` links it when it is. Subclasses may redeclare `customer` to name the
    reverse relation.
    """

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    customer_upstream_id = models.CharField(_("customer ID"), max_length=64, db_index=True)

    class Meta:
        abstract = True


class AssociationEvent(CustomerRecord):
    """An association, disassociation or switch of a customer, from the upstream records or the portal."""

    class Operation(models.TextChoices):
        ASSOCIATE = "ASSOCIATE", _("Associate")
        DISASSOCIATE = "DISASSOCIATE", _("Disassociate")
        SWITCH = "SWITCH", _("Switch association type")

    class Source(models.TextChoices):
        UPSTREAM = "upstream", _("Cloud platform")
        PORTAL = "portal", _("Portal")

    class Initiator(models.TextChoices):
        PARTNER = "PARTNER", _("Partner")
        CUSTOMER = "CUSTOMER", _("Customer")
        PLATFORM = "PLATFORM", _("Platform")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    record_id = models.CharField(_("record ID"), max_length=64, null=True, blank=True, unique=True)
    operation = models.CharField(_("operation"), max_length=16, choices=Operation.choices)
    association_type = models.CharField(
        _("association type"), max_length=1, choices=AssociationType.choices, blank=True
    )
    from_association_type = models.CharField(
        _("previous association type"), max_length=1, choices=AssociationType.choices, blank=True
    )
    occurred_at = models.DateTimeField(_("operation time"), db_index=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.UPSTREAM)
    initiator = models.CharField(_("initiator"), max_length=16, choices=Initiator.choices, blank=True)
    initiated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("initiated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("association event")
        verbose_name_plural = _("association events")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "-occurred_at"]),
            # The records filtered by operation type (the dashboard's counts link there): migration 0013.
            models.Index(fields=["partner", "operation", "-occurred_at"], name="association_operation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} {self.customer_upstream_id} {self.occurred_at:%Y-%m-%d}"


# The calendar of AssociationDay's days (the trigger in migration 0008 names the same zone). Months in this
# zone are sums of whole days; months in another zone add the events of the partial days at their edges
# (portal/dashboard.py), so every user's buckets are exact.
ROLLUP_ZONE = "Asia/Shanghai"


class AssociationDay(models.Model):
    """One partner's association events of one day (in ROLLUP_ZONE), counted by operation.

    Maintained by database triggers on AssociationEvent (migration 0008): each statement that inserts, deletes
    or changes events adds its net change per (partner, day), in the writer's transaction, whoever the writer
    is (the sync's bulk upserts, the portal's association workflow, the admin). Concurrent writers serialise
    on the day's row, so it always equals a recount (`AssociationDay.recount`, tests: test_associations).
    The dashboard sums these rows instead of counting 500,000 events.
    """

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField(_("day"))
    associated = models.IntegerField(_("associations"), default=0)
    disassociated = models.IntegerField(_("disassociations"), default=0)
    switched = models.IntegerField(_("switches"), default=0)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("association events of a day")
        verbose_name_plural = _("association events by day")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "day"],
                include=["associated", "disassociated", "switched"],
                name="association_day_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.day}: +{self.associated} -{self.disassociated} ~{self.switched}"

    @staticmethod
    def recount(partner_ids) -> dict[tuple[int, object], tuple[int, int, int]]:
        """(partner id, day) → (associated, disassociated, switched), counted from the events themselves."""
        import zoneinfo

        from django.db.models.functions import TruncDay

        day = TruncDay("occurred_at", tzinfo=zoneinfo.ZoneInfo(ROLLUP_ZONE))
        rows = (
            AssociationEvent.objects.filter(partner_id__in=partner_ids)
            .order_by()
            .annotate(d=day)
            .values("partner_id", "d")
            .annotate(
                a=models.Count("pk", filter=models.Q(operation=AssociationEvent.Operation.ASSOCIATE)),
                u=models.Count("pk", filter=models.Q(operation=AssociationEvent.Operation.DISASSOCIATE)),
                s=models.Count("pk", filter=models.Q(operation=AssociationEvent.Operation.SWITCH)),
            )
        )
        return {(r["partner_id"], r["d"].date()): (r["a"], r["u"], r["s"]) for r in rows}


class CustomerTally(models.Model):
    """How many associated customers a partner has of one association type, level and label.

    Maintained by a database trigger on Customer (migration 0008), like AssociationDay: each statement that
    inserts, deletes or changes customers adds its net change per group, so the dashboard's "current
    customers by type, level and label" sums a few hundred rows instead of scanning 100,000 customers.
    Only associated customers (disassociated_at IS NULL) count.
    """

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    association_type = models.CharField(_("association type"), max_length=1, choices=AssociationType.choices)
    customer_level = models.CharField(_("customer level"), max_length=8, blank=True)
    label = models.CharField(_("label"), max_length=200, blank=True)
    customers = models.IntegerField(_("customers"), default=0)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer count")
        verbose_name_plural = _("customer counts")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "association_type", "customer_level", "label"],
                include=["customers"],
                name="customer_tally_unique",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.partner_id} {self.association_type}/{self.customer_level}/{self.label}: {self.customers}"
        )

    @staticmethod
    def recount(partner_ids) -> dict[tuple[int, str, str, str], int]:
        """(partner id, type, level, label) → associated customers, counted from the customers themselves."""
        rows = (
            Customer.objects.filter(partner_id__in=partner_ids, disassociated_at__isnull=True)
            .order_by()
            .values_list("partner_id", "association_type", "customer_level", "label")
            .annotate(n=models.Count("pk"))
        )
        return {tuple(row[:4]): row[4] for row in rows}


class WarningTally(models.Model):
    """How many pending warnings of one category a partner has: maintained by a database trigger on
    CustomerWarning (migration 0008), like CustomerTally, for the dashboard's "open warnings by category"
    (a distributor's resellers' 200,000 pending warnings took 110 ms to count)."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(_("category"), max_length=16)
    pending = models.IntegerField(_("pending"), default=0)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("pending warning count")
        verbose_name_plural = _("pending warning counts")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "category"], include=["pending"], name="warning_tally_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.category}: {self.pending}"

    @staticmethod
    def recount(partner_ids) -> dict[tuple[int, str], int]:
        """(partner id, category) → pending warnings, counted from the warnings themselves."""
        rows = (
            CustomerWarning.objects.filter(partner_id__in=partner_ids, status=CustomerWarning.Status.PENDING)
            .order_by()
            .values_list("partner_id", "category")
            .annotate(n=models.Count("pk"))
        )
        return {(partner_id, category): n for partner_id, category, n in rows}


class WarningStateError(Exception):
    """A warning was asked to make a state change its current state does not allow."""


@functools.cache
def _badge_sql(*, admin: bool) -> str:
    """CustomerWarningQuerySet.owned_pending_count's statement: built from the models' own table names and
    status (constants), with the user's ids as parameters."""
    customers, warnings = Customer._meta.db_table, CustomerWarning._meta.db_table
    managed = "SELECT SUM(open_warning_count) FROM {} WHERE account_manager_id = %s AND partner_id = %s"
    parts = [managed.format(customers)]
    if admin:
        unmanaged = (
            "SELECT SUM(open_warning_count) FROM {} WHERE account_manager_id IS NULL AND partner_id = %s"
        )
        unlinked = "SELECT COUNT(*) FROM {} WHERE status = '{}' AND customer_id IS NULL AND partner_id = %s"
        parts += [
            unmanaged.format(customers),
            unlinked.format(warnings, CustomerWarning.Status.PENDING.value),
        ]
    return "SELECT " + " + ".join(f"COALESCE(({part}), 0)" for part in parts)


class CustomerWarningQuerySet(PartnerScopedQuerySet):
    """Who owns, sees and may handle warnings: the one home of these rules (views, templates, tasks ask here).

    Ownership: a warning belongs to its customer's account manager; a customer without one (or a warning
    whose customer is not mirrored yet) belongs to the admins of the warning's own partner. A distributor's
    admins therefore own their own customers' warnings, not their resellers' (they may still handle an
    unmanaged reseller customer's warning on its behalf, see `handleable_by`).
    """

    def pending(self):
        return self.filter(status=CustomerWarning.Status.PENDING)

    def owned_by(self, user):
        """The user's warnings (the "Handle warnings" tab and the navigation badge)."""
        q = models.Q(customer__account_manager_id=user.pk)
        if user.is_partner_admin and user.partner_id is not None:
            q |= models.Q(customer__account_manager__isnull=True, partner_id=user.partner_id)
        return self.for_user(user).filter(q)

    def owned_pending_count(self, user) -> int:
        """`owned_by(user).pending().count()`, read from the customers' maintained counters (the badge).

        The same rule as owned_by, split by where the warning hangs: the pending warnings of the customers the
        user manages (and, for an admin, of its partner's customers without a manager) are the sum of those
        customers' `open_warning_count`; an admin also owns its partner's pending warnings whose customer is
        not mirrored yet (a partial index keeps that count tiny). A warning is stored under its customer's
        partner (the sync mirrors both in the same scope), so the two counts agree.

        One statement of up to three sums, each an index-only scan (customer_managed_idx,
        customer_unmanaged_idx, warning_unlinked_pending_idx; migration 0005). It is written in SQL because
        every open page polls it: the ORM took 2.4 ms to build the expression the database answers in 0.6.
        Table names and the status are the models' own constants; the user's ids are parameters.
        """
        if user.partner_id is None:
            return 0
        admin = user.is_partner_admin
        params = [user.pk, user.partner_id, *([user.partner_id, user.partner_id] if admin else [])]
        with connection.cursor() as cursor:
            cursor.execute(_badge_sql(admin=admin), params)
            return int(cursor.fetchone()[0])

    def visible_to(self, user):
        """The warnings the user may open: all of its partners' with `view_all_warnings`, else its own."""
        if user.has_perm("customers.view_all_warnings"):
            return self.for_user(user)
        return self.owned_by(user)

    def _handleable_q(self, user) -> models.Q:
        if not user.has_perm("customers.handle_warning") or user.partner_id is None:
            return models.Q(pk__in=[])
        who = models.Q(customer__account_manager_id=user.pk)
        if user.is_partner_admin:
            # Its own partner's unmanaged customers, and (a distributor) its resellers' on their behalf:
            # for_user() below limits the partners to those the user may see.
            who |= models.Q(customer__account_manager__isnull=True)
        return who & models.Q(status=CustomerWarning.Status.PENDING, push_pending=False)

    def handleable_by(self, user):
        """The warnings the user may handle now: pending, not being sent, and the user's to act on."""
        return self.for_user(user).filter(self._handleable_q(user))

    def with_handleable(self, user):
        """Annotate `handleable` (whether `user` may handle each row) on rows already scoped to the user."""
        return self.annotate(
            handleable=models.Case(
                models.When(self._handleable_q(user), then=models.Value(True)),
                default=models.Value(False),
                output_field=models.BooleanField(),
            )
        )


class CustomerWarning(CustomerRecord):
    """A warning about a customer (churn, resource, balance, arrears), mirrored from the upstream.

    Its life in the portal (`state`, from `status` and `push_pending`):

        pending ──mark_handled(user, result)──▶ sending ──mark_push_succeeded()──▶ handled
           ▲                                       │
           └─────────mark_push_failed(error)───────┘   (the upstream refused: pending again, reason shown)

    The sync mirrors the upstream's status into pending and handled rows (a warning handled on the platform
    arrives handled), never into a sending one: the portal's handling stands until the push is answered.
    Any other change raises WarningStateError.
    """

    class Category(models.TextChoices):
        CHURN = "CHURN", _("Churn")
        RESOURCE = "RESOURCE", _("Resource")
        BALANCE = "BALANCE", _("Balance")
        ARREARS = "ARREARS", _("Arrears")

    class Status(models.TextChoices):
        PENDING = "PENDING", _("Pending")
        HANDLED = "HANDLED", _("Handled")

    class Result(models.TextChoices):
        LOST = "LOST", _("Lost")
        NOT_LOST = "NOT_LOST", _("Not lost")
        HANDLED = "HANDLED", _("Handled")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Waiting for the cloud platform")
        HANDLED = "handled", _("Handled")

    TRANSITIONS = {
        State.PENDING: {State.SENDING},
        State.SENDING: {State.HANDLED, State.PENDING},
        State.HANDLED: set(),
    }

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="warnings",
    )
    warning_id = models.CharField(_("warning ID"), max_length=64, unique=True)
    scene_name = models.CharField(_("scene name"), max_length=100)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    title = models.CharField(_("title"), max_length=300)
    content = models.TextField(_("content"), blank=True)
    send_time = models.DateTimeField(_("send time"))  # indexed with the id: warning_list_idx
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    handle_result = models.CharField(_("handling result"), max_length=16, choices=Result.choices, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    remark = models.TextField(_("remark"), blank=True)
    # Handled in the portal and not yet confirmed upstream: the sync keeps the local status meanwhile.
    push_pending = models.BooleanField(_("waiting for the cloud platform"), default=False)
    handled_in_portal_at = models.DateTimeField(_("handled in the portal at"), null=True, blank=True)
    push_error = models.TextField(_("last push error"), blank=True)
    # Notifications sent about this warning (each is sent once).
    arrears_notified_at = models.DateTimeField(_("arrears email sent"), null=True, blank=True)
    digest_sent_at = models.DateTimeField(_("in a digest since"), null=True, blank=True)
    created_at = models.DateTimeField(_("first synced"), default=timezone.now)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = CustomerWarningQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer warning")
        verbose_name_plural = _("customer warnings")
        ordering = ["-send_time", "-id"]
        # Each index, the query it serves and the plan it gives: migration 0005.
        indexes = [
            models.Index(
                fields=["partner", "status", "-send_time", "-id"], name="warning_partner_status_idx"
            ),
            models.Index(
                fields=["-send_time", "-id"],
                name="warning_pending_idx",
                condition=models.Q(status="PENDING"),
            ),
            models.Index(fields=["-send_time", "-id"], include=["partner"], name="warning_list_idx"),
            models.Index(
                fields=["customer"], name="warning_customer_pending_idx", condition=models.Q(status="PENDING")
            ),
            models.Index(
                fields=["partner"],
                name="warning_unlinked_pending_idx",
                condition=models.Q(status="PENDING", customer__isnull=True),
            ),
        ]
        permissions = [
            ("handle_warning", _("Can handle warnings of own customers")),
            ("view_all_warnings", _("Can see all warnings of the partner")),
        ]

    def __str__(self) -> str:
        return self.masked_title

    # --- what may be shown ------------------------------------------------------------------------------

    def _personal_values(self) -> dict[str, str]:
        customer = self.customer if self.customer_id else None
        if customer is None:
            return {}
        return {
            "name": customer.name,
            "account_name": customer.account_name,
            "phone": customer.phone,
            "email": customer.email,
        }

    @property
    def masked_title(self) -> str:
        """The title as the portal shows and sends it (list, detail, <title>, emails): never unmasked.

        Upstream titles quote the customer. A known customer's values are masked where they appear; a
        customer not mirrored yet has no values to look for, so the title gives way to the scene and the
        category (which never name the customer).
        """
        if self.customer_id is None:
            return gettext("%(scene)s (%(category)s)") % {
                "scene": mask_contacts(self.scene_name),
                "category": self.get_category_display(),
            }
        return mask_contacts(redact(self.title, self._personal_values()))

    @property
    def masked_content(self) -> str:
        """The content as shown and sent: the customer's values masked, and any phone or email by pattern.

        A customer not mirrored yet has no values to look for, and a name has no shape to find it by: the
        content waits for the customer (the warnings sync fetches it in the same run, so this is rare).
        """
        if self.customer_id is None:
            return gettext("The content is shown once the customer is synced, as it may name the customer.")
        return mask_contacts(redact(self.content, self._personal_values()))

    # --- ownership (the queryset states the same rule for queries) ---------------------------------------

    def owners(self) -> list:
        """Who the warning belongs to: the customer's account manager, else the admins of its partner."""
        from accounts.models import ROLE_ADMIN, User

        manager = self.customer.account_manager if self.customer_id else None
        if manager is not None:
            return [manager] if manager.is_active else []
        return list(
            User.objects.filter(partner_id=self.partner_id, groups__name=ROLE_ADMIN, is_active=True)
            .distinct()
            .order_by("pk")
        )

    def can_be_handled_by(self, user) -> bool:
        """Whether the user may handle it now (the rule lives in CustomerWarningQuerySet.handleable_by)."""
        return type(self).objects.handleable_by(user).filter(pk=self.pk).exists()

    # --- state ------------------------------------------------------------------------------------------

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def state(self) -> str:
        if self.push_pending:
            return self.State.SENDING
        return self.State.PENDING if self.is_pending else self.State.HANDLED

    def _move(self, to: str) -> None:
        if to not in self.TRANSITIONS[self.State(self.state)]:
            raise WarningStateError(f"Warning #{self.pk} cannot go from {self.state} to {to}.")

    def results(self) -> list[tuple[str, str]]:
        """The handling results this warning's category takes: churn lost / not lost, others handled."""
        if self.category == self.Category.CHURN:
            return [(r.value, r.label) for r in (self.Result.LOST, self.Result.NOT_LOST)]
        return [(self.Result.HANDLED.value, self.Result.HANDLED.label)]

    def mark_handled(self, user, result: str, remark: str = "") -> None:
        """Handled in the portal by `user`: shown handled now, sent to the upstream next (sending)."""
        self._move(self.State.SENDING)
        if result not in {value for value, _label in self.results()}:
            raise WarningStateError(f"Warning #{self.pk} ({self.category}) cannot take the result {result}.")
        now = timezone.now()
        self.status = self.Status.HANDLED
        self.handle_result = result
        self.handler = user
        self.handled_at = now
        self.handled_in_portal_at = now
        self.remark = remark
        self.push_pending = True
        self.push_error = ""
        self.updated_at = now
        self.save(
            update_fields=[
                "status",
                "handle_result",
                "handler",
                "handled_at",
                "handled_in_portal_at",
                "remark",
                "push_pending",
                "push_error",
                "updated_at",
            ]
        )

    def mark_push_succeeded(self) -> None:
        """The upstream took the result: handled, and the sync may mirror the warning again."""
        self._move(self.State.HANDLED)
        self.push_pending = False
        self.push_error = ""
        self.updated_at = timezone.now()
        self.save(update_fields=["push_pending", "push_error", "updated_at"])

    def mark_push_failed(self, error: str) -> None:
        """The upstream refused the result: pending again, with its reason shown (handler and remark kept)."""
        self._move(self.State.PENDING)
        self.status = self.Status.PENDING
        self.handle_result = ""
        self.handled_at = None
        self.push_pending = False
        self.push_error = db_text(error)[:2000]
        self.updated_at = timezone.now()
        self.save(
            update_fields=[
                "status",
                "handle_result",
                "handled_at",
                "push_pending",
                "push_error",
                "updated_at",
            ]
        )


# --- association requests (switch / disassociation, confirmed by the other side) ----------------------------


class AssociationRequestError(Exception):
    """An association request was asked to make a state change its current state does not allow."""


class AssociationRequestQuerySet(PartnerScopedQuerySet):
    def open(self):
        return self.filter(status__in=AssociationRequest.OPEN)

    def due_to_expire(self, now=None):
        """Open requests still waiting for a side to decide whose time is up (`applying` ones never expire:
        the change is already on its way upstream)."""
        return self.filter(status__in=AssociationRequest.WAITING, expires_at__lte=now or timezone.now())


class AssociationRequest(models.Model):
    """A switch of association type or a disassociation, which the other side must confirm.

    Filed by the partner (switch or disassociation; the customer confirms on /confirm/<token>/) or by the
    customer (disassociation, from /my/; a partner admin decides). The dry run (the account check and the
    effects) is shown before filing and is not stored: a request exists from `pending_*` on.

        partner-initiated                         customer-initiated
        pending_customer ─customer agrees─┐       pending_partner ─partner approves─┐
          │ ├─customer rejects─▶ rejected │         │ ├─partner rejects─▶ rejected  │
          │ ├─partner withdraws─▶ withdrawn         │ ├─customer withdraws─▶ withdrawn
          │ └─7 days─▶ expired            │         │ └─7 days─▶ expired           │
          ▼                               ▼         ▼                              ▼
                         applying ──upstream applied──▶ approved (AssociationEvent written)
                             └────upstream refused───▶ failed (reason shown to both sides)

    `applying` is the outbox command ApplyAssociationChange in flight (it reconciles before any resend).
    Any other change raises AssociationRequestError (TRANSITIONS). One open request per customer (a partial
    unique constraint); the confirmation link is signed with `token_nonce` and works only while pending.
    """

    class Kind(models.TextChoices):
        # The values are the upstream's `change` codes (CheckAssociationChange / ApplyAssociationChange).
        SWITCH_TO_REFERRAL = "SWITCH_TO_REFERRAL", _("Switch to referral")
        SWITCH_TO_RESALE = "SWITCH_TO_RESALE", _("Switch to resale")
        DISASSOCIATE = "DISASSOCIATE", _("Disassociate")

    class Direction(models.TextChoices):
        PARTNER = "partner", _("Partner-initiated")
        CUSTOMER = "customer", _("Customer-initiated")

    class Status(models.TextChoices):
        PENDING_CUSTOMER = "pending_customer", _("Waiting for the customer")
        PENDING_PARTNER = "pending_partner", _("Waiting for the partner")
        APPLYING = "applying", _("Being applied")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        EXPIRED = "expired", _("Expired")
        FAILED = "failed", _("Failed")

    WAITING = (Status.PENDING_CUSTOMER, Status.PENDING_PARTNER)
    OPEN = (*WAITING, Status.APPLYING)
    TRANSITIONS = {
        Status.PENDING_CUSTOMER: {Status.APPLYING, Status.REJECTED, Status.WITHDRAWN, Status.EXPIRED},
        Status.PENDING_PARTNER: {Status.APPLYING, Status.REJECTED, Status.WITHDRAWN, Status.EXPIRED},
        Status.APPLYING: {Status.APPROVED, Status.FAILED},
        Status.APPROVED: set(),
        Status.REJECTED: set(),
        Status.WITHDRAWN: set(),
        Status.EXPIRED: set(),
        Status.FAILED: set(),
    }
    # The version of the two notices' text the customer accepts (关联关系切换须知, 客户关联合作伙伴须知).
    NOTICES_VERSION = "2026-11"

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="association_requests"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="association_requests"
    )
    kind = models.CharField(_("change"), max_length=24, choices=Kind.choices)
    direction = models.CharField(_("initiated by"), max_length=16, choices=Direction.choices)
    status = models.CharField(_("status"), max_length=24, choices=Status.choices)
    from_association_type = models.CharField(
        _("association type before"), max_length=1, choices=AssociationType.choices
    )
    reason = models.TextField(_("reason"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The balance the platform reclaims on a resale disassociation, as shown in the dry run when filing.
    balance_at_filing = models.DecimalField(
        _("balance when filed"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    created_at = models.DateTimeField(_("filed"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    reminded_at = models.DateTimeField(_("last reminder"), null=True, blank=True)
    token_nonce = models.CharField(max_length=32, default="", blank=True)
    # The decision: by the customer (partner-initiated) or by a partner admin (customer-initiated).
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    # The customer's consent: when, through which contact, and the notices' version accepted.
    customer_confirmed_at = models.DateTimeField(_("confirmed by the customer"), null=True, blank=True)
    customer_channel = models.CharField(_("confirmed through"), max_length=8, blank=True)
    notices_version = models.CharField(_("notices version"), max_length=16, blank=True)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)
    record_id = models.CharField(_("record ID"), max_length=64, blank=True)
    failure_reason = models.TextField(_("failure reason"), blank=True)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = AssociationRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("association request")
        verbose_name_plural = _("association requests")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "-created_at", "-id"], name="assocreq_partner_list_idx"),
            models.Index(
                fields=["expires_at"],
                name="assocreq_waiting_idx",
                condition=models.Q(status__in=["pending_customer", "pending_partner"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(status__in=["pending_customer", "pending_partner", "applying"]),
                name="one_open_association_request",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def audit_label(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    # --- what the change is -------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def is_waiting(self) -> bool:
        return self.status in self.WAITING

    @property
    def is_disassociation(self) -> bool:
        return self.kind == self.Kind.DISASSOCIATE

    @property
    def to_association_type(self) -> str:
        """The association type after the change ("" when the association ends)."""
        return {
            self.Kind.SWITCH_TO_REFERRAL: AssociationType.REFERRAL,
            self.Kind.SWITCH_TO_RESALE: AssociationType.RESALE,
        }.get(self.kind, "")

    def get_to_association_type_display(self) -> str:
        target = self.to_association_type
        return AssociationType(target).label if target else gettext("No association")

    def is_expired(self, now=None) -> bool:
        return self.is_waiting and self.expires_at <= (now or timezone.now())

    def seconds_left(self, now=None) -> int:
        return max(0, int((self.expires_at - (now or timezone.now())).total_seconds()))

    # --- state --------------------------------------------------------------------------------------------

    def _move(self, to: str, **fields) -> None:
        if to not in self.TRANSITIONS[self.Status(self.status)]:
            raise AssociationRequestError(f"Request #{self.pk} cannot go from {self.status} to {to}.")
        self.status = to
        self.updated_at = timezone.now()
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(update_fields=["status", "updated_at", *fields])

    def start_applying(self, *, decided_by=None, channel: str = "", notices_version: str = "") -> None:
        """The side asked agreed: the change goes upstream (the outbox command is written alongside)."""
        if self.is_expired():
            raise AssociationRequestError(f"Request #{self.pk} has expired.")
        now = timezone.now()
        fields = {"decided_at": now, "decided_by": decided_by, "token_nonce": ""}
        if self.status == self.Status.PENDING_CUSTOMER:
            fields |= {
                "customer_confirmed_at": now,
                "customer_channel": channel,
                "notices_version": notices_version,
            }
        self._move(self.Status.APPLYING, **fields)

    def reject(self, *, reason: str = "", decided_by=None) -> None:
        if self.is_expired():
            raise AssociationRequestError(f"Request #{self.pk} has expired.")
        self._move(
            self.Status.REJECTED,
            decided_at=timezone.now(),
            decided_by=decided_by,
            decision_reason=reason,
            token_nonce="",
        )

    def withdraw(self) -> None:
        self._move(self.Status.WITHDRAWN, token_nonce="")

    def expire(self) -> None:
        if not self.is_expired():
            raise AssociationRequestError(f"Request #{self.pk} has not expired yet.")
        self._move(self.Status.EXPIRED, token_nonce="")

    def mark_applied(self, record_id: str = "") -> None:
        self._move(self.Status.APPROVED, applied_at=timezone.now(), record_id=record_id or "")

    def mark_failed(self, reason: str) -> None:
        self._move(self.Status.FAILED, failure_reason=db_text(reason)[:2000])


class CustomerCode(models.Model):
    """A one-time code sent to a customer's registered email or phone: to confirm a request or sign in to
    /my/. Stored hashed; valid STEP_UP_CODE_TTL, STEP_UP_MAX_ATTEMPTS tries, used once, resent after
    STEP_UP_RESEND_SECONDS (the staff step-up settings)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    class Purpose(models.TextChoices):
        CONFIRM = "confirm", _("Confirm a request")
        SIGN_IN = "sign_in", _("Sign in")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    code_hash = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("customer code")
        verbose_name_plural = _("customer codes")
        constraints = [
            models.UniqueConstraint(fields=["customer", "purpose"], name="one_customer_code_per_purpose")
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} #{self.pk}"


# Orders and partner payments (issue 12) live in their own module; importing them here registers the models.
# Customer onboarding and real-name verification (issue 14): customers/onboarding.py, customers/realname.py.
from customers.invitations import Invitation  # noqa: E402, F401
from customers.onboarding import CustomerApplication  # noqa: E402, F401
from customers.orders import Order, OrderStatus, OrderType, PartnerPayment  # noqa: E402, F401
from customers.realname import RealnameApplication, RealnameDocument, RealnameUpload  # noqa: E402, F401
from customers.resources import Resource, ResourcePackage  # noqa: E402, F401
