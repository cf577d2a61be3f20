"""The portal's select widget template (templates/django/forms/widgets/select.html) writes each option inline
instead of including Django's option template: it must render exactly what Django's own templates render."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates, TemplatesSetting


class _Choices(forms.Form):
    plain = forms.ChoiceField(choices=[("", "—"), ("1", "One"), ("2", "<Two & more>")])
    grouped = forms.ChoiceField(
        choices=[("Cloud", [("ecs", "ECS"), ("obs", "OBS")]), ("Other", [("x", "X")]), ("y", "Y")]
    )
    many = forms.MultipleChoiceField(choices=[(n, f"n{n}") for n in range(5)])
    flagged = forms.ChoiceField(
        choices=[("a", "A"), ("b", "B")], widget=forms.Select(attrs={"disabled": True, "data-x": "1"})
    )


def _rendered(renderer) -> list[str]:
    form = _Choices(
        data={"plain": "2", "grouped": "obs", "many": ["1", "3"], "flagged": "b"}, renderer=renderer
    )
    return [str(field) for field in form]


def test_the_portal_renders_forms_through_its_own_templates():
    assert settings.FORM_RENDERER == "django.forms.renderers.TemplatesSetting"


def test_the_inline_select_renders_what_django_renders():
    ours, djangos = _rendered(TemplatesSetting()), _rendered(DjangoTemplates())
    assert ours == djangos
    assert 'value="obs" selected' in ours[1] and '<optgroup label="Cloud">' in ours[1]
    assert "&lt;Two &amp; more&gt;" in ours[0]
