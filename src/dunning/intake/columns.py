"""Recognising columns: built-in Chinese and English aliases, a user's mapping file, and the header row."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dunning.errors import InputError, MissingColumnsError

REQUIRED: tuple[str, ...] = ("loan_id", "phone", "amount_due", "due_date")
OPTIONAL: tuple[str, ...] = ("name", "penalty_rate", "overdue_count", "product", "payday", "region", "agency",
                              "address", "latitude", "longitude")
CANONICAL: tuple[str, ...] = REQUIRED + OPTIONAL

ALIASES: dict[str, tuple[str, ...]] = {
    "loan_id": ("loan_id", "loan_no", "loan_number", "contract_no", "contract_id", "account_no", "借款编号",
                "合同号", "合同编号", "借据号", "借据编号", "贷款编号", "借款号", "贷款账号"),
    "name": ("name", "borrower", "borrower_name", "customer_name", "customer", "full_name", "姓名", "客户姓名",
             "借款人", "借款人姓名", "客户名称"),
    "phone": ("phone", "mobile", "msisdn", "phone_number", "mobile_phone", "cellphone", "tel", "手机号", "手机号码",
              "联系电话", "电话", "手机", "电话号码", "联系方式"),
    "amount_due": ("amount_due", "amount", "due_amount", "balance", "outstanding", "amount_owed", "应还金额",
                   "剩余欠款", "欠款金额", "逾期金额", "应还总额", "待还金额"),
    "due_date": ("due_date", "due", "payment_due_date", "应还日期", "到期日", "还款日", "最后还款日", "到期日期"),
    "penalty_rate": ("penalty_rate", "daily_penalty_rate", "penalty", "日罚息率", "罚息利率", "罚息率", "罚息日利率"),
    "overdue_count": ("overdue_count", "past_overdue_count", "times_overdue", "逾期次数", "历史逾期次数"),
    "product": ("product", "product_name", "产品", "产品名称"),
    "payday": ("payday", "pay_day", "salary_day", "发薪日"),
    "region": ("region", "province", "area", "地区", "省份", "所在地区"),
    # The outsourced agency an account is assigned to (委外分案): agency users of the console see only theirs.
    "agency": ("agency", "collection_agency", "assigned_agency", "委外机构", "催收机构", "外包机构", "分案机构",
               "委外公司"),
    # Where a field visit (外访) would go: the first address column found, and its coordinates when given.
    "address": ("address", "home_address", "current_address", "work_address", "地址", "现居地址", "居住地址",
                "家庭地址", "现住址", "户籍地址", "单位地址", "工作单位地址", "联系地址", "通讯地址"),
    "latitude": ("latitude", "lat", "纬度"),
    "longitude": ("longitude", "lon", "lng", "经度"),
}

LABELS_ZH: dict[str, str] = {
    "loan_id": "借款编号", "name": "姓名", "phone": "手机号", "amount_due": "应还金额", "due_date": "到期日",
    "penalty_rate": "日罚息率", "overdue_count": "逾期次数", "product": "产品", "payday": "发薪日", "region": "地区",
    "agency": "委外机构", "address": "地址", "latitude": "纬度", "longitude": "经度",
}

_BRACKETED = re.compile(r"[(\[【（].*?[)\]】）]")
_NOISE = re.compile(r"[\s_\-*:：#/.]")


def normalise_header(header: str) -> str:
    """The comparable form of a header: NFKC, lower case, no blanks, punctuation or bracketed units.

    ``"Loan ID"``, ``"loan_id"`` and ``"LOAN-ID"`` compare equal; so do ``"应还金额（元）"`` and ``"应还金额*"``.
    """
    h = unicodedata.normalize("NFKC", header).lstrip("\ufeff").lower()
    return _NOISE.sub("", _BRACKETED.sub("", h))


@dataclass(frozen=True)
class MappingSpec:
    """What a mapping file says: canonical column → the headers that hold it (first found wins), and
    optionally which sheet and which row hold the header."""

    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sheet: str | None = None
    header_row: int | None = None  # 1-based, as a clerk counts rows

    def aliases(self, canonical: str) -> tuple[str, ...]:
        return self.columns.get(canonical, ()) + ALIASES[canonical]


def load_mapping(path: Path | None) -> MappingSpec:
    """Read a mapping YAML (see ``dunning/data/mapping.example.yaml``). Raises :class:`InputError` on a file
    that cannot be used, naming what is wrong."""
    if path is None:
        return MappingSpec()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"无法读取列映射文件 {path}：{exc}", f"cannot read mapping file {path}: {exc}",
                         code="input.mapping") from exc
    if data is None:
        return MappingSpec()
    if not isinstance(data, dict):
        raise _mapping_error(path, "文件内容应为键值对", "the file must hold a mapping")
    known = {"columns", "sheet", "header_row"}
    if not set(data) & known:  # a bare "canonical: header" mapping is accepted too
        data = {"columns": data}
    extra = sorted(set(data) - known)
    if extra:
        raise _mapping_error(path, f"未知的设置：{'、'.join(map(str, extra))}（可用：columns、sheet、header_row）",
                             f"unknown keys {extra} (known: columns, sheet, header_row)")
    raw_columns = data.get("columns") or {}
    if not isinstance(raw_columns, dict):
        raise _mapping_error(path, "columns 应为「标准列名: 文件中的列名」", "columns must map canonical: header")
    unknown = sorted(str(k) for k in raw_columns if k not in CANONICAL)
    if unknown:
        raise _mapping_error(path, f"未知的标准列：{'、'.join(unknown)}（可用：{'、'.join(CANONICAL)}）",
                             f"unknown canonical columns {unknown} (known: {', '.join(CANONICAL)})")
    columns: dict[str, tuple[str, ...]] = {}
    for canonical, headers in raw_columns.items():
        values = headers if isinstance(headers, list) else [headers]
        if not values or not all(isinstance(v, str | int) and str(v).strip() for v in values):
            raise _mapping_error(path, f"{canonical} 的列名应为文字或文字列表", f"{canonical}: header must be text")
        columns[str(canonical)] = tuple(str(v) for v in values)
    sheet = data.get("sheet")
    header_row = data.get("header_row")
    if header_row is not None and (not isinstance(header_row, int) or header_row < 1):
        raise _mapping_error(path, "header_row 应为从 1 开始的行号", "header_row must be a row number from 1")
    return MappingSpec(columns=columns, sheet=None if sheet is None else str(sheet), header_row=header_row)


def _mapping_error(path: Path, zh: str, en: str) -> InputError:
    return InputError(f"列映射文件 {path} 无法使用：{zh}", f"mapping file {path} cannot be used: {en}",
                      code="input.mapping")


def _alias_index(spec: MappingSpec) -> dict[str, str]:
    index: dict[str, str] = {}
    for canonical in CANONICAL:
        for alias in spec.aliases(canonical):
            index.setdefault(normalise_header(alias), canonical)
    return index


def header_score(cells: Iterable[object], spec: MappingSpec) -> int:
    """How many distinct canonical columns a candidate header row names."""
    index = _alias_index(spec)
    return len({index[h] for c in cells if c is not None and (h := normalise_header(str(c))) in index})


def find_header_row(rows: Sequence[Sequence[object]], spec: MappingSpec) -> int:
    """0-based index of the header among the first rows of a file: the row naming the most known columns.

    Exports often carry a title or a run date above the header; a file whose first row is the header
    (the common case) returns 0. A mapping's ``header_row`` overrides the search.
    """
    if spec.header_row is not None:
        return spec.header_row - 1
    best, best_score = 0, 0
    for i, row in enumerate(rows):
        score = header_score(row, spec)
        if score > best_score:
            best, best_score = i, score
    return best if best_score >= 2 else 0


def map_columns(headers: Sequence[str], file: str, spec: MappingSpec) -> dict[str, str]:
    """canonical column → the header in this file that holds it. Raises :class:`MissingColumnsError`
    naming the headers found and the required columns missing."""
    by_norm: dict[str, str] = {}
    for h in headers:
        by_norm.setdefault(normalise_header(h), h)
    found: dict[str, str] = {}
    for canonical in CANONICAL:
        for alias in spec.aliases(canonical):
            header = alias if alias in headers else by_norm.get(normalise_header(alias))
            if header is not None and header not in found.values():
                found[canonical] = header
                break
    missing = [f"{LABELS_ZH[c]} {c}" for c in REQUIRED if c not in found]
    if missing:
        raise MissingColumnsError(found=list(headers), missing=missing, file=file)
    return found


def amount_scale(header: str) -> int:
    """Amounts in a column headed in 万元 (ten thousands of yuan) are scaled to yuan."""
    return 10_000 if "万" in unicodedata.normalize("NFKC", header) else 1


def describe_mapping(found: Mapping[str, str]) -> str:
    return ", ".join(f"{k}←{v}" for k, v in found.items())
