"""Template compilation: every problem is an error at save time, named so the author can fix it."""

from __future__ import annotations

import pytest

from dunning.errors import InputError
from dunning.templates import TemplateError, compile_template

OK_VARS = {"name": "masked_name", "amount": "money"}


@pytest.mark.parametrize(("text", "variables", "says"), [
    ("${name}您好，应还${amount}", {"name": "masked_name", "amount": "currency"}, "类型 currency 未知"),
    ("${name}您好，应还${amount}，${salary}", {**OK_VARS, "salary": "money"}, "salary 没有对应的数据字段"),
    ("${name}您好，应还${amount}", {"name": "text", "amount": "money"}, "name 不能声明为 text"),
    ("${name}您好，应还${amount}", {"name": "masked_name", "amount": "text"}, "amount 不能声明为 text"),
    ("${name}您好，应还${amount}，到期${due_date}", OK_VARS, "未声明的变量：due_date"),
    ("${name}您好", OK_VARS, "声明了但未使用的变量：amount"),
    ("${name}您好，应还${amount}，${due_date", {**OK_VARS}, "不完整的占位符"),
    ("${name}您好，应还${amount}，$ {x}${", OK_VARS, "不完整的占位符"),
    ("   ", {}, "模板内容为空"),
])
def test_compile_errors(text: str, variables: dict[str, str], says: str) -> None:
    with pytest.raises(TemplateError) as exc:
        compile_template(text, variables)
    assert says in exc.value.message_zh
    assert exc.value.code == "template.invalid"
    assert isinstance(exc.value, InputError)
    assert exc.value.message_en.startswith("invalid template")


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(TemplateError) as exc:
        compile_template("${a}${b}", {"b": "money", "c": "text"})
    msg = exc.value.message_zh
    assert "未声明的变量：a" in msg and "b 没有对应的数据字段" in msg and "c" in msg


def test_compiled_pieces_and_columns() -> None:
    c = compile_template("${name}您好，应还${amount}元整${amount}", OK_VARS)
    assert c.pieces == (("", "name"), ("您好，应还", "amount"), ("元整", "amount"), ("", None))
    assert c.columns == ["amount_due_fen", "name"]
    assert c.placeholder_spans[0] == (0, 7)


def test_context_variables_and_iso_dates_compile() -> None:
    c = compile_template("${institution}提醒：${due_date}到期，客服${hotline}，${app}", {
        "institution": "text", "due_date": "date:iso", "hotline": "text", "app": "text"})
    assert c.columns == ["due_date"]
