"""Content-Transfer-Encoding (RFC 2045): whole parts and streamed chunks, intact and damaged."""

from __future__ import annotations

import base64
import quopri

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webmail.mail.transfer import StreamDecoder, decode_base64, decode_transfer


def stream(data: bytes, encoding: str | None, cuts: list[int]) -> bytes:
    """Feed ``data`` to a StreamDecoder in pieces cut at ``cuts``."""
    decoder = StreamDecoder(encoding)
    out = b""
    start = 0
    for cut in sorted(cuts) + [len(data)]:
        out += decoder.feed(data[start:cut])
        start = cut
    return out + decoder.finish()


class TestBase64:
    @pytest.mark.parametrize(
        ("data", "decoded"),
        [
            (b"SGVsbG8=", b"Hello"),
            (b"SGVsbG8", b"Hello"),  # padding missing
            (b"SGVsbA", b"Hell"),
            (b"SGV\r\nsbG8=\r\n", b"Hello"),
            (b" S G V s b G 8 = ", b"Hello"),
            (b"", b""),
            (b"====", b""),
        ],
    )
    def test_intact(self, data: bytes, decoded: bytes) -> None:
        assert decode_base64(data) == (decoded, False)

    @pytest.mark.parametrize(
        ("data", "decoded"),
        [
            (b"SGVs!bG8=", b"Hello"),  # a stray character
            (b"SGVs\x00bG8=", b"Hello"),
            (b"SGVsbG8!", b"Hello"),  # stray, and the last quantum short
            (b"SGVsbG8=garbage", b"Hello"),  # base64 after the padding
            (b"SGVsbG8=\r\nSGVsbG8=", b"Hello"),  # a second stream glued on
            (b"SGVsbG8gd29ybGQ=\r\n!!garbage!!", b"Hello world"),
            (b"S", b""),  # one character makes no byte
            (b"!!!!", b""),
        ],
    )
    def test_damaged_is_decoded_as_far_as_possible(self, data: bytes, decoded: bytes) -> None:
        assert decode_base64(data) == (decoded, True)

    def test_trailing_whitespace_and_symbols_after_the_padding_are_not_damage(self) -> None:
        assert decode_base64(b"SGVsbG8=\r\n\r\n!!") == (b"Hello", False)


class TestDecodeTransfer:
    def test_quoted_printable(self) -> None:
        assert decode_transfer(b"Gr=C3=BC=C3=9Fe=\r\n aus =3D K=c3=b6ln", "quoted-printable") == (
            "Grüße aus = Köln".encode(),
            False,
        )

    @pytest.mark.parametrize("data", [b"=ZZbad", b"ends with =", b"=", b"a=3", b"=\r\n=\r\n"])
    def test_broken_quoted_printable_is_kept_as_is(self, data: bytes) -> None:
        decoded, damaged = decode_transfer(data, "quoted-printable")
        assert not damaged
        assert decoded == quopri.decodestring(data)

    @pytest.mark.parametrize("encoding", [None, "", "7bit", "8BIT", "binary", "x-uuencode", "bogus"])
    def test_identity_and_unknown_encodings_pass_through(self, encoding: str | None) -> None:
        assert decode_transfer(b"raw \x00\xff bytes", encoding) == (b"raw \x00\xff bytes", False)

    def test_encoding_names_are_case_and_space_insensitive(self) -> None:
        assert decode_transfer(b"SGk=", " Base64 ") == (b"Hi", False)
        assert decode_transfer(b"=41", "Quoted-Printable\t") == (b"A", False)


class TestStreamDecoder:
    def test_base64_across_chunks(self) -> None:
        assert stream(b"SGVs\r\nbG8g\r\nd29y\r\nbGQ=", "base64", [1, 5, 6, 13]) == b"Hello world"

    def test_base64_ignores_what_follows_the_padding(self) -> None:
        decoder = StreamDecoder("base64")
        assert decoder.feed(b"SGk=") == b"Hi"
        assert decoder.feed(b"SGVsbG8=") == b""
        assert decoder.finish() == b""

    def test_base64_without_padding_is_finished(self) -> None:
        decoder = StreamDecoder("base64")
        assert decoder.feed(b"SGVsbG") == b"Hel"
        assert decoder.finish() == b"l"

    def test_quoted_printable_soft_break_across_chunks(self) -> None:
        assert (
            stream(b"caf=C3=A9 =\r\nau lait\r\n=E2=82=AC", "quoted-printable", [6, 11, 12])
            == "café au lait\r\n€".encode()
        )

    def test_identity_passes_chunks_through(self) -> None:
        decoder = StreamDecoder("8bit")
        assert decoder.feed(b"ab") == b"ab"
        assert decoder.finish() == b""

    def test_empty_stream(self) -> None:
        for encoding in ("base64", "quoted-printable", None):
            assert StreamDecoder(encoding).finish() == b""


@given(st.binary(max_size=2000), st.lists(st.integers(0, 2800), max_size=8), st.sampled_from([76, 64, 1000]))
def test_streamed_base64_equals_the_original(data: bytes, cuts: list[int], width: int) -> None:
    encoded = base64.b64encode(data)
    wrapped = b"\r\n".join(encoded[i : i + width] for i in range(0, len(encoded), width))
    assert stream(wrapped, "base64", cuts) == data
    assert decode_transfer(wrapped, "base64") == (data, False)


@given(st.binary(max_size=2000), st.lists(st.integers(0, 7000), max_size=8))
def test_streamed_quoted_printable_equals_the_original(data: bytes, cuts: list[int]) -> None:
    encoded = quopri.encodestring(data)
    assert stream(encoded, "quoted-printable", cuts) == quopri.decodestring(encoded)
    # quopri's encoder treats a CR before LF as part of the line end, so only then is it lossy.
    if b"\r\n" not in data:
        assert decode_transfer(encoded, "quoted-printable") == (data, False)


@given(
    st.binary(max_size=300),
    st.lists(st.integers(0, 300), max_size=5),
    st.sampled_from(["base64", "quoted-printable"]),
)
def test_any_bytes_decode_without_raising(data: bytes, cuts: list[int], encoding: str) -> None:
    stream(data, encoding, cuts)
    decoded, damaged = decode_transfer(data, encoding)
    assert isinstance(decoded, bytes)
    assert isinstance(damaged, bool)
