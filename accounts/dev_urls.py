from django.urls import path

from accounts import views

app_name = "dev"

urlpatterns = [path("outbox/", views.outbox, name="outbox")]
