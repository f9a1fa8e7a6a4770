from __future__ import annotations

import pytest

from webmail.devservices.system import PACKAGES, MissingProgramError, find_program


def test_finds_an_installed_program() -> None:
    assert find_program("sh", install=False).endswith("/sh")


def test_missing_program_names_the_exact_command() -> None:
    with pytest.raises(MissingProgramError) as info:
        find_program("no-such-server-xyz", install=False)
    message = str(info.value)
    assert "apt-get update && apt-get install -y --no-install-recommends no-such-server-xyz" in message


def test_dovecot_packages_cover_imap_pop3_and_lmtp() -> None:
    assert set(PACKAGES["dovecot"]) == {"dovecot-imapd", "dovecot-pop3d", "dovecot-lmtpd"}
