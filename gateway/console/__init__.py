"""The operator console: web pages served by the gateway at ``/console``.

Server-rendered (Jinja2 templates) and driven by htmx, which is served from ``static/`` (pinned,
see ``static/README.md``): nothing comes from a CDN. The page signs in with an API token kept in
the tab's ``sessionStorage`` and sent as ``Authorization: Bearer`` on every request, never in a
URL; views need the ``read`` scope, actions ``admin``. Views are HTML fragments polled by the
page, so trades and streams move without a reload. Routes (``routes.py``) parse, call one
service (``gateway.trades``, ``shared.streams.ops``, ``shared.killswitch``), and render.
"""
