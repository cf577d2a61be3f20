"""The customer's own pages, outside the staff area (no staff sign-in): `/confirm/<token>/` and `/my/`.

- `/confirm/<token>/`: the signed link a partner's request sends the customer. It works while the request
  waits for the customer (services.request_for_token); anything else (tampered, used, withdrawn, expired,
  decided) shows one clear page and changes nothing. The decision needs the two notices (to agree) and a
  one-time code sent to the customer's registered email or phone.
- `/my/`: the customer signs in with a code sent to its registered contact (no password; the session holds
  the customer's id), sees its partner, its requests and the consent receipts, and may ask to disassociate.
  A customer only ever reaches its own requests (another's id: 404).
"""

from __future__ import annotations

import contextlib

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers import services
from customers.forms import (
    CodeChannelForm,
    CustomerDecisionForm,
    CustomerUnbindForm,
    MyCodeForm,
    MySignInForm,
)
from customers.models import AssociationRequest, Customer, CustomerCode
from portal.lib.htmx import render_page
from portal.lib.masking import mask

SESSION_KEY = "my_customer"
PENDING_KEY = "my_pending"  # the customer a sign-in code went to (not signed in yet)


def _channels(customer: Customer) -> list[tuple[str, str, str]]:
    """(channel, label, masked address) of the customer's registered contacts."""
    labels = dict(CustomerCode.Channel.choices)
    masked = {"email": mask("email", customer.email), "sms": mask("phone", customer.phone)}
    return [(c, labels[c], masked[c]) for c in services.customer_channels(customer)]


# --- the confirmation link ----------------------------------------------------------------------------------


def _invalid(request):
    return render(request, "customers/confirm_invalid.html", status=410)


def _confirm_context(association_request, form, *, check=True) -> dict:
    customer = association_request.customer
    return {
        "r": association_request,
        "token": None,
        "account": mask("account_name", customer.account_name),
        "check": services.run_account_check(customer, association_request.kind) if check else None,
        "effects": services.effects(customer, association_request.kind),
        "channels": _channels(customer),
        "form": form,
    }


@require_http_methods(["GET", "POST"])
@never_cache
def confirm(request, token: str):
    try:
        association_request = services.request_for_token(token)
    except services.BadToken:
        return _invalid(request)
    form = CustomerDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        code_row = CustomerCode.objects.filter(
            customer=association_request.customer, purpose=CustomerCode.Purpose.CONFIRM
        ).first()
        try:
            decided = services.customer_decide(
                association_request.pk,
                association_request.token_nonce,
                agree=data["decision"] == "agree",
                code=data["code"],
                reason=data.get("reason", ""),
                channel=code_row.channel if code_row else "",
            )
        except services.ServiceError as error:
            form.add_error(None, error.message)
        else:
            return render(request, "customers/confirm_done.html", {"r": decided})
    context = _confirm_context(association_request, form, check=request.method == "GET")
    context["token"] = token
    return render(request, "customers/confirm.html", context)


def _send_code(request, customer: Customer) -> str:
    form = CodeChannelForm(request.POST)
    if not form.is_valid():
        return _("Choose where to send the code.")
    channel = form.cleaned_data["channel"]
    try:
        services.send_customer_code(customer, CustomerCode.Purpose.CONFIRM, channel)
    except services.ServiceError as error:
        return error.message
    address = dict((c, masked) for c, _label, masked in _channels(customer))[channel]
    return _("A code was sent to %(address)s.") % {"address": address}


@require_POST
@never_cache
def confirm_code(request, token: str):
    """Send the customer a code for this decision (htmx: the status line; else back to the page)."""
    try:
        association_request = services.request_for_token(token)
    except services.BadToken:
        return _invalid(request)
    status = _send_code(request, association_request.customer)
    if request.htmx:
        return HttpResponse(render_to_string("customers/confirm.html#code_status", {"status": status}))
    messages.info(request, status)
    return redirect("confirm:confirm", token=token)


# --- the customer area --------------------------------------------------------------------------------------


def _customer(request) -> Customer | None:
    pk = request.session.get(SESSION_KEY)
    if not pk:
        return None
    return Customer.objects.select_related("partner").filter(pk=pk).first()


def _my_requests(customer: Customer):
    return AssociationRequest.objects.filter(customer=customer).select_related("partner", "decided_by")


@require_GET
@never_cache
def my(request):
    customer = _customer(request)
    if customer is None:
        context = {
            "form": MySignInForm(),
            "code_form": MyCodeForm() if request.session.get(PENDING_KEY) is not None else None,
        }
        return render(request, "customers/confirm_my_sign_in.html", context)
    requests = list(_my_requests(customer))
    links = {
        r.pk: services.confirm_token(r)
        for r in requests
        if r.status == AssociationRequest.Status.PENDING_CUSTOMER
    }
    context = {
        "customer": customer,
        "open_requests": [(r, links.get(r.pk)) for r in requests if r.is_open],
        "past_requests": [r for r in requests if not r.is_open],
        "may_unbind": customer.is_associated and not any(r.is_open for r in requests),
        "cooldown_until": services.cooldown_until(customer),
    }
    return render(request, "customers/confirm_my.html", context)


@require_POST
@never_cache
def my_sign_in(request):
    """Send a sign-in code to a registered contact. The answer is the same whether it is registered or not."""
    form = MySignInForm(request.POST)
    if not form.is_valid():
        return render(request, "customers/confirm_my_sign_in.html", {"form": form, "code_form": None})
    contact = form.cleaned_data["contact"].strip()
    customer = services.find_customer_by_contact(contact)
    if customer is not None:
        channel = CustomerCode.Channel.EMAIL if "@" in contact else CustomerCode.Channel.SMS
        # Asked again too soon: the code sent a moment ago still works.
        with contextlib.suppress(services.ServiceError):
            services.send_customer_code(customer, CustomerCode.Purpose.SIGN_IN, channel)
        request.session[PENDING_KEY] = customer.pk
    else:
        request.session[PENDING_KEY] = 0
    messages.info(request, _("If this contact is registered, a code was sent to it. Enter it below."))
    return redirect("confirm:my")


@require_POST
@never_cache
def my_verify(request):
    form = MyCodeForm(request.POST)
    pending = request.session.get(PENDING_KEY)
    customer = Customer.objects.filter(pk=pending).first() if pending else None
    purpose = CustomerCode.Purpose.SIGN_IN
    if (
        form.is_valid()
        and customer is not None
        and services.verify_customer_code(customer, purpose, form.cleaned_data["code"])
    ):
        request.session.cycle_key()  # a new session id once signed in
        request.session.pop(PENDING_KEY, None)
        request.session[SESSION_KEY] = customer.pk
        return redirect("confirm:my")
    if form.is_valid():
        form.add_error("code", _("That code is wrong or has expired. Ask for a new one."))
    return render(request, "customers/confirm_my_sign_in.html", {"form": MySignInForm(), "code_form": form})


@require_POST
def my_sign_out(request):
    request.session.pop(SESSION_KEY, None)
    request.session.pop(PENDING_KEY, None)
    return redirect("confirm:my")


def _signed_in_or_redirect(request):
    customer = _customer(request)
    if customer is None:
        raise _SignIn
    return customer


class _SignIn(Exception):
    pass


def customer_required(view):
    def wrapped(request, *args, **kwargs):
        try:
            customer = _signed_in_or_redirect(request)
        except _SignIn:
            return redirect("confirm:my")
        return view(request, customer, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@require_POST
@never_cache
@customer_required
def my_code(request, customer):
    status = _send_code(request, customer)
    if request.htmx:
        return HttpResponse(render_to_string("customers/confirm.html#code_status", {"status": status}))
    messages.info(request, status)
    return redirect("confirm:my-unbind")


@require_http_methods(["GET", "POST"])
@never_cache
@customer_required
def my_unbind(request, customer):
    """The customer asks to end the association: reason, the account check, the notices, a code."""
    if not customer.is_associated:
        return redirect("confirm:my")
    form = CustomerUnbindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not services.verify_customer_code(
            customer, CustomerCode.Purpose.CONFIRM, form.cleaned_data["code"]
        ):
            form.add_error("code", _("That code is wrong or has expired. Ask for a new one."))
        else:
            try:
                services.customer_file_unbind(customer, form.cleaned_data["reason"])
            except services.ServiceError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, _("Your request is sent to your partner, who will decide."))
                return redirect("confirm:my")
    kind = AssociationRequest.Kind.DISASSOCIATE
    context = {
        "customer": customer,
        "form": form,
        "check": services.run_account_check(customer, kind) if request.method == "GET" else None,
        "effects": services.effects(customer, kind),
        "channels": _channels(customer),
        "cooldown_until": services.cooldown_until(customer),
    }
    return render_page(request, "customers/confirm_my_unbind.html", context)


def _my_request(customer, request_pk: int) -> AssociationRequest:
    return get_object_or_404(_my_requests(customer), pk=request_pk)


@require_POST
@customer_required
def my_withdraw(request, customer, request_pk: int):
    association_request = _my_request(customer, request_pk)
    try:
        services.withdraw_request(association_request, customer=customer)
    except services.ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your request is withdrawn."))
    return redirect("confirm:my")


@require_GET
@never_cache
@customer_required
def my_receipt(request, customer, request_pk: int):
    """The consent receipt of a decided request, as a text file: who decided what, when, old → new."""
    association_request = _my_request(customer, request_pk)
    if association_request.decided_at is None:
        raise Http404
    body = render_to_string(
        "customers/confirm_receipt.txt",
        {"r": association_request, "customer": customer, "now": timezone.now()},
    )
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="receipt-{association_request.pk}.txt"'
    return response
