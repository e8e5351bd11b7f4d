"""The ``dunning`` command line (Typer + Rich); :mod:`.app` is the root command.

Service imports sit inside the command functions on purpose: every ``dunning …`` run (and ``--help``, shell
completion) imports all command modules, and loading the services they call (OR-Tools, the report's
Plotly, the dispatch engine, FastAPI for ``serve``, Celery for ``worker``) costs seconds that only the
command that runs should pay. Everything else (errors, settings, other CLI modules) is imported at the top.
"""
