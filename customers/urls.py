from django.urls import path

from customers import invitation_views, onboarding_views, order_views, resource_views, views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("export.csv", views.customer_export, name="export"),
    path("<int:customer_pk>/", views.customer_detail, name="detail"),
    path("<int:customer_pk>/assign/", views.customer_assign, name="assign"),
    path("<int:customer_pk>/reveal/<str:field>/", views.customer_reveal, name="reveal"),
    path("<int:customer_pk>/hide/<str:field>/", views.customer_hide, name="hide"),
    path("warnings/", views.warning_list, name="warnings"),
    path("warnings/count/", views.warning_count, name="warning-count"),
    path("warnings/handleable/", views.warning_handleable, name="warning-handleable"),
    path("warnings/handle/", views.warning_bulk_handle, name="warning-bulk-handle"),
    path("warnings/<int:warning_pk>/", views.warning_detail, name="warning-detail"),
    path("warnings/<int:warning_pk>/handle/", views.warning_handle, name="warning-handle"),
    path("associations/", views.association_records, name="associations"),
    path("associations/export.csv", views.association_export, name="associations-export"),
    path("requests/", views.request_list, name="requests"),
    path("requests/<int:request_pk>/", views.request_detail, name="request-detail"),
    path("requests/<int:request_pk>/withdraw/", views.request_withdraw, name="request-withdraw"),
    path("requests/<int:request_pk>/remind/", views.request_remind, name="request-remind"),
    path("requests/<int:request_pk>/decide/", views.request_decide, name="request-decide"),
    path("<int:customer_pk>/requests/new/", views.request_new, name="request-new"),
    # orders and partner payment (issue 12)
    path("orders/", order_views.order_list, name="orders"),
    path("orders/export.csv", order_views.order_export, name="orders-export"),
    path("orders/<int:order_pk>/", order_views.order_detail, name="order-detail"),
    path("orders/<int:order_pk>/items/", order_views.order_items, name="order-items"),
    path("orders/<int:order_pk>/pay/", order_views.order_pay, name="order-pay"),
    path("<int:customer_pk>/orders/", order_views.customer_orders, name="customer-orders"),
    # creating customers (issue 14)
    path("new/", onboarding_views.customer_new, name="new"),
    path("new/check/", onboarding_views.account_name_check, name="account-name-check"),
    path("new/regions/", onboarding_views.region_options, name="regions"),
    path("new/contact-code/", onboarding_views.contact_code_send, name="contact-code"),
    path("new/<int:application_pk>/", onboarding_views.application_detail, name="application"),
    path("<int:customer_pk>/verification/", onboarding_views.customer_verification, name="verification"),
    path("<int:customer_pk>/verification/upload/", onboarding_views.document_upload, name="document-upload"),
    path("documents/<str:token>/", onboarding_views.document_download, name="document"),
    # inviting existing customers (issue 14)
    path("invitations/", invitation_views.invitation_list, name="invitations"),
    path("invitations/new/", invitation_views.invitation_new, name="invitation-new"),
    path(
        "invitations/<int:invitation_pk>/revoke/",
        invitation_views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("resources/", resource_views.expiring_resources, name="resources"),
    path("<int:customer_pk>/resources/", resource_views.customer_resources, name="customer-resources"),
    path("<int:customer_pk>/packages/", resource_views.customer_packages, name="customer-packages"),
]
