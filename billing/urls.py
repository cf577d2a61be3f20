from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("adjustments/", views.adjustment_list, name="adjustments"),
    path("discounts/", views.discount_list, name="discounts"),
]
