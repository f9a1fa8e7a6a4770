"""The ManageSieve client against Pigeonhole: STARTTLS, AUTHENTICATE PLAIN, every command,
scripts byte for byte, and the server's own words in its errors."""

from __future__ import annotations

import ssl

import pytest

from tests.conftest import MailUser
from webmail.devservices import DevServices
from webmail.devservices.system import free_port
from webmail.sieve.client import ManageSieveClient
from webmail.sieve.errors import (
    ScriptNotFoundError,
    ScriptRejectedError,
    SieveAuthError,
    SieveError,
    SieveUnavailableError,
)


def connect(services: DevServices, context: ssl.SSLContext | None = None) -> ManageSieveClient:
    trusted = ssl.create_default_context(cafile=str(services.dovecot.tls_cert))
    return ManageSieveClient.connect(
        "127.0.0.1",
        services.dovecot.sieve_port,
        security="starttls",
        timeout=10,
        ssl_context=context or trusted,
    )


def test_starttls_plain_and_every_command(services: DevServices, mail_user: MailUser) -> None:
    with connect(services) as client:
        assert client.capabilities.implementation.endswith("Pigeonhole")
        assert not client.capabilities.starttls  # announced again after TLS, without STARTTLS
        assert {"fileinto", "vacation", "imap4flags", "copy", "regex"} <= client.capabilities.sieve
        client.authenticate(mail_user.username, mail_user.password)
        assert client.list_scripts() == []
        script = (
            'require "fileinto";\r\n# ünïcode\nif true {\n  fileinto "INBOX";\n}\n# no line break at the end'
        )
        assert "no newline" in client.check_script(script)  # the server's warning, in its words
        client.have_space("mine", len(script))
        client.put_script("mine", script)
        assert client.get_script("mine") == script  # byte for byte, CRLF and LF as they were
        client.set_active("mine")
        client.rename_script("mine", 'we"ird\\name')
        assert [(s.name, s.active) for s in client.list_scripts()] == [('we"ird\\name', True)]
        with pytest.raises(SieveError, match="refused DELETESCRIPT: Cannot delete the active Sieve script"):
            client.delete_script('we"ird\\name')
        client.set_active("")
        client.delete_script('we"ird\\name')
        with pytest.raises(ScriptNotFoundError):
            client.get_script('we"ird\\name')
        with pytest.raises(ScriptRejectedError, match="unknown test 'frobnicate'"):
            client.put_script("bad", "if frobnicate { stop; }")
        assert client.list_scripts() == []


def test_wrong_password(services: DevServices, mail_user: MailUser) -> None:
    with connect(services) as client, pytest.raises(SieveAuthError, match="Authentication failed"):
        client.authenticate(mail_user.username, "wrong")


def test_an_untrusted_certificate_is_refused(services: DevServices) -> None:
    with pytest.raises(SieveUnavailableError, match="certificate is not valid"):
        connect(services, ssl.create_default_context())


def test_no_server(services: DevServices) -> None:
    with pytest.raises(SieveUnavailableError, match="Filters are not available"):
        ManageSieveClient.connect("127.0.0.1", free_port(), security="none", timeout=2)
