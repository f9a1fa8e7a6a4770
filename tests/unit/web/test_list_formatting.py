from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webmail.imap.types import Address
from webmail.web.formatting import hue, initials, message_date, participants, recipients, relative_date

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ME = "me@example.test"


def test_initials_and_a_stable_colour() -> None:
    assert initials([Address("Alice Martin", "alice@example.org")]) == "AM"
    assert initials([Address("María José García", "mj@example.es")]) == "MG"
    assert initials([Address("", "helpdesk@example.org")]) == "H"
    assert initials([]) == "?"
    assert hue([Address("A", "Alice@Example.org")]) == hue([Address("B", "alice@example.org")])
    assert 0 <= hue([Address("", "x@y")]) < 8


def test_relative_date_for_the_last_week_only() -> None:
    assert relative_date(NOW - timedelta(seconds=20), NOW) == "just now"
    assert relative_date(NOW - timedelta(minutes=5), NOW) == "5 minutes ago"
    assert relative_date(NOW - timedelta(hours=1), NOW) == "1 hour ago"
    assert relative_date(NOW - timedelta(days=1, hours=2), NOW) == "yesterday"
    assert relative_date(NOW - timedelta(days=3), NOW) == "3 days ago"
    assert relative_date(NOW - timedelta(days=8), NOW) == ""
    assert relative_date(None, NOW) == ""


def test_message_date_today_this_year_and_before() -> None:
    assert message_date(NOW - timedelta(hours=2), UTC, NOW) == "10:00"
    assert message_date(datetime(2026, 11, 6, 14, 32, tzinfo=UTC), UTC, NOW) == "Fri 6 Nov, 14:32"
    assert message_date(datetime(2025, 3, 2, 9, 5, tzinfo=UTC), UTC, NOW) == "2 Mar 2025, 09:05"


def test_participants_and_recipients_say_me() -> None:
    alice, me, bob = Address("Alice Martin", "alice@x"), Address("Me", ME), Address("", "bob@y")
    assert participants([[alice], [me], [alice]], ME) == "Alice, me"
    assert participants([[alice]], ME) == "Alice Martin"
    assert participants([[bob], [alice]], ME) == "bob@y, Alice"
    assert recipients([me, bob], [alice], ME) == "to me, 2 others"
    assert recipients([bob], [], ME) == "to bob@y"
    assert recipients([], [], ME) == "to undisclosed recipients"
