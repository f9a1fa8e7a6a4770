"""Desktop and phone mail programs next to the webmail: /help/clients, Thunderbird's autoconfig
and Outlook's Autodiscover (their URLs are fixed by those programs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from xml.etree import ElementTree

from fastapi import APIRouter, Request
from fastapi.responses import Response

from webmail.web.clients import client_servers, mail_domain
from webmail.web.deps import ServicesDep, SessionDep
from webmail.web.templating import fragment, render

router = APIRouter()

XML = "application/xml"
REQUEST_SCHEMA = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006}"
RESPONSE_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MAX_REQUEST_BYTES = 16 * 1024


@router.get("/help/clients")
async def help_clients(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    servers = client_servers(services.settings)
    by_protocol = {server.protocol: server for server in servers}
    return render(
        request,
        "pages/help_clients.html",
        {
            "session": session,
            "servers": servers,
            "imap": by_protocol["imap"],
            "smtp": by_protocol["smtp"],
            "pop3": by_protocol.get("pop3"),
        },
    )


@router.get("/.well-known/autoconfig/mail/config-v1.1.xml")
@router.get("/mail/config-v1.1.xml")
async def thunderbird_autoconfig(request: Request, services: ServicesDep, emailaddress: str = "") -> Response:
    """Thunderbird's config-v1.1 file for the address's domain (any of ours if none is given)."""
    settings = services.settings
    if emailaddress:
        domain = mail_domain(emailaddress, settings)
    else:
        domain = settings.clients_domains[0] if settings.clients_domains else None
    if domain is None:
        return Response("No mail settings for this address here.", status_code=404, media_type="text/plain")
    body = fragment(
        request,
        "xml/autoconfig.xml",
        domain=domain,
        display_name=settings.clients_display_name,
        servers=client_servers(settings),
        help_url=f"{request.base_url}help/clients",
    )
    return Response(body, media_type=XML)


@router.post("/autodiscover/autodiscover.xml")
@router.post("/Autodiscover/Autodiscover.xml")
async def outlook_autodiscover(request: Request, services: ServicesDep) -> Response:
    """Outlook's Autodiscover (the POX protocol of Exchange 2007 and later, "outlook" schema)."""
    address, schema = read_autodiscover_request(await request.body())
    if address is None:
        return autodiscover_error(request, 600, "Invalid Request")
    if schema != RESPONSE_SCHEMA:
        return autodiscover_error(request, 601, "Provider is not available")
    if mail_domain(address, services.settings) is None:
        return autodiscover_error(request, 600, "Invalid Request")
    body = fragment(
        request, "xml/autodiscover.xml", address=address, servers=client_servers(services.settings)
    )
    return Response(body, media_type=XML)


def read_autodiscover_request(body: bytes) -> tuple[str | None, str | None]:
    """The ``EMailAddress`` and ``AcceptableResponseSchema`` of a request; (None, None) if it is
    not one. Documents with a DTD are refused before parsing: no entities, so none can expand."""
    if len(body) > MAX_REQUEST_BYTES or b"<!" in body:
        return None, None
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - small, without DTD (checked above)
    except ElementTree.ParseError:
        return None, None
    if root.tag != f"{REQUEST_SCHEMA}Autodiscover":
        return None, None
    address = root.findtext(f"{REQUEST_SCHEMA}Request/{REQUEST_SCHEMA}EMailAddress")
    schema = root.findtext(f"{REQUEST_SCHEMA}Request/{REQUEST_SCHEMA}AcceptableResponseSchema")
    return (address.strip() if address else None), (schema.strip() if schema else None)


def autodiscover_error(request: Request, code: int, message: str) -> Response:
    body = fragment(
        request,
        "xml/autodiscover.xml",
        error_code=code,
        message=message,
        time=datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3],
        error_id=uuid.uuid4().int % 10**10,
    )
    return Response(body, media_type=XML)
