from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from webmail.web.templating import templates

FORM = (
    '{% from "macros/forms.html" import field_error %}{{ csrf_input() }}|{{ field_error(errors, "email") }}'
)


def render(**context: object) -> str:
    return templates.env.from_string(FORM).render(**context)


def test_csrf_input_carries_the_session_token() -> None:
    html = render(session=SimpleNamespace(csrf_token="s3cr<t"), errors={})
    assert html == '<input type="hidden" name="csrf_token" value="s3cr&lt;t">|'


def test_csrf_input_before_sign_in_uses_the_login_token() -> None:
    html = render(csrf_token="login-token", errors={})
    assert html.startswith('<input type="hidden" name="csrf_token" value="login-token">')


def test_field_error_names_only_the_failed_field() -> None:
    html = render(csrf_token="t", errors={"email": "Not an <address>", "name": "Too long"})
    assert html.endswith('|<p class="error field-error" role="alert">Not an &lt;address&gt;</p>')
    assert render(csrf_token="t", errors={"name": "Too long"}).endswith("|")
    assert render(csrf_token="t", errors=None).endswith("|")


TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
POST_FORM = re.compile(r"<form\b[^>]*\bmethod=\"post\"[^>]*>(.*?)</form>", re.S | re.I)


# A template with many forms renders the field once into this variable.
RENDERED_ONCE = "{% set csrf_field = csrf_input() %}"


def test_every_post_form_carries_the_csrf_field() -> None:
    forms = [
        (path.relative_to(TEMPLATES), form, RENDERED_ONCE in path.read_text())
        for path in sorted(TEMPLATES.rglob("*.html"))
        for form in POST_FORM.findall(path.read_text())
    ]
    assert len(forms) > 30  # the pattern still finds the forms
    missing = [
        f"{name}: {form[:60]!r}"
        for name, form, once in forms
        if "csrf_input()" not in form and not (once and "{{ csrf_field }}" in form)
    ]
    assert missing == []


def test_only_csrf_input_and_the_macro_write_the_token_field_and_field_errors() -> None:
    by_hand = [
        str(path.relative_to(TEMPLATES))
        for path in sorted(TEMPLATES.rglob("*.html"))
        if path != TEMPLATES / "macros" / "forms.html"
        and ('name="csrf_token"' in path.read_text() or "macro field_error" in path.read_text())
    ]
    assert by_hand == []
