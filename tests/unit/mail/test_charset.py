"""Decoding bytes of a declared, wrong, unknown or missing charset: always text, never an error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.charset import decode_bytes, lookup

GERMAN = "Grüße aus München: die Äpfel sind süß, das Wetter ist schön und die Straße ist nass. " * 3
RUSSIAN = "Привет! Это письмо написано по-русски, чтобы проверить определение кодировки. " * 3
JAPANESE = "こんにちは。これは文字コードの判定を確かめるための日本語の手紙です。" * 3


class TestLookup:
    @pytest.mark.parametrize(
        ("label", "codec"),
        [
            ("UTF-8", "utf-8"),
            (" utf8 ", "utf-8"),
            ('"utf-8"', "utf-8"),
            ("ISO-8859-1", "cp1252"),  # what "Latin-1" mail means in practice (WHATWG)
            ("latin1", "cp1252"),
            ("US-ASCII", "cp1252"),
            ("ks_c_5601-1987", "cp949"),
            ("GB2312", "gb18030"),
            ("iso-8859-15", "iso8859-15"),
            ("windows-1251", "cp1251"),
            ("UTF-7", "utf-7"),
        ],
    )
    def test_labels_mail_software_writes(self, label: str, codec: str) -> None:
        assert lookup(label) == codec

    @pytest.mark.parametrize(
        "label",
        [
            None,
            "",
            "   ",
            '""',
            "x-unknown",
            "unknown-8bit",
            "x-user-defined",
            "klingon",
            "utf-8\x00",
            "a" * 5000,
        ],
    )
    def test_unknown_labels_are_none(self, label: str | None) -> None:
        assert lookup(label) is None

    @pytest.mark.parametrize(
        "label", ["base64", "rot13", "zlib", "hex", "bz2", "uu", "quopri", "undefined", "idna", "punycode"]
    )
    def test_codecs_that_are_not_mail_charsets_are_none(self, label: str) -> None:
        # Python knows them, but they are bytes-to-bytes or refuse to decode leniently.
        assert lookup(label) is None


class TestDeclared:
    def test_correct_declaration_is_used_without_a_note(self) -> None:
        decoded = decode_bytes(GERMAN.encode("iso-8859-15"), "iso-8859-15")
        assert (decoded.text, decoded.charset, decoded.note) == (GERMAN, "iso8859-15", None)

    def test_latin1_label_reads_windows_1252_characters(self) -> None:
        decoded = decode_bytes("Preis: 5 € – „gut“".encode("cp1252"), "iso-8859-1")
        assert decoded.text == "Preis: 5 € – „gut“"

    def test_a_few_damaged_bytes_keep_the_declared_charset(self) -> None:
        data = GERMAN.encode("utf-8") + b"\xff" + GERMAN.encode("utf-8")
        decoded = decode_bytes(data, "utf-8")
        assert decoded.charset == "utf-8"
        assert decoded.text == GERMAN + "\ufffd" + GERMAN
        assert decoded.note == "Some characters could not be decoded."

    def test_wrong_declaration_is_detected(self) -> None:
        decoded = decode_bytes(RUSSIAN.encode("cp1251"), "utf-8")
        assert decoded.text == RUSSIAN
        assert decoded.charset == "cp1251"
        assert decoded.note == "The text is not valid utf-8; shown as cp1251."

    def test_utf8_declared_as_latin1_stays_latin1(self) -> None:
        # Every byte is valid cp1252, so nothing says the label is wrong: mojibake, not an error.
        decoded = decode_bytes("café".encode(), "iso-8859-1")
        assert decoded.text == "cafÃ©"

    def test_unknown_declaration_falls_back_to_utf8_with_a_note(self) -> None:
        decoded = decode_bytes(GERMAN.encode(), "x-klingon")
        assert decoded.text == GERMAN
        assert decoded.note == "Unknown character set “x-klingon”; shown as utf-8."

    def test_unknown_declaration_of_8bit_text_is_detected(self) -> None:
        decoded = decode_bytes(RUSSIAN.encode("koi8-r"), "x-klingon")
        assert decoded.text == RUSSIAN
        assert decoded.note == f"Unknown character set “x-klingon”; shown as {decoded.charset}."

    @pytest.mark.parametrize("label", ["base64", "rot13", "undefined", "idna", "punycode", "utf-8\x00"])
    def test_hostile_labels_do_not_raise(self, label: str) -> None:
        decoded = decode_bytes(GERMAN.encode(), label)
        assert decoded.text == GERMAN

    @pytest.mark.parametrize("label", ["utf-16", "utf-16-le", "UTF-16BE", "utf-32"])
    def test_wide_encodings_keep_their_zero_bytes(self, label: str) -> None:
        assert decode_bytes(GERMAN.encode(label), label).text == GERMAN


class TestMissing:
    def test_ascii_and_utf8_need_no_declaration(self) -> None:
        assert decode_bytes(b"plain").text == "plain"
        decoded = decode_bytes(GERMAN.encode())
        assert (decoded.text, decoded.charset, decoded.note) == (GERMAN, "utf-8", None)

    @pytest.mark.parametrize(
        ("text", "encoding"),
        [
            (GERMAN, "cp1252"),
            (RUSSIAN, "cp1251"),
            (RUSSIAN, "koi8-r"),
            (JAPANESE, "shift_jis"),
            (JAPANESE, "euc-jp"),
        ],
    )
    def test_undeclared_8bit_text_is_detected(self, text: str, encoding: str) -> None:
        decoded = decode_bytes(text.encode(encoding))
        assert decoded.text == text
        assert decoded.note is None


class TestBrokenBytes:
    def test_nul_bytes_are_removed(self) -> None:
        assert decode_bytes(b"a\x00b\x00", "utf-8").text == "ab"

    def test_empty_input(self) -> None:
        assert decode_bytes(b"").text == ""
        assert decode_bytes(b"", "klingon").text == ""

    def test_random_binary_declared_utf8_decodes_to_something(self) -> None:
        decoded = decode_bytes(bytes(range(256)) * 4, "utf-8")
        assert isinstance(decoded.text, str)
        assert decoded.note is not None

    def test_odd_length_utf16_is_decoded_leniently(self) -> None:
        decoded = decode_bytes(b"a\x00b\x00c", "utf-16-le")
        assert decoded.text.startswith("ab")
        assert decoded.note == "Some characters could not be decoded."


@given(st.binary(max_size=300), st.sampled_from([None, "utf-8", "iso-8859-1", "utf-16", "utf-7", "shift_jis",
                                                 "iso-2022-jp", "klingon", "base64", "idna", ""]))  # fmt: skip
def test_never_raises_and_never_keeps_nul(data: bytes, declared: str | None) -> None:
    decoded = decode_bytes(data, declared)
    assert "\x00" not in decoded.text
    assert lookup(decoded.charset) is not None


@given(st.text(max_size=200))
def test_utf8_round_trips(text: str) -> None:
    assert decode_bytes(text.encode("utf-8"), "utf-8").text == text.replace("\x00", "")
