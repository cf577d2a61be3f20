"""The customer's own pages (customers/public.py): outside the staff area, included from portal/urls.py."""

from django.urls import path

from customers import invitation_public, public

app_name = "confirm"

urlpatterns = [
    path("confirm/<str:token>/", public.confirm, name="confirm"),
    path("confirm/<str:token>/code/", public.confirm_code, name="confirm-code"),
    # invitations to existing customers (issue 14)
    path("invite/<str:token>/", invitation_public.invite, name="invite"),
    path("invite/<str:token>/code/", invitation_public.invite_code, name="invite-code"),
    path("invite/<str:token>/status/", invitation_public.invite_status, name="invite-status"),
    path("my/", public.my, name="my"),
    path("my/sign-in/", public.my_sign_in, name="my-sign-in"),
    path("my/verify/", public.my_verify, name="my-verify"),
    path("my/sign-out/", public.my_sign_out, name="my-sign-out"),
    path("my/code/", public.my_code, name="my-code"),
    path("my/disassociate/", public.my_unbind, name="my-unbind"),
    path("my/requests/<int:request_pk>/withdraw/", public.my_withdraw, name="my-withdraw"),
    path("my/requests/<int:request_pk>/receipt.txt", public.my_receipt, name="my-receipt"),
]
