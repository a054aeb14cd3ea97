"""The local cloud's search domains: one embedded SQLite FTS5 database per ``SearchDomain``.

No OpenSearch server can run here, so each domain of the definition is an SQLite database that the
functions granted the domain reach through the same environment variable that holds the domain's
endpoint on AWS (``sqlite://<path>`` instead of ``https://...``). It lives in the data dir when the
cloud has one (kept across restarts, like the tables) and in a temporary dir removed at stop otherwise.
The local IAM guard checks each request the embedded engine stands in for against the function's
``es:`` grants (``local_cloud/iam.py``), as the domain's access policy does on AWS.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from infra.resources import ServiceSpec


class LocalSearch:
    def __init__(self, spec: ServiceSpec, data_dir: Path | None) -> None:
        self.spec = spec
        self._temporary = data_dir is None
        self.directory = (
            (data_dir / "search") if data_dir is not None else Path(tempfile.mkdtemp(prefix="search-"))
        )
        self.endpoints: dict[str, str] = {}

    def database(self, logical_id: str) -> Path:
        """Where the database of the domain ``logical_id`` lives (its name is the domain's: the guard
        names the domain by it)."""
        return self.directory / f"{logical_id}.db"

    def start(self) -> dict[str, str]:
        """Create (or reuse) every domain's database; returns the engine URL per domain."""
        from functions.search.engines.sqlite import create

        for domain in self.spec.search_domains:
            self.endpoints[domain.logical_id] = create(self.database(domain.logical_id))
        return self.endpoints

    def stop(self) -> None:
        if self._temporary:
            shutil.rmtree(self.directory, ignore_errors=True)
