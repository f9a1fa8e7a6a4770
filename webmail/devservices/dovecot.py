"""A private Dovecot (IMAP, POP3, LMTP, ManageSieve) on free loopback ports in its own folder.

Mail delivered over LMTP runs the user's active Sieve script (Pigeonhole); what the script
sends (vacation replies, redirects) goes to ``relay_port``: the SMTP sink's relay listener.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import pwd
import re
import secrets
import signal
import smtplib
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webmail.devservices.system import find_program, free_ports, stop_process_group, wait_for_port

MASTER_USER = "webmail-master"

Flavour = Literal["dovecot", "courier"]
LITERAL = re.compile(rb"\{(\d+)\+?\}$")

# Dovecot's own layout: folders at the top level, "/" between levels, special-use attributes.
DOVECOT_NAMESPACES = """\
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Archive {{
    special_use = \\Archive
    auto = subscribe
  }}
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
"""

# What Courier IMAP and Debian's Cyrus look like: every folder below "INBOX." with "." between
# levels, no special-use attributes (a Trash exists, as a mail client left it; Sent, Drafts,
# Archive and Junk do not), a public namespace of shared folders, and Courier's missing
# extensions. Dovecot still understands the commands it no longer advertises, so every IMAP
# session is written to rawlog/<user>/ for the tests to check that none was sent.
COURIER_NAMESPACES = """\
namespace inbox {{
  inbox = yes
  prefix = INBOX.
  separator = .
  mailbox Trash {{
    auto = subscribe
  }}
}}
namespace public {{
  type = public
  prefix = Public.
  separator = .
  location = maildir:{root}/public:INDEXPVT=~/public
  subscriptions = no
  list = yes
  mailbox Announcements {{
    auto = create
  }}
}}
rawlog_dir = {root}/rawlog/%u
"""
COURIER_CAPABILITY = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
    "I18NLEVEL=1 SEARCHRES WITHIN BINARY SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE "
    "LITERAL+ NOTIFY QUOTA"
)

CONFIG_TEMPLATE = """\
instance_name = {instance}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap pop3 lmtp sieve
# STARTTLS on ManageSieve only, with a certificate made at start (``Dovecot.tls_cert``):
# IMAP, POP3 and LMTP stay plain, as the tests expect.
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = {auth_failure_delay} secs
auth_username_format = {username_format}
login_trusted_networks = {trusted_networks}
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
mail_plugins = $mail_plugins quota
protocol imap {{
  ssl = no
  {imap_capability}
  mail_plugins = $mail_plugins imap_quota
  mail_max_userip_connections = {max_userip_connections}
}}
protocol lmtp {{
  ssl = no
  mail_plugins = $mail_plugins sieve
}}
protocol pop3 {{
  ssl = no
  mail_max_userip_connections = {max_userip_connections}
  pop3_uidl_format = %08Xu%08Xv
}}
plugin {{
  quota = count:User quota
  quota_rule = *:storage={quota_mb}M
  quota_vsizes = yes
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_max_redirects = {max_redirects}
  # Tests send a vacation-triggering message to a fresh user: answer even when the user's
  # address is not in To/Cc, and let the reply period be as short as a test needs.
  sieve_vacation_dont_check_recipient = yes
  sieve_vacation_min_period = 1s
  sieve_redirect_envelope_from = recipient
}}
submission_host = 127.0.0.1:{relay_port}
# LMTP delivers to t-...@test users: a hostname of its own keeps vacation's "From" readable.
hostname = webmail.test
auth_master_user_separator = *
passdb {{
  # "<user>*{master_user}" logs in as <user>: the operator's master login for background jobs.
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/masters
  master = yes
  pass = yes
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/mail/%u
}}
{namespaces}
service imap-login {{
  {chroot}
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  {chroot}
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
service managesieve-login {{
  {chroot}
  inet_listener sieve {{
    address = 127.0.0.1
    port = {sieve_port}
  }}
}}
service anvil {{
  {chroot}
  # Tests fail logins on purpose; Dovecot's growing per-IP penalty (up to 15 s) would stall them.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@dataclass
class Dovecot:
    """A running private Dovecot.

    Each user has a passwd-file of its own (``users/<name>``): Dovecot re-reads a changed
    passwd-file at most once a second, so one shared file would hide users added quickly.
    """

    root: Path
    imap_port: int
    pop3_port: int
    lmtp_port: int
    sieve_port: int
    relay_port: int  # where Dovecot sends vacation replies and redirects: the sink listens there
    process: subprocess.Popen[bytes]
    passwords: dict[str, str] = field(default_factory=dict)
    master_user: str = MASTER_USER
    master_password: str = ""
    flavour: Flavour = "dovecot"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def config_path(self) -> Path:
        return self.root / "dovecot.conf"

    def add_user(self, username: str, password: str, *, quota_kb: int | None = None) -> None:
        """Create (or change the password of) a mail user; the Maildir appears on first login.

        ``quota_kb`` gives this user a storage quota of their own (instead of the server's)."""
        if any(ch in username + password for ch in ":/\n\r") or username.startswith("."):
            raise ValueError("user names and passwords may not hold ':', '/' or newlines")
        with self._lock:
            changed = username in self.passwords
            self.passwords[username] = password
            tmp = self.root / "users" / f".{username}.tmp"
            extra = f"userdb_quota_rule=*:storage={quota_kb}K" if quota_kb is not None else ""
            tmp.write_text(f"{username}:{{PLAIN}}{password}::::::{extra}\n")
            tmp.chmod(0o644)
            tmp.replace(self.root / "users" / username)
            if self.flavour == "courier":
                rawlog = self.root / "rawlog" / username  # Dovecot writes there only if it exists
                rawlog.mkdir(exist_ok=True)
                rawlog.chmod(0o777)
            if changed:
                time.sleep(1.1)  # let Dovecot's once-a-second re-read see the new password

    def new_user(self, password: str = "secret", *, quota_kb: int | None = None) -> str:
        """A fresh user with an empty mailbox, for tests (with a small quota of its own if asked)."""
        username = f"t-{uuid.uuid4().hex[:12]}@test"
        self.add_user(username, password, quota_kb=quota_kb)
        return username

    def doveadm(self, *args: str) -> str:
        doveadm = find_program("doveadm")
        result = subprocess.run(
            [doveadm, "-c", str(self.config_path), *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def commands(self, username: str) -> list[str]:
        """The commands ``username``'s IMAP sessions sent, without tags or literals (courier
        flavour only: its rawlog)."""
        found = []
        for path in sorted((self.root / "rawlog" / username).glob("*.in")):
            literal = 0  # bytes of a literal ({n}) still to skip: message text, not commands
            for line in path.read_bytes().splitlines():
                data = line.split(b" ", 1)[1] if b" " in line else b""  # "<timestamp> <data>"
                if literal > 0:
                    literal -= len(data) + 2
                    continue
                tag, _, command = data.partition(b" ")
                if command and tag.isalnum():
                    found.append(command.decode(errors="replace"))
                size = LITERAL.search(data)
                literal = int(size[1]) if size else 0
        return found

    def connections(self, username: str) -> int:
        """How many IMAP connections Dovecot counts for ``username`` right now."""
        out = self.doveadm("who", "-1", username)
        return sum(1 for line in out.splitlines()[1:] if line.split()[:2] == [username, "imap"])

    @property
    def tls_cert(self) -> Path:
        """The self-signed certificate ManageSieve offers with STARTTLS (for 127.0.0.1)."""
        return self.root / "tls" / "cert.pem"

    @property
    def ports(self) -> tuple[int, ...]:
        """The ports Dovecot itself listens on."""
        return (self.imap_port, self.pop3_port, self.lmtp_port, self.sieve_port)

    def deliver(self, sender: str, recipient: str, raw: bytes) -> None:
        """Deliver ``raw`` to ``recipient`` over LMTP, as a mail server would: the user's active
        Sieve script runs on it."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as lmtp:
            lmtp.sendmail(sender, [recipient], raw)

    def stop(self) -> None:
        """Stop the master and all its children (as a crash or restart would drop clients)."""
        stop_process_group(self.process)

    def kill(self) -> None:
        """SIGKILL the master and all its children at once, as a crash would (no goodbye to clients)."""
        try:
            os.killpg(os.getpgid(self.process.pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)
        stop_process_group(self.process)  # children that outlived the signal's delivery

    def start(self) -> None:
        """Start again after ``stop()`` or ``kill()``, on the same ports with the same users and mail."""
        self.process = _spawn(self.root)
        for port in self.ports:
            wait_for_port(port, process=self.process)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_dovecot(
    root: Path,
    *,
    quota_mb: int = 1024,
    max_userip_connections: int = 10,
    auth_failure_delay: int = 0,
    trusted_networks: str = "",
    imap_capability: str = "",
    max_redirects: int = 4,
    username_format: str = "%Lu",
    flavour: Flavour = "dovecot",
) -> Dovecot:
    """Start Dovecot with its config, users file, sockets and mail all under ``root``.

    ``username_format`` is Dovecot's ``auth_username_format``: ``%Lu`` (its default) folds user
    names to lower case, ``%u`` keeps ``Bob`` and ``bob`` apart as two accounts. ``flavour``
    "courier" makes it look like Courier IMAP or Cyrus (``COURIER_NAMESPACES``); ``imap_capability``,
    if given, replaces the capabilities it advertises.
    """
    find_program("dovecot")  # installs it if missing, before anything is written
    root.mkdir(parents=True, exist_ok=True)
    # The login processes run unprivileged and must reach the sockets below root.
    root.chmod(0o755)
    owned = ("mail", "public", "rawlog") if flavour == "courier" else ("mail",)
    for name in owned:
        (root / name).mkdir(exist_ok=True)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        mail_uid, mail_gid = nobody.pw_uid, nobody.pw_gid
        for name in owned:
            os.chown(root / name, mail_uid, mail_gid)
        login_user, internal_user, chroot = "dovenull", "dovecot", ""
    else:
        me = pwd.getpwuid(os.geteuid())
        mail_uid, mail_gid = me.pw_uid, me.pw_gid
        login_user = internal_user = me.pw_name
        chroot = "chroot ="
    find_program("managesieve")  # Pigeonhole: Sieve for LMTP and the ManageSieve server
    imap_port, pop3_port, lmtp_port, sieve_port, relay_port = free_ports(5)
    if flavour == "courier":
        namespaces = COURIER_NAMESPACES.format(root=root)
        imap_capability = imap_capability or COURIER_CAPABILITY
    else:
        namespaces = DOVECOT_NAMESPACES.format()
    (root / "dovecot.conf").write_text(
        CONFIG_TEMPLATE.format(
            instance=f"wm-{root.name}",
            root=root,
            auth_failure_delay=auth_failure_delay,
            username_format=username_format,
            trusted_networks=trusted_networks,
            login_user=login_user,
            internal_user=internal_user,
            mail_uid=mail_uid,
            mail_gid=mail_gid,
            max_userip_connections=max_userip_connections,
            quota_mb=quota_mb,
            chroot=chroot,
            master_user=MASTER_USER,
            namespaces=namespaces,
            # Tests play servers without an extension by listing the capabilities themselves.
            imap_capability=f"imap_capability = {imap_capability}" if imap_capability else "",
            imap_port=imap_port,
            pop3_port=pop3_port,
            lmtp_port=lmtp_port,
            sieve_port=sieve_port,
            relay_port=relay_port,
            max_redirects=max_redirects,
        )
    )
    write_certificate(root / "tls")
    (root / "users").mkdir(exist_ok=True)
    (root / "users").chmod(0o755)
    master_password = secrets.token_urlsafe(16)
    (root / "masters").write_text(f"{MASTER_USER}:{{PLAIN}}{master_password}::::::\n")
    (root / "masters").chmod(0o644)
    process = _spawn(root)
    dovecot = Dovecot(
        root,
        imap_port,
        pop3_port,
        lmtp_port,
        sieve_port,
        relay_port,
        process,
        master_password=master_password,
        flavour=flavour,
    )
    try:
        for port in dovecot.ports:
            wait_for_port(port, process=process)
    except Exception as exc:
        dovecot.stop()
        output = (root / "dovecot.stderr").read_text(errors="replace")
        raise RuntimeError(f"Dovecot did not start: {exc}\n{output}\n{dovecot.log()}") from exc
    return dovecot


def _spawn(root: Path) -> subprocess.Popen[bytes]:
    binary = find_program("dovecot")
    with open(root / "dovecot.stderr", "ab") as stderr:
        # A session of its own, so stop() can end the master and every imap/pop3 child at once.
        return subprocess.Popen(
            [binary, "-F", "-c", str(root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )


def write_certificate(folder: Path) -> None:
    """A self-signed certificate for 127.0.0.1 (cert.pem) and its key (key.pem)."""
    folder.mkdir(exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
