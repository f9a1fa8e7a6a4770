# The webmail: `webmail serve` by default; `webmail worker` and `webmail db upgrade` with the same image.
# The install and start commands are the README's ("Running it for real"); a test keeps them so.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY webmail ./webmail
COPY templates ./templates
COPY static ./static
COPY alembic ./alembic
# Editable, as the README installs it: templates/, static/ and alembic/ are read beside the package.
RUN python3 -m venv .venv && .venv/bin/pip install -e .

FROM python:3.11-slim
# Only the installed app and its virtual environment: no compiler, headers or build cache.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin webmail \
    && mkdir -p /var/lib/webmail/uploads /var/lib/webmail/exports \
    && chown webmail /var/lib/webmail/uploads /var/lib/webmail/exports
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    WEBMAIL_UPLOAD_DIR=/var/lib/webmail/uploads \
    WEBMAIL_EXPORT_DIR=/var/lib/webmail/exports
USER webmail
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["webmail", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
