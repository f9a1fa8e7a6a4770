"""The rules model: what a form says becomes exactly that Sieve script, and only our own
unchanged scripts are read back as rules."""

from __future__ import annotations

from datetime import date

import pytest

from webmail.mail.query import SearchText
from webmail.sieve.errors import RuleError
from webmail.sieve.rules import Action, Condition, FilterSet, Rule
from webmail.sieve.syntax import quote, size, text_block
from webmail.sieve.vacation import Forwarding, Vacation

EXTENSIONS = frozenset("fileinto copy imap4flags reject regex mime vacation date relational".split())


def rule(conditions: list[tuple[str, str, str]], actions: list[tuple[str, str]], match: str = "all") -> Rule:
    return Rule.from_form("", match, conditions, actions, EXTENSIONS)


class TestQuoting:
    def test_backslash_and_quote_are_escaped_and_nothing_else(self) -> None:
        assert quote('a"b\\c') == '"a\\"b\\\\c"'
        assert quote("${hex:41} * ? ; }") == '"${hex:41} * ? ; }"'  # no extension reads ${...}

    @pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\r\nb", "a\0b"])
    def test_line_breaks_never_reach_a_quoted_string(self, value: str) -> None:
        with pytest.raises(ValueError, match="one line"):
            quote(value)

    def test_multi_line_text_is_dot_stuffed(self) -> None:
        assert text_block("one\r\n.\r\n..two") == "text:\r\none\r\n..\r\n...two\r\n.\r\n"

    @pytest.mark.parametrize(
        ("given", "written"), [("5m", "5M"), ("100 K", "100K"), ("2048", "2048"), ("1GB", "1G")]
    )
    def test_sizes(self, given: str, written: str) -> None:
        assert size("Size", given) == written

    @pytest.mark.parametrize("given", ["", "5 T", "-1", "1.5M", "1; discard"])
    def test_bad_sizes_name_the_field(self, given: str) -> None:
        with pytest.raises(RuleError, match="Size: write a size") as error:
            size("Size", given)
        assert error.value.status_code == 422


class TestInjection:
    """Whatever a field holds, the script does what the form said and no more."""

    @pytest.mark.parametrize(
        "hostile",
        ['"; discard; "', '\\"; discard; #', 'x" :is "y', "\\", '"', "} stop; if true {", "text:"],
    )
    def test_values_stay_inside_their_string(self, hostile: str) -> None:
        made = rule([("subject", "contains", hostile)], [("fileinto", hostile)])
        script = FilterSet((made,)).render()
        body = script.split("\r\n", 3)[3]  # after the comment, the JSON copy and require
        escaped = hostile.replace("\\", "\\\\").replace('"', '\\"')
        assert body == (
            f"# Subject contains {hostile}\r\n"
            f'if header :contains "subject" "{escaped}" {{\r\n'
            f'    fileinto "{escaped}";\r\n'
            "}\r\n"
        )

    @pytest.mark.parametrize(
        ("field", "op", "value", "message"),
        [
            ("subject", "contains", "a\r\nb", "Subject: line breaks"),
            ("from", "is", "a\nb", "From: line breaks"),
            ("header:X-A", "is", "a\rb", "X-A: line breaks"),
            ("header:X-A: b", "is", "v", "Header: write a header name"),
            ("header:X\r\nY", "is", "v", "Header: write a header name"),
            ("body", "contains", "x", "Unknown condition field"),
            ("subject", "exists", "x", "choose contains, is, matches or regex"),
            ("size", "contains", "5M", "Size: choose over or under"),
        ],
    )
    def test_bad_conditions_are_refused_naming_the_field(
        self, field: str, op: str, value: str, message: str
    ) -> None:
        with pytest.raises(RuleError, match=message):
            rule([(field, op, value)], [("stop", "")])

    @pytest.mark.parametrize(
        ("kind", "target", "message"),
        [
            ("fileinto", "a\r\nb", "Folder: line breaks"),
            ("fileinto", "", "name the folder"),
            ("redirect", 'a@b.c"; discard; "', "is not an e-mail address"),
            ("redirect", "a@b.c\r\nBcc: x@y.z", "line breaks"),
            ("flag", "has space", "Flag: a tag name"),
            ("flag", '\\Seen" discard', "Flag: a tag name"),
            ("keep", "", "Unknown action"),
        ],
    )
    def test_bad_actions_are_refused(self, kind: str, target: str, message: str) -> None:
        with pytest.raises(RuleError, match=message):
            rule([], [(kind, target)])

    def test_a_reject_reason_over_several_lines_is_a_text_block(self) -> None:
        made = rule([], [("reject", 'No.\r\n.\r\n"; discard;')])
        assert made.actions[0].sieve() == 'reject text:\r\nNo.\r\n..\r\n"; discard;\r\n.\r\n;'


class TestWriting:
    def test_every_field_and_operator(self) -> None:
        made = rule(
            [("from", "contains", "Anna"), ("from", "is", "a@example.org"), ("to", "matches", "*@example.org"),
             ("header:List-Id", "regex", "^<x"), ("size", "over", "5M"), ("size", "under", "10K"),
             ("attachment", "", "")],
            [("flag", "$label1"), ("fileinto", "Lists"), ("seen", ""), ("copyinto", "Backup"), ("stop", "")],
            match="any",
        )  # fmt: skip
        assert made.test() == (
            'anyof (header :contains "from" "Anna", address :all :is "from" "a@example.org", '
            'address :all :matches ["to", "cc"] "*@example.org", header :regex "List-Id" "^<x", size :over 5M, '
            'size :under 10K, header :mime :anychild :contains "Content-Disposition" "attachment")'
        )
        # flags first, so the message filed by this rule carries them
        assert [a.sieve() for a in made.actions] == [
            'addflag "$label1";', 'fileinto "Lists";', 'addflag "\\\\Seen";', 'fileinto :copy "Backup";', "stop;",
        ]  # fmt: skip
        assert '    addflag "$label1";\r\n    addflag "\\\\Seen";\r\n    fileinto "Lists";' in made.sieve()
        assert made.requires == {"regex", "mime", "imap4flags", "fileinto", "copy"}

    def test_no_condition_means_every_message_and_a_disabled_rule_never_runs(self) -> None:
        made = rule([("subject", "contains", "")], [("fileinto", "All")])
        assert made.conditions == ()
        assert made.name == "every message"
        assert made.test() == "true"
        off = Rule(**{**made.__dict__, "enabled": False})
        assert off.test() == "allof (false, true)"

    def test_extensions_the_server_lacks_are_refused(self) -> None:
        with pytest.raises(RuleError, match="cannot match regular expressions"):
            Rule.from_form("", "all", [("subject", "regex", "x")], [("stop", "")], frozenset())
        with pytest.raises(RuleError, match="no Sieve fileinto"):
            Rule.from_form("", "all", [], [("fileinto", "X")], frozenset())

    def test_an_action_is_needed(self) -> None:
        with pytest.raises(RuleError, match="at least one action"):
            rule([("subject", "is", "x")], [("", "")])

    def test_redirects_within_the_servers_limit(self) -> None:
        forwarding = Forwarding("me@example.org", keep=True)
        rules = tuple(
            rule([("subject", "is", str(n))], [("redirect", f"r{n}@example.org")]) for n in range(3)
        )
        FilterSet(rules, forwarding=forwarding).check(None)  # 4: Pigeonhole's default
        with pytest.raises(RuleError, match="at most 2 addresses; these filters ask for 4"):
            FilterSet(rules, forwarding=forwarding).check(2)
        disabled = Rule(**{**rules[0].__dict__, "enabled": False})
        FilterSet((disabled, *rules[1:]), forwarding=forwarding).check(3)


class TestReadingBack:
    def filters(self) -> FilterSet:
        return FilterSet(
            (rule([("subject", "contains", 'quo"te\\ ünï')], [("fileinto", "Ärger")]),),
            Vacation(
                True,
                "Away",
                "Back on Monday.\n.\nA",
                date(2026, 7, 1),
                date(2026, 7, 14),
                3,
                ("a@example.org",),
            ),
            Forwarding("b@example.org", keep=False),
        )

    def test_our_script_reads_back_as_the_same_model(self) -> None:
        filters = self.filters()
        assert FilterSet.parse(filters.render()) == filters
        assert FilterSet.parse(filters.render().replace("\r\n", "\n")) == filters  # a server that stores LF

    @pytest.mark.parametrize(
        "edit",
        [
            lambda s: s.replace('fileinto "Ärger";', 'fileinto "Ärger";\r\n    stop;'),
            lambda s: s + "discard;\r\n",
            lambda s: s.replace(':subject "Away"', ':subject "Gone"'),  # in the script, not in the JSON copy
            lambda s: s.replace('"Away"', '"Gone"', 1),  # in the JSON copy only
            lambda s: s.replace("# webmail-filters: {", "# webmail-filters: {broken"),
        ],
    )
    def test_any_edit_makes_it_foreign(self, edit) -> None:  # type: ignore[no-untyped-def]
        assert FilterSet.parse(edit(self.filters().render())) is None

    def test_other_scripts_are_not_ours(self) -> None:
        assert FilterSet.parse('require "fileinto";\r\nif true { fileinto "X"; }\r\n') is None
        assert FilterSet.parse("# webmail-filters: {}\r\n") is None

    def test_the_json_copy_cannot_leave_its_comment(self) -> None:
        made = rule([("subject", "contains", "\u2028x\u0085")], [("reject", "a\r\nb")])
        header = FilterSet((made,)).render().split("\r\n")[1]
        assert header.startswith("# webmail-filters: {")
        assert header.isascii()


class TestVacation:
    def test_from_the_form(self) -> None:
        form = {"enabled": "on", "subject": "Away", "body": "Back soon.\r\n", "start": "2026-07-01", "end": "",
                "days": "3"}  # fmt: skip
        vacation = Vacation.from_form(form, ("a@example.org",))
        assert vacation == Vacation(True, "Away", "Back soon.", date(2026, 7, 1), None, 3, ("a@example.org",))
        assert vacation.sieve() == (
            'if currentdate :value "ge" "date" "2026-07-01" {\r\n'
            '    vacation :days 3 :subject "Away" :addresses "a@example.org" text:\r\nBack soon.\r\n.\r\n;\r\n'
            "}\r\n"
        )
        assert vacation.active_on(date(2026, 7, 1))
        assert not vacation.active_on(date(2026, 6, 30))
        assert Vacation().sieve() == ""

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"days": "0"}, "Days between replies"),
            ({"days": "x"}, "Days between replies"),
            ({"start": "2026-13-01"}, "First day: write a date"),
            ({"start": "2026-07-02", "end": "2026-07-01"}, "Last day: must not be before"),
            ({"subject": "a\r\nBcc: x@y.z"}, "Subject: line breaks"),
            ({"body": ""}, "Reply text: write the text"),
        ],
    )
    def test_bad_fields(self, change: dict[str, str], message: str) -> None:
        form = {"enabled": "on", "subject": "Away", "body": "Back.", "days": "7", **change}
        with pytest.raises(RuleError, match=message):
            Vacation.from_form(form, ())

    def test_forwarding(self) -> None:
        assert Forwarding("a@example.org", keep=True).sieve() == 'redirect :copy "a@example.org";\r\n'
        assert Forwarding("a@example.org", keep=False).sieve() == 'redirect "a@example.org";\r\nstop;\r\n'
        assert Forwarding.from_form({"forward_to": "", "keep": "on"}) == Forwarding("", True)
        with pytest.raises(RuleError, match="Forward to: a@b c is not an e-mail address"):
            Forwarding.from_form({"forward_to": "a@b c"})


class TestSearchCriteria:
    def test_exact_where_search_compares_substrings(self) -> None:
        made = rule([("from", "contains", "anna"), ("size", "over", "1K")], [("stop", "")])
        assert made.search_criteria() == (["FROM", SearchText(b"anna"), "LARGER", 1024], True)

    def test_any_becomes_or_and_other_operators_find_at_most(self) -> None:
        made = rule([("to", "is", "a@x"), ("subject", "matches", "*invoice ?"), ("header:X-A", "contains", "1")],
                    [("stop", "")], match="any")  # fmt: skip
        criteria, exact = made.search_criteria()  # type: ignore[misc]
        assert criteria == [
            "OR",
            "OR",
            "TO",
            b"a@x",
            "CC",
            b"a@x",
            "OR",
            "SUBJECT",
            b"invoice ",
            "HEADER",
            b"X-A",
            b"1",
        ]
        assert not exact

    def test_regular_expressions_cannot_be_tried(self) -> None:
        assert (
            rule(
                [("subject", "regex", "x"), ("from", "is", "a")], [("stop", "")], match="any"
            ).search_criteria()
            is None
        )
        all_of = rule([("subject", "regex", "x"), ("from", "contains", "a")], [("stop", "")])
        assert all_of.search_criteria() == (["FROM", b"a"], False)
        assert rule([], [("stop", "")]).search_criteria() == (["ALL"], True)


def test_descriptions() -> None:
    made = rule(
        [("attachment", "", ""), ("header:List-Id", "is", "x")], [("redirect", "a@b.org"), ("discard", "")]
    )
    assert [c.describe() for c in made.conditions] == ["has an attachment", "List-Id is x"]
    assert [a.describe() for a in made.actions] == ["forward to a@b.org", "delete for good"]
    assert made.drastic
    assert Condition.parse("ATTACHMENT", "whatever", "ignored", EXTENSIONS) == Condition(
        "attachment", "is", "yes"
    )
    assert Action.parse("reject", "") == Action("reject", "This message was refused.")
