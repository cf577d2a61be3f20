import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import AuditEvent, Partner
from accounts.roles import ROLE_PERMISSIONS
from accounts.tenancy import get_for_user_or_404, get_partner_or_404, scoped
from accounts.tests.urlwalk import EXPECTED_STATUS, FOREIGN_ARGUMENTS, PUBLIC_VIEWS, staff_patterns

pytestmark = pytest.mark.django_db


class TestScoping:
    def test_a_reseller_sees_only_its_own_rows(self, partners, ra_admin):
        AuditEvent.objects.create(partner=partners["ra"], action="x")
        AuditEvent.objects.create(partner=partners["rb"], action="y")
        assert list(scoped(AuditEvent, ra_admin).values_list("action", flat=True)) == ["x"]

    def test_a_distributor_also_sees_its_resellers_rows(self, partners, dist_admin):
        for key in ("dist", "ra", "rb"):
            AuditEvent.objects.create(partner=partners[key], action=key)
        assert set(scoped(AuditEvent, dist_admin).values_list("action", flat=True)) == {"dist", "ra", "rb"}
        assert set(partners["dist"].visible_partner_ids()) == {p.pk for p in partners.values()}

    def test_another_tenants_object_is_a_404(self, partners, ra_admin):
        from django.http import Http404

        foreign = AuditEvent.objects.create(partner=partners["rb"], action="secret")
        with pytest.raises(Http404):
            get_for_user_or_404(AuditEvent, ra_admin, pk=foreign.pk)
        own = AuditEvent.objects.create(partner=partners["ra"], action="mine")
        assert get_for_user_or_404(AuditEvent, ra_admin, pk=own.pk) == own

    def test_a_reseller_cannot_act_for_its_sibling_or_its_distributor(self, partners, ra_admin, dist_admin):
        from django.http import Http404

        with pytest.raises(Http404):
            get_partner_or_404(ra_admin, partners["rb"].pk)
        with pytest.raises(Http404):
            get_partner_or_404(ra_admin, partners["dist"].pk)
        assert get_partner_or_404(dist_admin, partners["rb"].pk) == partners["rb"]

    def test_a_user_without_partner_sees_nothing(self, partners, django_user_model):
        AuditEvent.objects.create(partner=partners["ra"], action="x")
        loner = django_user_model.objects.create_user("loner", password="x")
        assert not scoped(AuditEvent, loner).exists()

    def test_a_reseller_must_have_a_distributor(self, db):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            Partner.objects.create(name="Orphan", tier="reseller", upstream_id="ip-orphan")


class TestRoles:
    def test_each_role_group_has_exactly_its_permissions(self, db):
        for role, perms in ROLE_PERMISSIONS.items():
            group = Group.objects.get(name=role)
            have = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
            assert have == set(perms), role

    def test_the_role_shows_in_the_shell(self, client_for, ra_sales):
        page = client_for(ra_sales).get("/").content.decode()
        assert "Reseller A" in page
        assert ra_sales.role_label in page

    def test_partner_settings_are_for_admins_only(self, client_for, ra_sales, ra_admin):
        assert client_for(ra_sales).get(reverse("accounts:partner-settings")).status_code == 403
        assert client_for(ra_admin).get(reverse("accounts:partner-settings")).status_code == 200

    def test_an_admin_turns_on_verification_codes_and_it_is_audited(self, client_for, ra_admin, partners):
        response = client_for(ra_admin).post(reverse("accounts:partner-settings"), {"require_step_up": "on"})
        assert response.status_code == 302
        partners["ra"].refresh_from_db()
        assert partners["ra"].require_step_up
        assert AuditEvent.objects.filter(action="partner_settings_changed", partner=partners["ra"]).exists()

    def test_the_audit_log_is_for_admins_and_shows_only_the_tenants_events(
        self, client_for, ra_admin, ra_finance, partners
    ):
        AuditEvent.objects.create(partner=partners["ra"], action="ours", summary="ours-summary")
        AuditEvent.objects.create(partner=partners["rb"], action="theirs", summary="theirs-summary")
        assert client_for(ra_finance).get(reverse("accounts:audit")).status_code == 403
        page = client_for(ra_admin).get(reverse("accounts:audit")).content.decode()
        assert "ours-summary" in page and "theirs-summary" not in page

    def test_the_audit_log_answers_htmx_with_the_table_only(self, client_for, ra_admin):
        response = client_for(ra_admin).get(reverse("accounts:audit"), headers={"HX-Request": "true"})
        assert response.status_code == 200
        assert b'id="audit-table"' in response.content and b"<html" not in response.content

    def test_audit_events_are_immutable(self, partners):
        event = AuditEvent.objects.create(partner=partners["ra"], action="x")
        with pytest.raises(TypeError):
            event.save()
        with pytest.raises(TypeError):
            event.delete()
        with pytest.raises(TypeError):
            AuditEvent.objects.filter(pk=event.pk).update(action="y")


def _url_for(pattern, partners):
    view_name, entry = pattern
    params = list(entry.pattern.converters)
    missing = [p for p in params if p not in FOREIGN_ARGUMENTS]
    assert not missing, f"{view_name}: register a foreign value for {missing} in accounts/tests/urlwalk.py"
    return reverse(view_name, kwargs={p: FOREIGN_ARGUMENTS[p](partners) for p in params}), bool(params)


class TestEveryStaffUrl:
    """The exact answer of every staff URL to every method (accounts/tests/urlwalk.py:EXPECTED_STATUS)."""

    def test_every_staff_url_has_its_expected_status_written_down(self):
        names = {name for name, _entry in staff_patterns()} - PUBLIC_VIEWS
        assert names == set(EXPECTED_STATUS), (
            f"add to EXPECTED_STATUS: {sorted(names - set(EXPECTED_STATUS))}; "
            f"remove: {sorted(set(EXPECTED_STATUS) - names)}"
        )

    def test_anonymous_users_are_sent_to_sign_in_everywhere(self, client, partners):
        for view_name, entry in staff_patterns():
            if view_name in PUBLIC_VIEWS:
                continue
            url, _has_args = _url_for((view_name, entry), partners)
            for method, expected in zip(("get", "post"), EXPECTED_STATUS[view_name][0], strict=True):
                response = getattr(client, method)(url)
                assert response.status_code == expected, f"{method.upper()} {url}: {response.status_code}"
                if expected == 302:
                    assert response["Location"].startswith("/accounts/login/?next="), url

    def test_outsiders_get_404_for_other_tenants_objects(self, client_for, rb_admin, partners):
        client = client_for(rb_admin)
        with_args = 0
        for view_name, entry in staff_patterns():
            if view_name in PUBLIC_VIEWS:
                continue
            url, has_args = _url_for((view_name, entry), partners)
            expected_statuses = EXPECTED_STATUS[view_name][1]
            if has_args:
                with_args += 1
                # Never 403 (that would confirm the object exists) and never the object itself.
                assert set(expected_statuses) <= {404, 405}, view_name
            for method, expected in zip(("get", "post"), expected_statuses, strict=True):
                response = getattr(client, method)(url)
                assert response.status_code == expected, f"{method.upper()} {url}: {response.status_code}"
        assert with_args >= 9
