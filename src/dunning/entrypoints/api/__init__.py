"""The REST API under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``), its docs page and the providers'
webhooks. It shares the app shell, security, ids, jobs and uploads with the console through
:mod:`dunning.entrypoints.http`; :func:`dunning.entrypoints.app.create_app` puts the two together.
"""
