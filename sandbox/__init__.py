"""A local stand-in for the GES management plane.

Public interface, the only part other packages import:

    settings = SandboxSettings(projects=(ProjectCredentials("p1", "t1"),))
    with start(settings) as running:
        running.base_url        # http://127.0.0.1:<port>
        running.projects
    app = create_app(settings)  # the bare ASGI application
    seed(running, "p1", graphs=100, backups_per_graph=1)  # finished resources

Everything else in this package is private to it.
"""

from __future__ import annotations

from sandbox.app import create_app
from sandbox.seeding import Seeded, seed
from sandbox.server import RunningSandbox, start
from sandbox.settings import MAX_PAGE_LIMIT, ProjectCredentials, SandboxSettings

__all__ = [
    "MAX_PAGE_LIMIT",
    "ProjectCredentials",
    "RunningSandbox",
    "SandboxSettings",
    "Seeded",
    "create_app",
    "seed",
    "start",
]
