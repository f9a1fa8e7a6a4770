from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webmail.mail.threads import Linked, base_subject, conversations, message_ids

DAY = datetime(2026, 11, 2, 10, tzinfo=UTC)


def linked(uid: int, subject: str, *refs: str, when: datetime = DAY) -> Linked:
    return Linked(uid, f"<m{uid}@x>", refs[-1] if refs else None, tuple(refs), subject, when)


def test_base_subject_drops_reply_and_list_prefixes() -> None:
    assert base_subject("Re: AW: [team] Fwd:  Lunch   plans") == "lunch plans"
    assert base_subject("RE[2]: Lunch") == "lunch"
    assert base_subject("Lunch") == base_subject("re: lunch")


def test_message_ids_reads_references_headers() -> None:
    assert message_ids(" <a@x>\r\n\t<b@y> junk <c@z>") == ("<a@x>", "<b@y>", "<c@z>")


def test_references_group_and_shared_missing_parents_join() -> None:
    messages = {
        1: linked(1, "Lunch"),
        2: linked(2, "Re: Lunch", "<m1@x>"),
        3: linked(3, "Re: Lunch", "<gone@x>"),  # both answer a message kept in another folder
        4: linked(4, "Re: Lunch", "<gone@x>", "<m3@x>"),
    }
    assert conversations([[1, 2, 3, 4]], messages) == [[3, 4], [1, 2]]


def test_subject_alone_joins_only_reference_less_messages_close_in_time() -> None:
    messages = {
        1: linked(1, "Hello"),
        2: linked(2, "Re: Hello", when=DAY + timedelta(days=1)),
        3: linked(3, "Hello", when=DAY + timedelta(days=30)),
        4: linked(4, "Re: Hello", "<elsewhere@x>", when=DAY + timedelta(hours=2)),
    }
    assert conversations([[1], [2], [3], [4]], messages) == [[4], [3], [1, 2]]


def test_gone_messages_are_dropped() -> None:
    assert conversations([[1, 2]], {2: linked(2, "x")}) == [[2]]
