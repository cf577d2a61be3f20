from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("adjustments/", views.adjustment_list, name="adjustments"),
    path("discounts/", views.discount_list, name="discounts"),
    path("customers/<int:customer_pk>/balance/", views.customer_balance_panel, name="customer-balance"),
    path("customers/<int:customer_pk>/discounts/", views.customer_discounts_panel, name="customer-discounts"),
    path(
        "customers/<int:customer_pk>/adjust-records/",
        views.customer_adjust_records_panel,
        name="customer-adjust-records",
    ),
]
