"""Debian's nginx on free loopback ports, configured by the project's own ``deploy/nginx.conf``."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from webmail.config import PROJECT_ROOT
from webmail.devservices.dovecot import write_certificate
from webmail.devservices.system import find_program, free_ports, stop_process, wait_for_port

DEPLOY_CONFIG = PROJECT_ROOT / "deploy" / "nginx.conf"
TEMPLATE_NAME = re.compile(r"\$\{(\w+)\}")

MAIN_CONFIG = """\
{user}
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{
    worker_connections 256;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {root}/access.log;
    client_body_temp_path {root}/temp/body;
    proxy_temp_path {root}/temp/proxy;
    fastcgi_temp_path {root}/temp/fastcgi;
    uwsgi_temp_path {root}/temp/uwsgi;
    scgi_temp_path {root}/temp/scgi;
    include {root}/webmail.conf;
}}
"""


def render_template(text: str, values: dict[str, str]) -> str:
    """envsubst with a list of names: each ``${NAME}`` given is replaced; nginx's ``$name`` stays."""
    missing = sorted({name for name in TEMPLATE_NAME.findall(text) if name not in values})
    if missing:
        raise ValueError(f"no value for {', '.join(missing)} in {DEPLOY_CONFIG.name}")
    return TEMPLATE_NAME.sub(lambda match: values[match.group(1)], text)


@dataclass
class Nginx:
    root: Path
    https_port: int
    http_port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def certificate(self) -> Path:
        """The self-signed certificate nginx presents (for 127.0.0.1)."""
        return self.root / "tls" / "cert.pem"

    def log(self) -> str:
        return (self.root / "error.log").read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


def start_nginx(
    root: Path, *, upstream: str, root_path: str, static_dir: Path, max_attachment_mb: int
) -> Nginx:
    """Start nginx in ``root`` with ``deploy/nginx.conf`` in front of the app at ``upstream``."""
    binary = find_program("nginx")
    (root / "temp").mkdir(parents=True, exist_ok=True)
    write_certificate(root / "tls")
    https_port, http_port = free_ports(2)
    site = render_template(
        DEPLOY_CONFIG.read_text(),
        {
            "NGINX_UPSTREAM": upstream,
            "WEBMAIL_ROOT_PATH": root_path,
            "NGINX_STATIC_DIR": str(static_dir),
            "NGINX_CLIENT_MAX_BODY_SIZE": f"{max_attachment_mb + 2}m",
            "NGINX_SERVER_NAME": "127.0.0.1",
            "NGINX_HTTP_PORT": f"127.0.0.1:{http_port}",
            "NGINX_HTTPS_PORT": f"127.0.0.1:{https_port}",
            "NGINX_TLS_CERTIFICATE": str(root / "tls" / "cert.pem"),
            "NGINX_TLS_CERTIFICATE_KEY": str(root / "tls" / "key.pem"),
        },
    )
    (root / "webmail.conf").write_text(site)
    # Started as root, nginx's workers run as nobody (nginx makes its temporary folders theirs).
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(MAIN_CONFIG.format(root=root, user=user))
    command = [binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        raise RuntimeError(f"nginx refused {DEPLOY_CONFIG}: {check.stderr.strip()}")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(https_port, process=process)
    except Exception as exc:
        stop_process(process)
        raise RuntimeError(f"nginx did not start: {exc}; see {root / 'error.log'}") from exc
    return Nginx(root, https_port, http_port, process)
