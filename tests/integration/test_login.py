from __future__ import annotations

import re
import time

import pytest
import redis
from fastapi.testclient import TestClient

from tests.conftest import MailUser, login_token, make_settings, session_token, sign_in
from webmail.app import create_app
from webmail.config import Settings
from webmail.devservices import DevServices
from webmail.devservices.system import free_port


class TestSignIn:
    def test_success_redirects_to_inbox(self, client: TestClient, mail_user: MailUser) -> None:
        response = sign_in(client, mail_user)
        assert response.status_code == 303
        assert response.headers["location"] == "/mail/INBOX"
        page = client.get("/mail/INBOX")
        assert page.status_code == 200
        assert mail_user.username in page.text

    def test_wrong_password(self, client: TestClient, mail_user: MailUser) -> None:
        response = sign_in(client, mail_user, password="not-the-password")
        assert response.status_code == 401
        assert "Wrong username or password" in response.text
        assert "wm_session" not in response.headers.get("set-cookie", "")
        assert client.get("/mail/INBOX").status_code == 303

    def test_unknown_user_gets_the_same_answer(self, client: TestClient) -> None:
        response = sign_in(client, MailUser("nobody-here@test", "whatever"))
        assert response.status_code == 401
        assert "Wrong username or password" in response.text

    def test_unreachable_imap_server(
        self, services: DevServices, database_url: str, mail_user: MailUser
    ) -> None:
        settings = make_settings(services, database_url, imap_port=free_port())
        with TestClient(create_app(settings), follow_redirects=False) as client:
            response = sign_in(client, mail_user)
        assert response.status_code == 503
        assert "Mail server unavailable" in response.text
        assert "Traceback" not in response.text

    def test_new_session_id_on_every_sign_in(self, client: TestClient, mail_user: MailUser) -> None:
        planted = "attacker-chosen-id.AAAA"
        client.cookies.set("wm_session", planted)
        first = sign_in(client, mail_user).cookies["wm_session"]
        client.cookies.clear()
        second = sign_in(client, mail_user).cookies["wm_session"]
        assert planted.split(".")[0] not in (first.split(".")[0], second.split(".")[0])
        assert first.split(".")[0] != second.split(".")[0]


class TestRateLimit:
    def test_failed_logins_reach_429(
        self, client: TestClient, mail_user: MailUser, settings: Settings
    ) -> None:
        for _ in range(settings.login_max_failures_per_user):
            assert sign_in(client, mail_user, password="wrong").status_code == 401
        response = sign_in(client, mail_user, password="wrong")
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) > 0
        assert "Try again in 15 minutes" in response.text
        # Even the right password waits until the window has passed.
        assert sign_in(client, mail_user).status_code == 429

    def test_limit_is_per_user(self, client: TestClient, services: DevServices, settings: Settings) -> None:
        victim = MailUser(services.dovecot.new_user("pw-victim"), "pw-victim")
        for _ in range(settings.login_max_failures_per_user + 1):
            sign_in(client, victim, password="wrong")
        other = MailUser(services.dovecot.new_user("pw-other"), "pw-other")
        assert sign_in(client, other).status_code == 303


class TestSession:
    def test_cookie_flags(self, client: TestClient, mail_user: MailUser) -> None:
        response = sign_in(client, mail_user)
        cookie = response.headers["set-cookie"].lower()
        assert "wm_session=" in cookie
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" not in cookie  # plain http on loopback

    def test_cookie_secure_over_https(self, settings: Settings, mail_user: MailUser) -> None:
        app = create_app(settings)
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
            response = sign_in(client, mail_user)
        session_cookie = [c for c in response.headers.get_list("set-cookie") if c.startswith("wm_session=")]
        assert session_cookie
        assert "secure" in session_cookie[0].lower()

    def test_no_plaintext_password_in_redis(
        self, client: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        assert sign_in(client, mail_user).status_code == 303
        r = redis.Redis.from_url(services.redis.url)
        secret = mail_user.password.encode()
        for key in r.scan_iter(count=1000):
            kind = r.type(key)
            if kind == b"string":
                values = [r.get(key) or b""]
            elif kind == b"hash":
                values = [b"".join(pair) for pair in r.hgetall(key).items()]
            elif kind == b"set":
                values = list(r.smembers(key))
            elif kind == b"list":
                values = r.lrange(key, 0, -1)
            elif kind == b"zset":
                values = [member for member, _ in r.zrange(key, 0, -1, withscores=True)]
            else:
                values = []
            for value in [key, *values]:
                assert secret not in value, f"password found in Redis key {key!r}"

    def test_logout_invalidates_cookie(
        self, signed_in: TestClient, settings: Settings, services: DevServices
    ) -> None:
        old_cookie = signed_in.cookies["wm_session"]
        sid = old_cookie.split(".")[0]
        r = redis.Redis.from_url(services.redis.url)
        assert r.exists(f"{settings.redis_prefix}:sess:{sid}")
        token = session_token(signed_in)
        pool = signed_in.app.state.services.pool  # type: ignore[attr-defined]
        assert len(pool) == 1
        response = signed_in.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303
        assert response.headers["location"] == "/login?signed_out=1"
        assert not r.exists(f"{settings.redis_prefix}:sess:{sid}")
        assert len(pool) == 0
        signed_in.cookies.clear()
        signed_in.cookies.set("wm_session", old_cookie)
        replay = signed_in.get("/mail/INBOX")
        assert replay.status_code == 303
        assert replay.headers["location"] == "/login"

    def test_idle_expiry(self, signed_in: TestClient, settings: Settings, services: DevServices) -> None:
        sid = signed_in.cookies["wm_session"].split(".")[0]
        r = redis.Redis.from_url(services.redis.url)
        key = f"{settings.redis_prefix}:sess:{sid}"
        assert 0 < r.ttl(key) <= settings.session_idle_seconds
        r.pexpire(key, 200)  # as if the idle timeout were about to run out
        time.sleep(0.4)
        response = signed_in.get("/mail/INBOX")
        assert response.status_code == 303
        assert response.headers["location"] == "/login"

    def test_request_refreshes_idle_timer(
        self, signed_in: TestClient, settings: Settings, services: DevServices
    ) -> None:
        sid = signed_in.cookies["wm_session"].split(".")[0]
        r = redis.Redis.from_url(services.redis.url)
        key = f"{settings.redis_prefix}:sess:{sid}"
        r.expire(key, 60)
        assert signed_in.get("/mail/INBOX").status_code == 200
        assert r.ttl(key) > 60

    def test_absolute_expiry(self, signed_in: TestClient, settings: Settings, services: DevServices) -> None:
        sid = signed_in.cookies["wm_session"].split(".")[0]
        r = redis.Redis.from_url(services.redis.url)
        r.hset(
            f"{settings.redis_prefix}:sess:{sid}",
            "created",
            str(time.time() - settings.session_max_seconds - 1),
        )
        assert signed_in.get("/mail/INBOX").status_code == 303

    def test_tampered_cookie_key_is_no_session(self, signed_in: TestClient) -> None:
        sid, _, key = signed_in.cookies["wm_session"].partition(".")
        forged = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
        signed_in.cookies.clear()
        signed_in.cookies.set("wm_session", f"{sid}.{forged}")
        assert signed_in.get("/mail/INBOX").status_code == 303


class TestCSRF:
    def test_login_without_token_is_403(self, client: TestClient, mail_user: MailUser) -> None:
        client.get("/login")
        response = client.post(
            "/login", data={"username": mail_user.username, "password": mail_user.password}
        )
        assert response.status_code == 403

    def test_login_with_foreign_token_is_403(self, client: TestClient, mail_user: MailUser) -> None:
        login_token(client)
        data = {"username": mail_user.username, "password": mail_user.password, "csrf_token": "forged"}
        assert client.post("/login", data=data).status_code == 403

    def test_logout_without_token_is_403(self, signed_in: TestClient) -> None:
        assert signed_in.post("/logout").status_code == 403
        assert signed_in.get("/mail/INBOX").status_code == 200

    def test_logout_with_wrong_token_is_403(self, signed_in: TestClient) -> None:
        assert signed_in.post("/logout", headers={"X-CSRF-Token": "wrong"}).status_code == 403
        assert signed_in.post("/logout", data={"csrf_token": "wrong"}).status_code == 403

    def test_header_token_is_accepted(self, signed_in: TestClient) -> None:
        token = session_token(signed_in)
        assert signed_in.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303

    def test_cross_origin_post_is_403(self, signed_in: TestClient) -> None:
        token = session_token(signed_in)
        response = signed_in.post(
            "/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
        )
        assert response.status_code == 403


class TestDeepLinks:
    """The page a signed-out browser asked for is where signing in lands, for this app's paths only."""

    def test_the_asked_for_page_survives_sign_in(self, client: TestClient, mail_user: MailUser) -> None:
        asked = client.get("/mail/Archive?page=2")
        assert asked.headers["location"] == "/login?next=%2Fmail%2FArchive%3Fpage%3D2"
        page = client.get(asked.headers["location"]).text
        assert '<input type="hidden" name="next" value="/mail/Archive?page=2">' in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = {"username": mail_user.username, "password": mail_user.password, "csrf_token": token}
        signed_in = client.post("/login", data={**form, "next": "/mail/Archive?page=2"})
        assert signed_in.headers["location"] == "/mail/Archive?page=2"

    @pytest.mark.parametrize(
        "target",
        ["https://evil.example/", "//evil.example/mail", "/\\evil.example", "/\\\\evil.example", "mail/INBOX",
         "/login", "javascript:alert(1)", "/mail/INBOX\r\nSet-Cookie: x=1"],
    )  # fmt: skip
    def test_other_sites_are_never_a_destination(
        self, client: TestClient, mail_user: MailUser, target: str
    ) -> None:
        page = client.get("/login", params={"next": target}).text
        assert 'name="next"' not in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = {"username": mail_user.username, "password": mail_user.password, "csrf_token": token}
        signed_in = client.post("/login", data={**form, "next": target})
        assert signed_in.headers["location"] == "/mail/INBOX"

    def test_sign_out_says_so(self, signed_in: TestClient) -> None:
        token = session_token(signed_in)
        gone = signed_in.post("/logout", data={"csrf_token": token})
        page = signed_in.get(gone.headers["location"])
        assert "You are signed out" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert 'name="password"' in page.text
