"""SMPP text in the SMSC's default alphabet: GSM 03.38 (basic and extension), ASCII, Latin-1, else UCS-2.

What our codec produces is decoded twice — with smpplib's GSM 03.38 table and Python's UTF-16 codec (independent
of our code), and with our own decoder — and both are compared with the intended text and part count. The count
planning shows (``domain.sms``, scalar and vectorised) must equal the parts sent.
"""

from __future__ import annotations

import polars as pl
import pytest
import smpplib.gsm
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.channels.smpp import codec as P
from dunning.domain.sms import GSM_EXTENSION, GSM_TABLE, length_expr, measure

# smpplib's table lacks two characters of GSM 03.38: § (0x5F, where it puts `) and form feed (ESC 0x0A).
SMPPLIB_GAPS = {"§", "\f"}
BASIC = [ch for ch in GSM_TABLE if ch != "\x1b"]
EXTENSION = sorted(GSM_EXTENSION)


def smpplib_decode(payload: bytes) -> str:
    """Unpacked GSM septets to text with smpplib's table (an escape reads the extension half of it), its two gaps
    filled from the standard (0x5F §, ESC 0x0A form feed)."""
    table = list(smpplib.gsm.GSM_CHARACTER_TABLE)
    table[0x5F], table[0x80 + 0x0A] = "§", "\f"
    out, i = [], 0
    while i < len(payload):
        if payload[i] == 0x1B:
            out.append(table[0x80 + payload[i + 1]])
            i += 2
        else:
            out.append(table[payload[i]])
            i += 1
    return "".join(out)


def payloads(chunks: list[bytes], esm: int) -> list[bytes]:
    return [c[c[0] + 1:] for c in chunks] if esm & P.ESM_UDHI else chunks


def check(text: str, alphabet: str, want_dc: int, want_parts: int) -> list[bytes]:
    """Encode ``text``; decode it independently and with our decoder; compare text and part count."""
    dc, esm, chunks = P.segment_text(text, 42, alphabet)
    assert dc == want_dc and len(chunks) == want_parts
    counting = {"gsm7": "intl", "ascii": "intl_ascii", "latin1": "intl_latin1"}[alphabet]
    assert measure(text, counting).parts == want_parts
    shown = pl.DataFrame({"t": [text]}).select(length_expr("t", counting).struct.field("parts")).item()
    assert shown == want_parts, "the count planning shows is the count sent"
    if want_parts > 1:
        assert esm == P.ESM_UDHI
        assert [c[:6] for c in chunks] == [bytes((5, 0, 3, 42, want_parts, i + 1)) for i in range(want_parts)]
    body = payloads(chunks, esm)
    if dc == P.DC_UCS2:
        assert all(len(b) <= (140 if want_parts == 1 else 134) for b in body)
        independent = [b.decode("utf-16-be") for b in body]  # strict: a split surrogate pair would raise
    elif alphabet == "gsm7":
        assert all(len(b) <= (160 if want_parts == 1 else 153) for b in body)
        assert not any(b.endswith(b"\x1b") for b in body), "an escape sequence is split across parts"
        independent = [smpplib_decode(b) for b in body]
    else:
        independent = [b.decode("ascii" if alphabet == "ascii" else "latin-1") for b in body]
    assert "".join(independent) == text
    assert "".join(P.decode_text(c, dc, esm, alphabet) for c in chunks) == text
    return body


def test_every_gsm_basic_character_is_its_septet() -> None:
    text = "".join(BASIC)
    (body,) = check(text, "gsm7", P.DC_DEFAULT, 1)
    assert body == bytes(i for i in range(128) if i != 0x1B)
    comparable = "".join(ch for ch in BASIC if ch not in SMPPLIB_GAPS)
    assert P.gsm7_encode(comparable) == smpplib.gsm.gsm_encode(comparable)
    assert P.gsm7_encode("§") == b"\x5f"


@pytest.mark.parametrize("ch", EXTENSION)
def test_every_extension_character_is_escape_plus_code_and_counts_two(ch: str) -> None:
    codes = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40,
             "€": 0x65}  # GSM 03.38 section 6.2.1.1
    (body,) = check(f"a{ch}b", "gsm7", P.DC_DEFAULT, 1)
    assert body == b"a\x1b" + bytes((codes[ch],)) + b"b"
    if ch not in SMPPLIB_GAPS:
        assert body == smpplib.gsm.gsm_encode(f"a{ch}b")
    assert measure(ch * 80, "intl").parts == 1 and measure(ch * 81, "intl").parts == 2


def test_the_us_reminder_is_sent_in_gsm_not_ascii() -> None:
    text = "Balance $1,234.50 due_date @ once"
    (body,) = check(text, "gsm7", P.DC_DEFAULT, 1)
    assert body == smpplib.gsm.gsm_encode(text)
    assert body[8] == 0x02 and body[21] == 0x11 and body[27] == 0x00  # $ _ @ in GSM 03.38, not 0x24 0x5F 0x40


MIXED = "Pay $1,234.50 @ {site} ~ [ref] | 100€ \\ due_date ^ "  # basic and extension characters


@pytest.mark.parametrize(("text", "parts"), [
    (("A" * 150 + "{}[]~"), 1),                    # 150 + 5 × 2 = 160 units: one SMS
    (("A" * 151 + "{}[]~"), 2),                    # 161 units
    ((MIXED * 4)[:155] + "€", 2),                  # mixed text over 160
    (("x$@_" * 80)[:306], 2),                      # 306 units: exactly 2 × 153
    (("x$@_" * 80)[:307], 3),
    ("A" * 152 + "€" + "A" * 152, 3),              # 306 units, but € cannot straddle 153: 152 | 153 | 1
    ("A" * 151 + "€" + "A" * 153, 2),              # € fills part 1 exactly: 153 | 153
    (MIXED * 9, 4),
])
def test_gsm_boundaries(text: str, parts: int) -> None:
    check(text, "gsm7", P.DC_DEFAULT, parts)


@pytest.mark.parametrize(("text", "parts"), [
    ("您" * 70, 1),
    ("您" * 71, 2),
    ("您" * 134, 2),                               # 67 per part
    ("您" * 135, 3),
    ("您" * 66 + "😀" + "好" * 10, 2),              # the pair would straddle unit 67: it opens part 2
    ("您" * 66 + "😀" + "好" * 66, 3),              # 134 units, but 66 | 67 | 1 because the pair moved
    ("【阳光消费金融】" + "您好，" * 20 + "😀", 1),   # 68 characters + a pair = 70 units: still one SMS
    ("【阳光消费金融】" + "您好，" * 20 + "还😀", 2),  # 71 units (70 characters): two
    ("Balance $5 😀", 1),                          # one emoji makes the whole message UCS-2
])
def test_ucs2_boundaries_and_surrogate_pairs(text: str, parts: int) -> None:
    check(text, "gsm7", P.DC_UCS2, parts)


def test_the_smscs_default_alphabet_is_a_channel_choice() -> None:
    (ascii_body,) = check("Balance $1,234.50 due_date @ once", "ascii", P.DC_DEFAULT, 1)
    assert b"$1,234.50" in ascii_body and b"due_date @" in ascii_body
    check("Balance 100€", "ascii", P.DC_UCS2, 1)      # € is not ASCII: the whole text goes UCS-2
    (latin,) = check("Café: solde dû 12,50 $", "latin1", P.DC_DEFAULT, 1)
    assert latin == "Café: solde dû 12,50 $".encode("latin-1")
    check("Solde 12,50 €", "latin1", P.DC_UCS2, 1)    # € is not Latin-1
    check("x" * 161, "latin1", P.DC_DEFAULT, 2)


@pytest.mark.parametrize(("data", "dc", "alphabet", "want"), [
    (smpplib.gsm.gsm_encode("STOP $5 @ home_1 {ok}"), 0, "gsm7", "STOP $5 @ home_1 {ok}"),
    (b"STOP $5", 0, "ascii", "STOP $5"),
    ("Arrêt".encode("latin-1"), 0, "latin1", "Arrêt"),
    ("Arrêt".encode("latin-1"), 3, "gsm7", "Arrêt"),       # data_coding 3 is Latin-1 whatever the channel
    ("退订 😀".encode("utf-16-be"), 8, "gsm7", "退订 😀"),
    (b"AB\x80C", 0, "gsm7", "AB\\x80C"),                   # not a septet: kept, not dropped
    (b"AB\x1b", 0, "gsm7", "AB\\x1b"),                     # a trailing escape is kept too
    ("退订".encode("utf-16-be") + b"\x41", 8, "gsm7", "退订\\x41"),  # odd UCS-2 tail kept
    (b"\x1b\x20", 0, "gsm7", " "),                         # unknown extension code: its basic character (03.38)
])
def test_receipts_and_replies_decode_per_data_coding(data: bytes, dc: int, alphabet: str, want: str) -> None:
    assert P.decode_text(data, dc, 0, alphabet) == want


ALPHABET_MIX = "".join(BASIC) + "".join(EXTENSION) + "您好还款€😀🙏é`ô"


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ALPHABET_MIX, min_size=0, max_size=400),
       alphabet=st.sampled_from(["gsm7", "ascii", "latin1"]))
def test_any_text_round_trips_and_every_count_agrees(text: str, alphabet: str) -> None:
    dc, esm, chunks = P.segment_text(text, 9, alphabet)
    counting = {"gsm7": "intl", "ascii": "intl_ascii", "latin1": "intl_latin1"}[alphabet]
    shown = pl.DataFrame({"t": [text]}).select(length_expr("t", counting).struct.field("parts")).item()
    assert len(chunks) == measure(text, counting).parts == shown
    assert "".join(P.decode_text(c, dc, esm, alphabet) for c in chunks) == text
    limit = (140 if len(chunks) == 1 else 134) if dc == P.DC_UCS2 else (160 if len(chunks) == 1 else 153)
    assert all(len(b) <= limit for b in payloads(chunks, esm))
