from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("warnings/", views.warning_list, name="warnings"),
    path("associations/", views.association_records, name="associations"),
    path("requests/", views.request_list, name="requests"),
]
