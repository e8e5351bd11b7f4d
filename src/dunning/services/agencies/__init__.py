"""Outsourced agencies (委外), issue 22: registry, tenders and bids, evaluation, award, allocation (分案) with the
entrustment notice gate, recall, performance scorecards that set the next period's shares, commission statements.

Modules: :mod:`registry` (agencies, documents, status, blacklist, users), :mod:`tenders` (tenders, lots, bids,
conflicts, scores, award), :mod:`evaluation` (the score sheet), :mod:`allocation` (periods, recall, notice),
:mod:`gate` (who an agency may contact), :mod:`performance` (scorecard, shares, commission, yearly evaluation),
:mod:`reports` (tender report HTML and XLSX). The maths lives below, in :mod:`dunning.strategy.allocation` and
:mod:`dunning.strategy.tender_scoring`.
"""
