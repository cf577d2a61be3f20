"""Typed errors of the upstream client.

Every failure of an upstream call is an UpstreamError; the subclass says what the caller may do about it
(retry later, fix the input, reconcile before resending). Messages are written for partner staff, since
views show them, and carry the upstream's code and request id for support.
"""

from __future__ import annotations

from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _


class UpstreamError(Exception):
    """An upstream call failed; `error_code`/`error_msg` are the upstream's own when it sent a body."""

    default_message = _("The cloud platform rejected the request.")

    def __init__(
        self,
        message: Any = None,
        *,
        error_code: str | None = None,
        error_msg: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        operation: str | None = None,
    ) -> None:
        self.error_code = error_code
        self.error_msg = error_msg
        self.status = status
        self.request_id = request_id
        self.operation = operation
        self.message = message or self._compose()
        super().__init__(self.message)

    def _compose(self) -> Any:
        # Lazy: rendered in the language of whoever reads it (a view, a log line).
        if self.error_msg:
            return format_lazy("{} ({})", self.default_message, self.error_msg)
        return self.default_message

    def __str__(self) -> str:
        details = [
            f"{label} {value}"
            for label, value in (
                ("operation", self.operation),
                ("HTTP", self.status),
                ("code", self.error_code),
                ("request id", self.request_id),
            )
            if value
        ]
        return f"{self.message} [{', '.join(details)}]" if details else str(self.message)


# --- transport and protocol ---------------------------------------------------------------------------


class RateLimited(UpstreamError):
    """HTTP 429 (CBC.0250) that retries did not get past; `retry_after` is the server's hint in seconds."""

    default_message = _("The cloud platform is limiting the request rate; try again in a moment.")

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kwargs) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class AuthenticationFailed(UpstreamError):
    """HTTP 401: the access key, secret key or clock is wrong."""

    default_message = _(
        "The cloud platform did not accept the portal's credentials: check the access key, the secret key "
        "and the server clock."
    )


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached or kept failing (reads: retries exhausted); nothing was changed."""

    default_message = _("The cloud platform is not reachable at the moment; try again later.")


class OutcomeUnknown(UpstreamError):
    """A change was sent but no answer came back (timeout, dropped connection, 5xx).

    The upstream may or may not have applied it. Never resend blindly: reconcile first (for fund
    adjustments, look the transaction up in the adjust records).
    """

    default_message = _(
        "The cloud platform did not confirm the change: it may or may not have been applied. "
        "It will be checked before anything is sent again."
    )


class UnsupportedOperation(UpstreamError):
    """An operation this project adds (**ext**) was called against the real platform, which has no API for it.

    Raised before any HTTP request is made.
    """

    def __init__(self, operation: str, endpoint: str | None = None) -> None:
        message = format_lazy(
            _(
                "{operation} is not available on the real cloud platform ({endpoint}): it has no public API "
                "for this operation (it is done in the platform's partner console). Only the bundled "
                "simulator offers it."
            ),
            operation=operation,
            endpoint=endpoint or _("unknown endpoint"),
        )
        super().__init__(message, operation=operation)


class InvalidResponse(UpstreamError):
    """The upstream answered with something that is not the contract's JSON."""

    default_message = _("The cloud platform sent a response the portal could not read.")


# --- business errors (by error code) -------------------------------------------------------------------


class ValidationRejected(UpstreamError):
    """HTTP 400 / CBC.0100: the upstream found a parameter invalid."""

    default_message = _("The cloud platform rejected a value in the request.")


class AccessDenied(UpstreamError):
    """HTTP 403 / CBC.0151: the credentials may not call this operation."""

    default_message = _("The cloud platform denied access to this operation for the portal's account.")


class InsufficientBalance(UpstreamError):
    """CBC.5003: the account to take the money from does not hold enough."""

    default_message = _("The account does not have enough available balance for this amount.")


class NoRightOnCustomer(UpstreamError):
    """CBC.5004: the customer is not (or no longer) associated with this partner."""

    default_message = _("The partner has no right to act on this customer (it may no longer be associated).")


class AssociationTypeNotAllowed(UpstreamError):
    """CBC.5024: the customer's association type does not allow this operation (e.g. a discount on resale)."""

    default_message = _("The customer's association type does not allow this operation.")


class ReferralCustomer(AssociationTypeNotAllowed):
    """CBC.5021: the operation is not allowed for a referral (顾问销售) customer."""

    default_message = _("This operation is not allowed for a referral customer.")


class NoRightOnReseller(UpstreamError):
    """CBC.99000037: the reseller is not one of this distributor's."""

    default_message = _("The partner has no right to act on this reseller.")


class OrderNotFound(UpstreamError):
    """CBC.30000010: no such order, or not one of this partner's customers' orders."""

    default_message = _("The order does not exist or does not belong to one of the partner's customers.")


class OrderNotPayable(UpstreamError):
    """CBC.99003106: the order is not (or no longer) awaiting the partner's payment, e.g. already paid."""

    default_message = _(
        "The order is not awaiting the partner's payment (it may already be paid, rejected or cancelled)."
    )


class PaymentDeadlinePassed(OrderNotPayable):
    """CBC.99003110: the order's payment deadline has passed; the customer has to order again."""

    default_message = _("The order's payment deadline has passed; the customer has to place the order again.")


class CombinedOrderChild(UpstreamError):
    """CBC.99000089: the order is part of a combined trade order; act on the combined order's id."""

    default_message = _(
        "This order is part of a combined order: pay, reject or cancel the combined order as a whole."
    )


class DailyTradeLimit(UpstreamError):
    """CBC.99008056: the trades of the day have reached the platform's limit; try again tomorrow."""

    default_message = _("The platform's limit of trades for today has been reached; try again tomorrow.")


class OrderNotCancellable(UpstreamError):
    """CBC.99005010: the order's status does not allow cancelling it."""

    default_message = _("The order can no longer be cancelled.")


class PaymentInProgress(UpstreamError):
    """CBC.99000088: a payment of the order is already being processed; read the order before retrying."""

    default_message = _(
        "A payment of this order is already in progress; check the order before trying again."
    )


class ProductNotFound(ValidationRejected):
    """CBC.99006006: the price inquiry names a product the platform does not sell there."""

    default_message = _("The platform has no such product in that region.")


class UpstreamServerError(UpstreamUnavailable):
    """CBC.0999 or another 5xx on a read that retries did not get past (a kind of UpstreamUnavailable)."""

    default_message = _("The cloud platform had an internal error; try again later.")


# --- customer onboarding ------------------------------------------------------------------------------


class AccountNameTaken(UpstreamError):
    """CBC.99000038: the account name is already used by a platform account."""

    default_message = _("This account name is already taken on the cloud platform; choose another.")


class AccountAlreadyCreated(UpstreamError):
    """CBC.99000039: an account was already created for this xaccount_id (the portal's own id of the
    application); look it up by account name instead of creating it again."""

    default_message = _("The cloud platform already created an account for this application.")


class MobileLimitReached(UpstreamError):
    """CBC.99000030 (CBC.99000029, CBC.99000051): this mobile number may not register another customer."""

    default_message = _("This mobile number cannot register another customer account.")


class VerificationCodeRejected(ValidationRejected):
    """CBC.99004008/9/10, CBC.99000026/27: the SMS code is wrong, expired or failed too often."""

    default_message = _("The verification code is wrong or has expired; request a new one.")


class TooManyVerificationCodes(UpstreamError):
    """CBC.99000082: too many SMS codes were sent to this number lately."""

    default_message = _("Too many verification codes were sent to this number; try again later.")


class NotPartnerCustomer(NoRightOnCustomer):
    """CBC.99000035 (CBC.5002): the customer is not one of the partner's (real-name operations)."""

    default_message = _("The customer is not one of the partner's customers.")


class DocumentRejected(ValidationRejected):
    """CBC.99000099 / CBC.99000100: a verification document is too large (10 MB) or not jpg, jpeg, bmp,
    png, gif or pdf."""

    default_message = _(
        "A verification document was refused: use jpg, jpeg, bmp, png, gif or pdf of at most 10 MB."
    )


class AlreadyVerified(UpstreamError):
    """CBC.99007188: the customer is verified already or its verification is under review."""

    default_message = _("The customer is already verified, or its verification is under review.")


class VerificationAttemptsExceeded(UpstreamError):
    """CBC.99007191 (CBC.99007189): the customer (or the document number) has been used for too many
    verification applications."""

    default_message = _("The customer has applied for verification too many times.")


class CustomerAssociationPending(OutcomeUnknown):
    """500 CBC.99000050: the account was created but its association with the partner is not confirmed
    yet; look the customer up in the customer list before doing anything else."""

    default_message = _(
        "The customer account was created but its association with the partner is not confirmed yet; "
        "it will be checked in the customer list."
    )


class InvitedAccountNotFound(UpstreamError):
    """CBC.99000040 (**ext** AcceptPartnerInvitation): no platform account has this account name."""

    default_message = _("No cloud account has this account name.")


class AlreadyAssociated(UpstreamError):
    """CBC.99000041 (**ext** AcceptPartnerInvitation): the account is already associated with a partner."""

    default_message = _("This account is already associated with a partner.")


class AssociationCooldown(UpstreamError):
    """CBC.99000042 (**ext** AcceptPartnerInvitation): the account left its partner of its own accord in the
    last 3 months and may not associate again yet."""

    default_message = _(
        "This account left its partner of its own accord in the last 3 months and cannot associate again yet."
    )


ERRORS_BY_CODE: dict[str, type[UpstreamError]] = {
    "CBC.0100": ValidationRejected,
    "CBC.0101": ValidationRejected,
    "CBC.0105": AuthenticationFailed,
    "CBC.0151": AccessDenied,
    "CBC.0154": AccessDenied,
    "CBC.0155": AccessDenied,
    "CBC.0250": RateLimited,
    "CBC.0999": UpstreamServerError,
    "CBC.5003": InsufficientBalance,
    "CBC.99005003": InsufficientBalance,
    "CBC.5004": NoRightOnCustomer,
    "CBC.5021": ReferralCustomer,
    "CBC.5024": AssociationTypeNotAllowed,
    "CBC.99000037": NoRightOnReseller,
    "CBC.30000010": OrderNotFound,
    "CBC.99003106": OrderNotPayable,
    "CBC.99003110": PaymentDeadlinePassed,
    "CBC.99003108": ValidationRejected,  # the chosen discount or coupon does not apply
    "CBC.99000089": CombinedOrderChild,
    "CBC.99008056": DailyTradeLimit,
    "CBC.99005010": OrderNotCancellable,
    "CBC.99000088": PaymentInProgress,
    "CBC.99006006": ProductNotFound,
    "CBC.99006050": ValidationRejected,  # usage unit error
    "CBC.99006055": ValidationRejected,  # the price exceeds the platform's maximum
    "CBC.99000031": ValidationRejected,  # malformed account name
    "CBC.5017": ValidationRejected,  # malformed mobile number
    "CBC.99000036": ValidationRejected,  # password rules
    "CBC.99000038": AccountNameTaken,
    "CBC.99000039": AccountAlreadyCreated,
    "CBC.99000029": MobileLimitReached,
    "CBC.99000030": MobileLimitReached,
    "CBC.99000051": MobileLimitReached,
    "CBC.99000026": VerificationCodeRejected,
    "CBC.99000027": VerificationCodeRejected,
    "CBC.99004008": VerificationCodeRejected,
    "CBC.99004009": VerificationCodeRejected,
    "CBC.99004010": VerificationCodeRejected,
    "CBC.99000082": TooManyVerificationCodes,
    "CBC.99000035": NotPartnerCustomer,
    "CBC.5002": NotPartnerCustomer,
    "CBC.99000099": DocumentRejected,
    "CBC.99000100": DocumentRejected,
    "CBC.99007188": AlreadyVerified,
    "CBC.99007189": VerificationAttemptsExceeded,
    "CBC.99007191": VerificationAttemptsExceeded,
    "CBC.99000050": CustomerAssociationPending,
    "CBC.99000040": InvitedAccountNotFound,
    "CBC.99000041": AlreadyAssociated,
    "CBC.99000042": AssociationCooldown,
    "CBC.99000043": ValidationRejected,  # the invitation was accepted for another account
}

ERRORS_BY_STATUS: dict[int, type[UpstreamError]] = {
    400: ValidationRejected,
    401: AuthenticationFailed,
    403: AccessDenied,
    429: RateLimited,
}


def error_class_for(status: int, error_code: str | None) -> type[UpstreamError]:
    """The most specific error class for an HTTP status and upstream error code."""
    if status == 401:
        return AuthenticationFailed
    if status == 429:
        return RateLimited
    if error_code and error_code in ERRORS_BY_CODE:
        return ERRORS_BY_CODE[error_code]
    if status >= 500:
        return UpstreamServerError
    return ERRORS_BY_STATUS.get(status, UpstreamError)
