"""The demo application: `python -m authmanager.demo` (needs the `demo` extra for uvicorn).

`create_app(db_url)` builds the same application for tests and experiments.
"""

from authmanager.demo.app import DEMO_EMAIL, DemoUser, create_app, demo_settings

__all__ = ["DEMO_EMAIL", "DemoUser", "create_app", "demo_settings"]
