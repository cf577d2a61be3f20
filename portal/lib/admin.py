"""Admin helpers shared by every app (imports no app).

Operators see the same privacy rules in the admin site as users see in the portal: rows the sync mirrors
from the upstream are read-only (the next sync would overwrite an edit, and the upstream is the truth),
and customers' personal data is masked wherever a row is listed or shown. Admin search never matches a
personal field by substring (that would let an operator recover a masked value one character at a time):
mirrored admins search by ids, and by whole values only (`=field`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext

from portal.lib.masking import mask

# A related customer (anything with `name` and `account_name`) is shown as 张* (hw*******3).
CUSTOMER = "customer"


def masked_customer(customer) -> str:
    """How a row's customer is shown in the admin: masked name and masked account name, or "—"."""
    if customer is None:
        return "—"
    name = mask("name", customer.name)
    account = mask("account_name", customer.account_name)
    if name and account:
        return f"{name} ({account})"
    return name or account or "—"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the portal's machinery only: operators look, they do not add, edit or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MaskedAdminMixin:
    """Shows personal fields masked in lists, view pages, page titles and breadcrumbs.

    `masked_fields` maps a field to its masking kind ("name", "account_name", "phone", "email") or to
    `CUSTOMER` for a foreign key to a customer; `shown_as` maps a field to a model attribute that already
    presents it safely (a warning's `title` → `masked_title`, which redacts the customer's name in it).
    Such fields are replaced by a masked column wherever `list_display` or the view page names them.
    Search fields naming them must match whole values (`=field`); a substring search is refused at start.
    """

    masked_fields: dict[str, str] = {}
    shown_as: dict[str, str] = {}
    change_form_template = "admin/masked_change_form.html"
    object_history_template = "admin/masked_object_history.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._masked_columns = {
            name: self._masked_column(name) for name in (*self.masked_fields, *self.shown_as)
        }
        for field in self.search_fields:
            name = field.lstrip("^=@").split("__")[0]
            if name in self._masked_columns and not field.startswith("="):
                raise ImproperlyConfigured(
                    f"{type(self).__name__}.search_fields: {field!r} searches a personal field by part of "
                    "its value; use '=' (whole value) or search by id."
                )

    def _masked_column(self, name: str) -> Callable:
        label = self.model._meta.get_field(name).verbose_name
        if name in self.shown_as:
            attribute = self.shown_as[name]

            def column(obj):
                return getattr(obj, attribute)

        elif self.masked_fields[name] == CUSTOMER:

            def column(obj):
                return masked_customer(getattr(obj, name))

        else:
            kind = self.masked_fields[name]

            def column(obj):
                return mask(kind, getattr(obj, name)) or "—"

        column.__name__ = f"masked_{name}"  # the column's CSS class, as for a method
        return admin.display(description=label)(column)

    def masks(self, obj) -> bool:
        """Whether the change page of obj shows personal fields masked (lists always do)."""
        return True

    def _masking(self, names) -> list:
        """names with each masked field replaced by its column (once): the form then never holds the field,
        so the value is neither shown in clear nor editable."""
        masked = [self._masked_columns.get(name, name) if isinstance(name, str) else name for name in names]
        return list(dict.fromkeys(masked))

    def get_list_display(self, request):
        return self._masking(super().get_list_display(request))

    def get_list_display_links(self, request, list_display):
        # The first column links to the row, masked or not (Django links by name, which a column lacks).
        return [list_display[0]] if list_display else None

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return self._masking(fields) if self.masks(obj) else fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.masks(obj):
            return fieldsets
        return [
            (title, {**options, "fields": self._masking(options["fields"])}) for title, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return self._masking(fields) if self.masks(obj) else fields

    def object_label(self, obj) -> str:
        """The row as named in page titles and breadcrumbs; override where `str(obj)` holds personal data."""
        return str(obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["subtitle"] = context["object_label"] = self.object_label(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            label = self.object_label(obj)
            extra_context = {
                **(extra_context or {}),
                "title": gettext("Change history: %s") % label,
                "object_label": label,
            }
        return super().history_view(request, object_id, extra_context)


class MirroredAdmin(MaskedAdminMixin, ReadOnlyAdmin):
    """Rows the sync writes from the upstream: view only, personal data masked."""
