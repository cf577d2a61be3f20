# The model was named Warning, which shadows Python's built-in exception; CustomerWarning says what it is.

from django.conf import settings
from django.db import migrations


def rename_default_permissions(apps, schema_editor):
    """Keep the roles' grants: the default permissions follow the model's new name."""
    Permission = apps.get_model("auth", "Permission")
    for action in ("add", "change", "delete", "view"):
        Permission.objects.filter(
            content_type__app_label="customers", codename=f"{action}_warning"
        ).exclude(
            content_type__permission__codename=f"{action}_customerwarning"
        ).update(codename=f"{action}_customerwarning", name=f"Can {action} customer warning")


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0002_warning_handling_and_permissions"),
    ]

    operations = [
        migrations.RenameModel(old_name="Warning", new_name="CustomerWarning"),
        migrations.RenameIndex(
            model_name="customerwarning",
            new_name="customers_c_partner_3db674_idx",
            old_name="customers_w_partner_8c11f6_idx",
        ),
        migrations.RunPython(rename_default_permissions, migrations.RunPython.noop),
    ]
