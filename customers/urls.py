from django.urls import path

from customers import views

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
    path("requests/", views.request_list, name="requests"),
]
