"""The web console: server-rendered pages (Jinja2 + htmx), live figures over server-sent events."""
