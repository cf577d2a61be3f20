from django.urls import path

from billing import discount_views, quote_views, views

app_name = "billing"

urlpatterns = [
    path("adjustments/", views.adjustment_list, name="adjustments"),
    path("adjustments/export.csv", views.adjustment_export, name="adjustment-export"),
    path("adjustments/<int:adjustment_pk>/", views.adjustment_detail, name="adjustment-detail"),
    path("adjustments/<int:adjustment_pk>/decide/", views.adjustment_decide, name="adjustment-decide"),
    path("settings/", views.billing_settings, name="settings"),
    path("adjustments/batch/", views.adjustment_batch, name="adjustment-batch"),
    path("adjustments/batch/submit/", views.adjustment_batch_submit, name="adjustment-batch-submit"),
    path(
        "adjustments/batches/<int:batch_pk>/", views.adjustment_batch_detail, name="adjustment-batch-detail"
    ),
    path(
        "adjustments/batches/<int:batch_pk>/results.csv",
        views.adjustment_batch_export,
        name="adjustment-batch-export",
    ),
    path("customers/<int:customer_pk>/adjust/", views.adjustment_new, name="adjustment-new"),
    path("customers/<int:customer_pk>/adjust/preview/", views.adjustment_preview, name="adjustment-preview"),
    path("resellers/", views.reseller_list, name="resellers"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("reconciliation/explain/", views.reconciliation_explain, name="reconciliation-explain"),
    path("resellers/<int:reseller_pk>/adjust/", views.reseller_adjust, name="reseller-adjust"),
    path(
        "resellers/<int:reseller_pk>/adjust/preview/",
        views.reseller_adjust_preview,
        name="reseller-adjust-preview",
    ),
    # discounts (issue 10): billing/discount_views.py
    path("discounts/", discount_views.discount_list, name="discounts"),
    path("discounts/export.csv", discount_views.discount_export, name="discount-export"),
    path("discounts/bulk/", discount_views.discount_bulk, name="discount-bulk"),
    path("discounts/customers/<int:customer_pk>/", discount_views.discount_set, name="discount-set"),
    path("discounts/commercial/", discount_views.commercial_discount_list, name="commercial-discounts"),
    path("discounts/offers/", discount_views.offer_list, name="offers"),
    path("discounts/offers/new/", discount_views.offer_new, name="offer-new"),
    path(
        "discounts/offers/<int:offer_pk>/invalidate/",
        discount_views.offer_invalidate,
        name="offer-invalidate",
    ),
    # price inquiry (issue 12): billing/quote_views.py
    path("quote/", quote_views.quote_page, name="quote"),
    path("quote/choices/", quote_views.quote_choices, name="quote-choices"),
    path("quote/customers/", quote_views.quote_customers, name="quote-customers"),
    path("quote/export.csv", quote_views.quote_export, name="quote-export"),
    path("quote/print/", quote_views.quote_print, name="quote-print"),
    path("customers/<int:customer_pk>/balance/", views.customer_balance_panel, name="customer-balance"),
    path("customers/<int:customer_pk>/discounts/", views.customer_discounts_panel, name="customer-discounts"),
    path(
        "customers/<int:customer_pk>/adjust-records/",
        views.customer_adjust_records_panel,
        name="customer-adjust-records",
    ),
]
