"""Borrower cases: every dispute, hardship request and complaint becomes work with an owner and a deadline.

Commands (:mod:`.commands`) open, assign, note, move and resolve cases in one transaction each, with an audit event
and a history note; :mod:`.intake` opens cases in bulk from replies and closes payment checks from imported
repayments; :mod:`.suppression` keeps reminders stopped (the phone's ``dispute`` flag, the one mechanism the
planner and the dispatcher already honour) while a stopping case is open; :mod:`.queries` are the read models of
the queue and the case page, scoped to the viewer.
"""
