"""The form that creates a customer account (issue 14)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import AssociationType
from customers.onboarding import (
    CHINA_MOBILE_RE,
    account_name_problem,
    email_code_problem,
    phone_code_problem,
    regions,
)
from customers.services import eligible_account_managers


class NewCustomerForm(forms.Form):
    account_name = forms.CharField(
        label=_("Account name"),
        max_length=32,
        help_text=_("The customer signs in with it; it cannot be changed later."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=200, required=False)
    contact_email = forms.EmailField(
        label=_("Contact email"),
        max_length=64,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    email_code = forms.RegexField(
        label=_("Code sent to the email"),
        regex=r"^[0-9]{6}$",
        error_messages={"invalid": _("The 6 digits of the code.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6}
        ),
    )
    contact_phone = forms.RegexField(
        label=_("Contact mobile phone"),
        regex=CHINA_MOBILE_RE,
        max_length=11,
        error_messages={"invalid": _("A mainland China mobile number: 11 digits, starting with 1.")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric", "maxlength": 11}),
    )
    phone_code = forms.RegexField(
        label=_("Code sent by SMS"),
        regex=r"^[0-9]{6}$",
        error_messages={"invalid": _("The 6 digits of the code.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6}
        ),
    )
    association_type = forms.ChoiceField(
        label=_("Association type"), choices=AssociationType.choices, initial=AssociationType.RESALE
    )
    label = forms.CharField(label=_("Label"), max_length=200, required=False)
    province = forms.ChoiceField(label=_("Province"), required=False)
    city = forms.ChoiceField(label=_("City"), required=False)
    county = forms.ChoiceField(label=_("County or district"), required=False)
    address = forms.CharField(label=_("Street address"), max_length=200, required=False)
    account_manager = forms.ModelChoiceField(
        label=_("Account manager"), queryset=None, required=False, empty_label=_("— none (partner admins) —")
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["association_type"].choices = [
            (AssociationType.RESALE, AssociationType.RESALE.label),
            (AssociationType.REFERRAL, AssociationType.REFERRAL.label),
        ]
        self.fields["account_manager"].queryset = eligible_account_managers([user.partner_id])
        # Each picker offers the regions under the one chosen above it (from the platform, cached).
        province = self.data.get("province") or ""
        city = self.data.get("city") or ""
        self.fields["province"].choices = [("", _("— choose —")), *regions()]
        self.fields["city"].choices = [("", _("— choose —")), *(regions(province) if province else [])]
        self.fields["county"].choices = [
            ("", _("— choose —")),
            *(regions(city) if city.startswith(f"{province}-") else []),
        ]

    def clean(self):
        data = super().clean()
        picked = [bool(data.get(name)) for name in ("province", "city", "county")]
        if any(picked) and not all(picked):
            raise forms.ValidationError(_("Choose the province, the city and the county, or none of them."))
        # The contacts: the email's code is the portal's (checked here; a wrong guess counts), the SMS code
        # the platform's (checked when it creates the account; here only that one was sent to this number).
        if data.get("contact_email") and data.get("email_code"):
            problem = email_code_problem(self.user, data["contact_email"], data["email_code"])
            if problem:
                self.add_error("email_code", problem)
        if data.get("contact_phone") and data.get("phone_code"):
            problem = phone_code_problem(self.user, data["contact_phone"])
            if problem:
                self.add_error("phone_code", problem)
        return data

    def clean_contact_email(self) -> str:
        return self.cleaned_data["contact_email"].strip()

    def clean_account_name(self) -> str:
        name = self.cleaned_data["account_name"].strip()
        problem = account_name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name


class DocumentSlotsForm(forms.Form):
    """A verification form's documents: each slot takes a file with the form (plain multipart, without
    JavaScript) or the key of the user's own upload made ahead of it (drag and drop, static/js/upload.js).
    A key that is not the user's upload for this customer and slot is an error, never someone else's file."""

    document_fields: tuple[str, ...] = ()
    kind = ""

    def __init__(self, *args, user, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.user, self.customer = user, customer
        self.pending: dict = {}  # slot → the RealnameUpload its key names
        for name in self.document_fields:
            self.fields[name].required = False
            self.fields[f"{name}_upload"] = forms.CharField(
                required=False, max_length=64, widget=forms.HiddenInput(attrs={"data-upload-key": name})
            )

    def clean(self):
        from customers.realname import pending_upload

        data = super().clean()
        for name in self.document_fields:
            if data.get(name):
                continue
            key = (data.get(f"{name}_upload") or "").strip()
            upload = pending_upload(self.user, self.customer, key, name) if key else None
            if upload is not None:
                self.pending[name] = upload
            elif key:
                self.add_error(name, _("The uploaded file is no longer available; upload it again."))
            else:
                self.add_error(name, _("Add this document."))
        return data

    def slots(self) -> list[dict]:
        """Per document: its file field, the hidden key of an upload, and that upload (when already made)."""
        return [
            {"field": self[name], "key": self[f"{name}_upload"], "upload": self.pending.get(name)}
            for name in self.document_fields
        ]


class EnterpriseVerificationForm(DocumentSlotsForm):
    """An enterprise's real-name verification: the company, its licence, its representative's ID card."""

    document_fields = ("licence", "id_front", "id_back")
    kind = "enterprise"

    corp_name = forms.CharField(label=_("Company name"), max_length=200)
    certificate_number = forms.RegexField(
        label=_("Certificate number"),
        regex=r"^[0-9A-Z]{15,20}$",
        max_length=20,
        help_text=_("The unified social credit code on the licence (18 characters)."),
        error_messages={"invalid": _("15 to 20 digits or capital letters.")},
    )
    representative = forms.CharField(label=_("Legal representative"), max_length=100)
    representative_id = forms.RegexField(
        label=_("Representative's ID number"),
        regex=r"^[0-9]{17}[0-9Xx]$",
        error_messages={"invalid": _("18 characters: 17 digits, then a digit or X.")},
    )
    licence = forms.FileField(
        label=_("Business licence"), help_text=_("JPG, PNG, GIF, BMP or PDF, at most 10 MB.")
    )
    id_front = forms.FileField(label=_("ID card, portrait side"))
    id_back = forms.FileField(label=_("ID card, emblem side"))

    def clean_certificate_number(self):
        return self.cleaned_data["certificate_number"].upper()

    def clean_representative_id(self):
        from customers.realname import id_checksum_ok

        number = self.cleaned_data["representative_id"].upper()
        if not id_checksum_ok(number):
            raise forms.ValidationError(
                _("This number's check character is wrong; check it against the ID card.")
            )
        return number


class PersonalVerificationForm(DocumentSlotsForm):
    """A person's real-name verification by document (identify_type 0): name, the document's type and
    number, and its three images in the platform's order."""

    document_fields = ("doc_front", "doc_back", "doc_held")
    kind = "personal"

    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("As written on the document."), strip=True
    )
    document_type = forms.TypedChoiceField(label=_("Document type"), coerce=int, choices=())
    document_number = forms.CharField(
        label=_("Document number"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    doc_front = forms.FileField(
        label=_("Document, front"),
        help_text=_(
            "The portrait side; for a passport, the personal data page. JPG, PNG, GIF, BMP or PDF, at most "
            "10 MB."
        ),
    )
    doc_back = forms.FileField(
        label=_("Document, back"), help_text=_("The other side; for a passport, the entry stamp page.")
    )
    doc_held = forms.FileField(
        label=_("Photo holding the document"),
        help_text=_("A photo of the person holding the document, its front (portrait side) shown."),
    )

    def __init__(self, *args, **kwargs):
        from customers.realname import RealnameApplication

        super().__init__(*args, **kwargs)
        self.fields["document_type"].choices = [
            ("", _("— choose —")),
            *RealnameApplication.DocumentType.choices,
        ]

    def clean_document_number(self) -> str:
        return "".join(self.cleaned_data["document_number"].split()).upper()

    def clean(self):
        from customers.realname import document_number_problem

        data = super().clean()
        if data.get("document_type") and data.get("document_number"):
            problem = document_number_problem(data["document_type"], data["document_number"])
            if problem:
                self.add_error("document_number", problem)
        return data


VERIFICATION_FORMS = {"enterprise": EnterpriseVerificationForm, "personal": PersonalVerificationForm}
