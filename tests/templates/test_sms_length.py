"""SMS length maths: CN domestic 70/67/500 (signature included), GSM-7 160/153 with extension characters counting
2, UCS-2 70/67 with astral characters counting 2; the vectorised form agrees with the scalar one."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.domain.sms import cn_parts, cn_parts_expr, is_gsm7, length_expr, measure, parts_expr

SIG = "【阳光消费金融】"  # 8 characters, counted like any other


@pytest.mark.parametrize(("n", "parts"), [
    (0, 1), (1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4), (500, 8), (536, 8), (537, 9),
])
def test_cn_domestic(n: int, parts: int) -> None:
    assert cn_parts(n) == parts
    assert measure("中" * n).parts == parts


def test_cn_counts_signature_latin_and_punctuation_as_one_each() -> None:
    body = "您好，尾号1234的借款1,234.50元明天到期。App"
    assert measure(SIG + body).units == len(SIG) + len(body)
    assert measure(SIG + "a" * 62).parts == 1  # 70 with the signature
    assert measure(SIG + "a" * 63).parts == 2  # 71


@pytest.mark.parametrize(("text", "encoding", "units", "parts"), [
    ("a" * 160, "gsm7", 160, 1),
    ("a" * 161, "gsm7", 161, 2),
    ("a" * 306, "gsm7", 306, 2),
    ("a" * 307, "gsm7", 307, 3),
    ("€" * 80, "gsm7", 160, 1),           # extension characters count 2
    ("€" * 81, "gsm7", 162, 2),
    ("a" * 159 + "^", "gsm7", 161, 2),    # one extension character tips it over
    ("{}[]~|\\^€", "gsm7", 18, 1),
    ("GSM has Ä Ö Ñ Ü é è ß ¿ ¡ £ ¥ §", "gsm7", 31, 1),
    ("Ünïcode", "ucs2", 7, 1),            # ï is not in the GSM-7 table
    ("é" * 160, "gsm7", 160, 1),
    ("ê", "ucs2", 1, 1),                  # not in the GSM-7 table
    ("中" * 70, "ucs2", 70, 1),
    ("中" * 71, "ucs2", 71, 2),
    ("a" * 150 + "中", "ucs2", 151, 3),   # one Chinese character switches the whole text to UCS-2
    ("😀" * 35, "ucs2", 70, 1),            # astral characters are surrogate pairs
    ("😀" * 36, "ucs2", 72, 2),
])
def test_international(text: str, encoding: str, units: int, parts: int) -> None:
    m = measure(text, "intl")
    assert (m.encoding, m.units, m.parts) == (encoding, units, parts)
    row = pl.DataFrame({"t": [text]}).select(length_expr("t", "intl").alias("m")).unnest("m").row(0)
    assert row == (encoding, units, parts)


def test_forced_encodings() -> None:
    assert measure("abc", "ucs2").encoding == "ucs2"
    with pytest.raises(ValueError):
        measure("中", "gsm7")
    with pytest.raises(ValueError):
        measure("a", "telex")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab €^{中😀\n1，"), max_size=400), min_size=1, max_size=20))
def test_vectorised_agrees_with_scalar(texts: list[str]) -> None:
    frame = pl.DataFrame({"t": texts})
    cn = frame.select(cn_parts_expr("t")).to_series().to_list()
    assert cn == [measure(t).parts for t in texts]
    intl = frame.select(length_expr("t", "intl").alias("m")).unnest("m").rows()
    assert intl == [(m.encoding, m.units, m.parts) for m in (measure(t, "intl") for t in texts)]
    assert frame.select(parts_expr("t", "intl")).to_series().to_list() == [r[2] for r in intl]
    assert all(is_gsm7(t) == (r[0] == "gsm7") for t, r in zip(texts, intl, strict=True))
