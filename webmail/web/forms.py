"""Reading posted forms: their text fields, once or repeated (uploads are read where they are used)."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData


def form_fields(form: FormData) -> dict[str, str]:
    """Every text field by name (the last value of a repeated one); files left out."""
    return {key: value for key, value in form.items() if isinstance(value, str)}


def form_list(form: FormData, name: str) -> list[str]:
    """The text values of the field ``name``, in the order posted."""
    return [value for value in form.getlist(name) if isinstance(value, str)]


async def posted_fields(request: Request) -> dict[str, str]:
    """The request's form as ``form_fields``."""
    return form_fields(await request.form())
