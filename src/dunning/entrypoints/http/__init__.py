"""What the REST API and the web console share: the app shell (:mod:`.app`), who may call (:mod:`.security`),
path ids, background jobs, uploads, access-log scrubbing, the renderer and the language choice (:mod:`.i18n`).

``api`` and ``web`` both build on this package and never import each other; only
:mod:`dunning.entrypoints.app` composes them into one app.
"""
