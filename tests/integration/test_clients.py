"""Desktop clients next to the webmail: Thunderbird's autoconfig and Outlook's Autodiscover, checked
against their documented formats, directly and through nginx at the site's root; /help/clients."""

from __future__ import annotations

import re
import ssl
from xml.etree import ElementTree

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import LOCAL_CLIENT, MailUser, ProxiedApp, make_settings, sign_in
from webmail.app import create_app
from webmail.config import Settings
from webmail.devservices import DevServices

# Thunderbird's config-v1.1 format (wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat,
# and the checks of the ISPDB's own validator): the values each element may take.
SOCKET_TYPES = {"plain", "SSL", "STARTTLS"}
AUTHENTICATION = {"password-cleartext", "password-encrypted", "NTLM", "GSSAPI", "client-IP-address",
                  "TLS-client-cert", "OAuth2", "None"}  # fmt: skip
USERNAME_PLACEHOLDERS = {"%EMAILADDRESS%", "%EMAILLOCALPART%", "%EMAILDOMAIN%", "%REALNAME%"}
# Outlook's Autodiscover (POX): [MS-OXDSCLI] and the Exchange 2007 "outlook" response schema.
RESPONSE = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
OUTLOOK = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
REQUEST = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{address}</EMailAddress>
    <AcceptableResponseSchema>{schema}</AcceptableResponseSchema>
  </Request>
</Autodiscover>"""
OUTLOOK_SCHEMA = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"


@pytest.fixture
def published(services: DevServices, database_url: str) -> Settings:
    return make_settings(
        services,
        database_url,
        clients_imap_host="imap.example.org",
        clients_smtp_host="smtp.example.org",
        clients_smtp_port=465,
        clients_smtp_security="tls",
        clients_domains=["example.org"],
        clients_display_name="Example Mail",
    )


@pytest.fixture
def app_client(published: Settings) -> TestClient:
    with TestClient(create_app(published), client=LOCAL_CLIENT, follow_redirects=False) as test_client:
        yield test_client  # type: ignore[misc]


def check_autoconfig(text: str, domain: str) -> dict[str, dict[str, str]]:
    """The servers of a config-v1.1 file, after checking it follows the documented format."""
    root = ElementTree.fromstring(text)
    assert root.tag == "clientConfig"
    assert root.get("version") == "1.1"
    providers = root.findall("emailProvider")
    assert len(providers) == 1
    provider = providers[0]
    assert provider.get("id")
    assert [d.text for d in provider.findall("domain")] == [domain]
    assert provider.findtext("displayName")
    assert provider.findtext("displayShortName")
    servers: dict[str, dict[str, str]] = {}
    for element in [*provider.findall("incomingServer"), *provider.findall("outgoingServer")]:
        kind = element.get("type")
        assert kind in ({"imap", "pop3"} if element.tag == "incomingServer" else {"smtp"})
        fields = {child.tag: child.text or "" for child in element}
        assert {"hostname", "port", "socketType", "username", "authentication"} <= fields.keys()
        assert 0 < int(fields["port"]) < 65536
        assert fields["socketType"] in SOCKET_TYPES
        assert fields["authentication"] in AUTHENTICATION
        assert set(re.findall(r"%[^%]*%", fields["username"])) <= USERNAME_PLACEHOLDERS
        servers[str(kind)] = fields
    assert "smtp" in servers
    assert {"imap", "pop3"} & servers.keys()
    return servers


def check_autodiscover(text: str) -> ElementTree.Element:
    root = ElementTree.fromstring(text)
    assert root.tag == f"{RESPONSE}Autodiscover"
    response = root.find(f"{OUTLOOK}Response")
    assert response is not None, text
    return response


def protocols(response: ElementTree.Element) -> dict[str, dict[str, str]]:
    account = response.find(f"{OUTLOOK}Account")
    assert account is not None
    assert account.findtext(f"{OUTLOOK}AccountType") == "email"
    assert account.findtext(f"{OUTLOOK}Action") == "settings"
    found = {}
    for protocol in account.findall(f"{OUTLOOK}Protocol"):
        fields = {child.tag.removeprefix(OUTLOOK): child.text or "" for child in protocol}
        assert fields["Type"] in {"IMAP", "POP3", "SMTP"}
        assert fields["SSL"] in {"on", "off"}
        assert fields["SPA"] == "off"
        assert fields["AuthRequired"] == "on"
        assert fields["Encryption"] in {"None", "SSL", "TLS", "Auto"}
        found[fields["Type"]] = fields
    return found


@pytest.mark.parametrize("path", ["/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml"])
def test_thunderbird_autoconfig(app_client: TestClient, path: str) -> None:
    response = app_client.get(path, params={"emailaddress": "ann@example.org"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    servers = check_autoconfig(response.text, "example.org")
    assert servers["imap"] == {
        "hostname": "imap.example.org", "port": "993", "socketType": "SSL",
        "authentication": "password-cleartext", "username": "%EMAILADDRESS%",
    }  # fmt: skip
    assert (servers["pop3"]["hostname"], servers["pop3"]["port"]) == ("imap.example.org", "995")
    assert (servers["smtp"]["hostname"], servers["smtp"]["port"], servers["smtp"]["socketType"]) == (
        "smtp.example.org",
        "465",
        "SSL",
    )
    assert "Example Mail" in response.text
    assert re.search(r'<documentation url="http://testserver/help/clients">', response.text)


def test_autoconfig_only_for_our_domains(app_client: TestClient) -> None:
    assert (
        app_client.get("/mail/config-v1.1.xml", params={"emailaddress": "eve@other.example"}).status_code
        == 404
    )
    assert (
        app_client.get("/mail/config-v1.1.xml", params={"emailaddress": "not an address"}).status_code == 404
    )
    assert app_client.get("/mail/config-v1.1.xml").status_code == 200  # the first of our domains


def test_without_pop3_and_with_starttls(services: DevServices, database_url: str) -> None:
    settings = make_settings(services, database_url, clients_pop3_port=0, clients_imap_port=143,
                             clients_imap_security="starttls")  # fmt: skip
    with TestClient(create_app(settings), client=LOCAL_CLIENT) as client:
        servers = check_autoconfig(
            client.get("/mail/config-v1.1.xml?emailaddress=a@any.example").text, "any.example"
        )
        assert "pop3" not in servers
        assert (servers["imap"]["port"], servers["imap"]["socketType"]) == ("143", "STARTTLS")
        assert servers["imap"]["hostname"] == settings.imap_host  # not published separately: the IMAP host
        found = protocols(check_autodiscover(client.post("/autodiscover/autodiscover.xml",
                          content=REQUEST.format(address="a@any.example", schema=OUTLOOK_SCHEMA)).text))  # fmt: skip
        assert set(found) == {"IMAP", "SMTP"}
        assert (found["IMAP"]["SSL"], found["IMAP"]["Encryption"]) == ("on", "TLS")  # TLS means STARTTLS


@pytest.mark.parametrize("path", ["/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"])
def test_outlook_autodiscover(app_client: TestClient, path: str) -> None:
    response = app_client.post(path, content=REQUEST.format(address="ann@example.org", schema=OUTLOOK_SCHEMA))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    answer = check_autodiscover(response.text)
    assert answer.findtext(f"{OUTLOOK}User/{OUTLOOK}DisplayName") == "ann@example.org"
    found = protocols(answer)
    assert list(found) == ["IMAP", "POP3", "SMTP"]
    assert found["IMAP"] | {"LoginName": ""} == {
        "Type": "IMAP", "Server": "imap.example.org", "Port": "993", "DomainRequired": "off", "LoginName": "",
        "SPA": "off", "SSL": "on", "Encryption": "SSL", "AuthRequired": "on",
    }  # fmt: skip
    assert found["IMAP"]["LoginName"] == "ann@example.org"
    assert (found["SMTP"]["Server"], found["SMTP"]["Port"], found["SMTP"]["Encryption"]) == (
        "smtp.example.org",
        "465",
        "SSL",
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (REQUEST.format(address="ann@other.example", schema=OUTLOOK_SCHEMA), "600"),
        (
            REQUEST.format(
                address="ann@example.org",
                schema="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006",
            ),
            "601",
        ),
        ("not xml at all", "600"),
        (
            '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]><a>&y;</a>',
            "600",
        ),
        (
            "<Autodiscover><Request><EMailAddress>ann@example.org</EMailAddress></Request></Autodiscover>",
            "600",
        ),
    ],
)
def test_autodiscover_errors(app_client: TestClient, body: str, code: str) -> None:
    response = app_client.post("/autodiscover/autodiscover.xml", content=body)
    assert response.status_code == 200  # Outlook reads the error from the document
    root = ElementTree.fromstring(response.text)
    error = root.find(f"{RESPONSE}Response/{RESPONSE}Error")
    assert error is not None
    assert error.findtext(f"{RESPONSE}ErrorCode") == code
    assert error.get("Time")
    assert error.get("Id")
    assert error.findtext(f"{RESPONSE}Message")


def test_help_page(app_client: TestClient, mail_user: MailUser) -> None:
    assert app_client.get("/help/clients").status_code == 303  # signed-in users only
    assert sign_in(app_client, mail_user).status_code == 303
    page = app_client.get("/help/clients").text
    rows = dict(re.findall(r'<tr data-protocol="(\w+)">(.*?)</tr>', page, re.S))
    assert list(rows) == ["imap", "pop3", "smtp"]
    for protocol, host, port, security in [
        ("imap", "imap.example.org", 993, "SSL/TLS"),
        ("smtp", "smtp.example.org", 465, "SSL/TLS"),
    ]:
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", rows[protocol], re.S)
        assert [re.sub("<[^>]+>", "", cell) for cell in cells[1:4]] == [host, str(port), security]
    assert all(mail_user.username in row for row in rows.values())
    for program in ("Thunderbird", "Outlook", "Apple Mail", "Android"):
        assert program in page
    assert "/help/clients" in app_client.get("/settings").text


def test_mail_programs_reach_them_at_the_site_root_through_nginx(proxied: ProxiedApp) -> None:
    with httpx.Client(
        base_url=proxied.origin, verify=ssl.create_default_context(cafile=str(proxied.nginx.certificate))
    ) as client:
        config = client.get(
            "/.well-known/autoconfig/mail/config-v1.1.xml", params={"emailaddress": "a@example.org"}
        )
        assert config.status_code == 200
        check_autoconfig(config.text, "example.org")
        assert f'<documentation url="{proxied.url}/help/clients">' in config.text
        assert client.get("/mail/config-v1.1.xml?emailaddress=a@example.org").status_code == 200
        answer = client.post(
            "/Autodiscover/Autodiscover.xml",
            content=REQUEST.format(address="a@example.org", schema=OUTLOOK_SCHEMA),
        )
        assert answer.status_code == 200
        assert "IMAP" in protocols(check_autodiscover(answer.text))
