"""The embedded local cloud: moto behind the local API gateway, with the local event-source pollers.

Everything is derived from ``infra.resources.SPEC``, the same definition the CDK stack deploys.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from infra.resources import BASE_PATH, SPEC, ServiceSpec
from local_cloud.aws import LocalAws
from local_cloud.gateway import CognitoVerifier, LocalGateway
from local_cloud.provision import Provisioned, provision

logger = logging.getLogger("local_cloud")

# What the stack sets on every function in stage "dev", plus local-only switches.
_FUNCTION_ENV = {
    "STAGE": "local",
    "AUTO_CONFIRM_SIGNUP": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Chirp",
    "POWERTOOLS_SERVICE_NAME": "chirp",
}


class LocalCloud:
    """Start with ``with LocalCloud() as cloud:``; ``cloud.base_url`` is the API root."""

    def __init__(
        self,
        spec: ServiceSpec = SPEC,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        endpoint_url: str | None = None,
        data_dir: str | Path | None = None,
        start_pollers: bool = True,
    ) -> None:
        self.spec = spec
        self.host = host
        self.port = port
        self.data_dir = Path(data_dir) if data_dir else None
        self.start_pollers = start_pollers
        self.aws = LocalAws(endpoint_url)
        self.provisioned: Provisioned | None = None
        self.gateway: LocalGateway | None = None
        self.pollers: Any = None
        self._persistence: Any = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalCloud is not started")
        return f"http://{self.host}:{self._server.server_port}{BASE_PATH}"

    def start(self) -> LocalCloud:
        # Locally there is no CloudWatch to publish to; routes without a business metric are normal.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self.aws.start()
        self.aws.apply_env()
        if self.data_dir is not None:
            from local_cloud.persistence import Persistence

            self._persistence = Persistence(self.aws, self.data_dir)
            self._persistence.load()
        self.provisioned = provision(self.spec, self.aws)
        environment = self.provisioned.environment()
        for name, value in _FUNCTION_ENV.items():
            os.environ.setdefault(name, value)  # a developer's own setting wins
        os.environ.update(environment)
        for secret in self.spec.secrets:
            os.environ.setdefault(secret.local_env_var, self._secret_value(secret.logical_id))
        verifier = CognitoVerifier(
            issuer=environment["COGNITO_ISSUER"],
            jwks_url=environment["COGNITO_JWKS_URL"],
            client_id=environment["USER_POOL_CLIENT_ID"],
        )
        self.gateway = LocalGateway(self.spec, verifier)
        self._server = make_server(self.host, self.port, self.gateway, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()
        if self.start_pollers and self.spec.mappings:
            from local_cloud.pollers import PollerGroup

            checkpoints = self._persistence.checkpoints if self._persistence is not None else None
            self.pollers = PollerGroup.for_spec(
                self.spec, self.aws, self.provisioned, checkpoints=checkpoints
            )
            self.pollers.start()
            if self._persistence is not None:
                # Stream positions are saved with each snapshot, so a restart does not replay streams.
                self._persistence.track(self.pollers)
        if self._persistence is not None:
            self._persistence.start_autosave()
        return self

    def _secret_value(self, logical_id: str) -> str:
        """A random value per run (a generated secret on AWS); kept in the data dir when there is one."""
        if self.data_dir is None:
            return secrets.token_urlsafe(32)
        path = self.data_dir / f"{logical_id}.secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queue is empty and every stream is consumed (end-to-end tests use this)."""
        return True if self.pollers is None else bool(self.pollers.wait_idle(timeout))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.pollers is not None:
            self.pollers.stop()
        if self._persistence is not None:
            self._persistence.stop_autosave()
            self._persistence.save()
        self.aws.stop()

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
