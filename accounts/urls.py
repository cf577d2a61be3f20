from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.forms import LoginForm

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=LoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        views.PasswordChangeView.as_view(),
        name="password-change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="accounts/password_change_done.html"),
        name="password-done",
    ),
    path("profile/", views.profile, name="profile"),
    path("profile/totp/", views.totp_setup, name="totp-setup"),
    path("profile/totp/remove/", views.totp_remove, name="totp-remove"),
    path("partner/", views.partner_settings, name="partner-settings"),
    path("audit/", views.audit_log, name="audit"),
    path("step-up/send/", views.step_up_send, name="step-up-send"),
]
