"""Every string a page shows in Chinese has its English rendering (the switch never leaves Chinese behind)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from dunning.domain.cases import CASE_STATE_ZH, CASE_TYPE_ZH
from dunning.domain.states import CAMPAIGN_STATE_ZH
from dunning.entrypoints.http import render
from dunning.entrypoints.http.i18n import EN
from dunning.entrypoints.web import case_pages
from dunning.entrypoints.web.campaign_pages import NEXT_STEP
from dunning.services.identity.users import ROLE_ZH
from dunning.services.queries import labels as code_labels
from dunning.services.queries.campaigns import Funnel
from dunning.services.queries.labels import MESSAGE_STATE_ZH
from dunning.services.queries.users import STATUS_ZH

WEB = Path(str(resources.files("dunning.entrypoints.web")))
LITERAL = re.compile(r"""_\(\s*(["'])(.+?)\1""")


def page_strings() -> set[str]:
    found: set[str] = set()
    for f in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        found |= {m.group(2) for m in LITERAL.finditer(f.read_text(encoding="utf-8"))}
    return found


def label_strings() -> set[str]:
    labels = {label for _p, label, _r in render.NAV}
    for table in (CAMPAIGN_STATE_ZH, ROLE_ZH, MESSAGE_STATE_ZH, NEXT_STEP, render.HEALTH_ZH, render.JOB_STATE_ZH,
                  render.CHECK_ZH, render.TEMPLATE_STATUS_ZH, render.SEVERITY_ZH, code_labels.REJECT_ZH,
                  code_labels.REPLY_ZH, code_labels.IMPORT_KIND_ZH, STATUS_ZH):
        labels |= set(table.values())
    labels |= {zh for _k, zh, _v in Funnel(0, 0, 0, None).stages()}
    for table in (CASE_TYPE_ZH, CASE_STATE_ZH, case_pages.SLA_ZH, case_pages.OUTCOME_ZH, case_pages.FIELD_ZH):
        labels |= set(table.values())
    return labels


def test_every_page_string_and_label_has_an_english_rendering() -> None:
    strings = page_strings()
    assert len(strings) > 150, "the scan found the templates"
    missing = sorted((strings | label_strings()) - set(EN))
    assert not missing, f"no English for: {missing}"


def test_suppression_reasons_have_english() -> None:
    from dunning.services.campaigns.planning import SUPPRESSION_ZH

    missing = sorted(set(SUPPRESSION_ZH.values()) - set(EN))
    assert not missing, f"no English for: {missing}"
