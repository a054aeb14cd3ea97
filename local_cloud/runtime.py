"""The embedded local cloud: moto behind the local API gateway, with the local event-source pollers.

Everything is derived from ``infra.resources.SPEC``, the same definition the CDK stack deploys.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from functions.core import cors
from infra.grants import DeployedNames, function_environment, function_grants
from infra.resources import BASE_PATH, SPEC, TUNABLES, Function, ServiceSpec
from local_cloud.aws import LocalAws
from local_cloud.chaos import ChaosSettings, report
from local_cloud.gateway import CognitoVerifier, LocalGateway, auth_rate_limit_from
from local_cloud.iam import statements
from local_cloud.lambda_runtime import FunctionProcess, runtime_environment
from local_cloud.provision import Provisioned, provision
from local_cloud.search import LocalSearch
from local_cloud.uploads import CDN_PREFIX, UPLOAD_PREFIX, StorageFront, media_servable

logger = logging.getLogger("local_cloud")

STAGE = "local"


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
        chaos: ChaosSettings | str | None = None,
    ) -> None:
        """``chaos``: AWS-like faults, redeliveries, index lag and delays (``local_cloud.chaos``), as
        settings or ``LOCAL_CHAOS`` text; None reads ``LOCAL_CHAOS`` from the environment (unset: none).
        Raises ValueError for settings it cannot read."""
        self.spec = spec
        self.host = host
        self.port = port
        self.data_dir = Path(data_dir) if data_dir else None
        self.start_pollers = start_pollers
        self.chaos = ChaosSettings.coerce(chaos)
        if self.chaos.index_lag_ms and endpoint_url is not None:
            logger.warning("index_lag_ms needs the embedded moto; %s keeps its own consistency", endpoint_url)
        self.aws = LocalAws(endpoint_url, index_lag_ms=self.chaos.index_lag_ms)
        self.provisioned: Provisioned | None = None
        self.gateway: LocalGateway | None = None
        self.pollers: Any = None
        self._persistence: Any = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.functions: dict[str, FunctionProcess] = {}
        """Each function's execution environment, by function name."""
        self._settings = {name: os.environ[name] for name in TUNABLES if name in os.environ}
        self.cors_origins = os.environ.get(cors.ENV_VAR, "*")
        """Origins whose browsers may call the API (``CORS_ALLOWED_ORIGINS``; any, unless set)."""
        # Locally the indexes lag only under LOCAL_CHAOS (index_lag_ms, far below a second): a follow's
        # catch-up need not wait the 30 s it waits on AWS.
        self._settings.setdefault("CATCH_UP_DELAY_SECONDS", "1")
        self._secrets: dict[str, str] = {}
        self._credentials: dict[str, str] = {}
        """Each function's secret access key (its key id is ``local-<name>``), made per run."""
        self._statements: dict[str, list[Any]] = {}
        self._signed_with: dict[str, set[str]] = {}
        self.search = LocalSearch(spec, self.data_dir)
        """The search domains' embedded engines (``local_cloud/search.py``)."""
        self._saved_environ: dict[str, str] | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalCloud is not started")
        return f"http://{self.host}:{self._server.server_port}{BASE_PATH}"

    def start(self) -> LocalCloud:
        # Locally there is no CloudWatch to publish to; routes without a business metric are normal.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self.aws.start()
        self._saved_environ = dict(os.environ)
        self.aws.apply_env()
        if self.data_dir is not None:
            from local_cloud.persistence import Persistence

            self._persistence = Persistence(self.aws, self.data_dir)
            self._persistence.load()
        self.provisioned = provision(self.spec, self.aws)
        self.search.start()
        environment = self.provisioned.environment()
        # The local cloud's own process (and tests acting as operators) may read every name; the
        # functions see only their own environment (``_start_functions``).
        os.environ.update(environment)
        self._secrets = {s.logical_id: self._secret_value(s.logical_id) for s in self.spec.secrets}
        # The server first: its port is in the functions' environment (upload endpoint, media URLs).
        self._server = make_server(
            self.host, self.port, self._serve, threaded=True, request_handler=LocalGateway.request_handler
        )
        os.environ.update(self._storage_environment())  # for tests that run a function in-process
        self._start_functions()
        verifier = CognitoVerifier(
            issuer=environment["COGNITO_ISSUER"],
            jwks_url=environment["COGNITO_JWKS_URL"],
            client_id=environment["USER_POOL_CLIENT_ID"],
        )
        self.gateway = LocalGateway(
            self.spec,
            verifier,
            handlers=self.functions,
            auth_rate_limit=auth_rate_limit_from(os.environ),
            storage=self._storage_front(),
            cors_origins=cors.parse_origins(self.cors_origins),
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-gateway", daemon=True)
        self._thread.start()
        if self.start_pollers and self.spec.mappings:
            from local_cloud.pollers import PollerGroup

            checkpoints = self._persistence.checkpoints if self._persistence is not None else None
            self.pollers = PollerGroup.for_spec(
                self.spec,
                self.aws,
                self.provisioned,
                checkpoints=checkpoints,
                handlers=self.functions,
                chaos=self.chaos,
            )
            self.pollers.start()
            if self._persistence is not None:
                # Stream positions are saved with each snapshot, so a restart does not replay streams.
                self._persistence.track(self.pollers)
        if self._persistence is not None:
            self._persistence.start_autosave()
        return self

    def _serve(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.gateway is not None, "requests are served once the gateway exists"
        return self.gateway(environ, start_response)

    @property
    def root_url(self) -> str:
        """``http://host:port``: the gateway, the upload endpoint (``/s3``) and the media CDN (``/cdn``)."""
        if self._server is None:
            raise RuntimeError("LocalCloud is not started")
        return f"http://{self.host}:{self._server.server_port}"

    def _storage_environment(self) -> dict[str, str]:
        """Each bucket's local media URL base and upload endpoint, by their variables."""
        env: dict[str, str] = {}
        for bucket in self.spec.buckets:
            if bucket.public_url_env_var:
                env[bucket.public_url_env_var] = f"{self.root_url}{CDN_PREFIX}/{bucket.logical_id}"
            if bucket.upload_url_env_var:
                env[bucket.upload_url_env_var] = f"{self.root_url}{UPLOAD_PREFIX}"
        return env

    def _storage_front(self) -> StorageFront | None:
        if not self.spec.buckets:
            return None
        tables = {t.logical_id for t in self.spec.tables}
        dynamodb = self.aws.client("dynamodb")
        servable = media_servable(dynamodb, "media-items") if "media-items" in tables else (lambda b, k: True)
        return StorageFront(
            self.spec,
            self.aws.client("s3"),
            secrets=self._signer_secret,
            servable=servable,
            authorise=self._signer_may_put,
        )

    # -- functions ---------------------------------------------------------------------------------
    def function_environment(self, function: Function) -> dict[str, str]:
        """Exactly what the function runs with: the definition's environment for it (the same function
        the CDK stack calls), the Lambda runtime's variables and the local endpoint."""
        assert self.provisioned is not None
        p = self.provisioned
        names = DeployedNames(
            tables=p.table_names,
            queues=p.queue_urls,
            buckets=p.bucket_names,
            bucket_urls={b: f"{self.root_url}{CDN_PREFIX}/{b}" for b in p.bucket_names},
            upload_urls={b: f"{self.root_url}{UPLOAD_PREFIX}" for b in p.bucket_names},
            secrets=self._secrets,
            user_pool_id=p.user_pool_id,
            user_pool_client_id=p.user_pool_client_id,
            inline_secrets=True,
            search_endpoints=self.search.endpoints,
        )
        env = function_environment(
            self.spec,
            function,
            names,
            stage=STAGE,
            auto_confirm_signup=True,
            settings=self._settings,
            cors_origins=self.cors_origins,
        )
        runtime = runtime_environment(function.name, function.memory_mb, self.aws.environment())
        return runtime | env | self._credentials_of(function.name)

    def _credentials_of(self, name: str) -> dict[str, str]:
        """The function's own access key (moto accepts any; a presigned POST's signer is known by it),
        with a secret made for this run."""
        if name not in self._credentials:
            self._credentials[name] = secrets.token_urlsafe(24)
        return {"AWS_ACCESS_KEY_ID": f"local-{name}", "AWS_SECRET_ACCESS_KEY": self._credentials[name]}

    def _signer_secret(self, access_key: str) -> str | None:
        """The secret of a function's access key, or the operator's (the local cloud's own clients)."""
        operator = self.aws.environment()
        if access_key == operator["AWS_ACCESS_KEY_ID"]:
            return operator["AWS_SECRET_ACCESS_KEY"]
        name = access_key.removeprefix("local-")
        return self._credentials.get(name) if access_key.startswith("local-") else None

    def _signer_may_put(self, access_key: str, bucket: str, key: str) -> bool:
        """Whether the signer of an upload form may s3:PutObject the key, as S3 authorises the POST;
        the grant that allows it counts as used (``grant_usage``)."""
        if access_key == self.aws.environment()["AWS_ACCESS_KEY_ID"]:
            return True  # the operator (tests acting as the account owner)
        name = access_key.removeprefix("local-")
        process = self.functions.get(name)
        if process is None:
            return False
        resource = f"arn:aws:s3:::{bucket}/{key}"
        for statement in self._statements.get(name, []):
            if statement.allows("s3:PutObject", resource):
                self._signed_with.setdefault(name, set()).add(statement.grant)
                return True
        return False

    def _start_functions(self) -> None:
        """One process per function, started now so cold starts overlap the rest of the start-up."""
        assert self.provisioned is not None
        for function in self.spec.functions:
            grants = function_grants(self.spec, function)
            found = statements(grants, user_pool_id=self.provisioned.user_pool_id, region=self.aws.region)
            self._statements[function.name] = found
            process = FunctionProcess(
                function.name,
                function.handler,
                self.function_environment(function),
                [dataclasses.asdict(statement) for statement in found],
                region=self.aws.region,
                settings_model=function.settings_model,
                chaos=self._function_chaos(),
            )
            self.functions[function.name] = process.start()

    def _function_chaos(self) -> str | None:
        return self.chaos.text() if self.chaos.active else None

    def configure(self, **settings: int | str | None) -> None:
        """Change tunables (``TUNABLES``; None restores the default) as a deployment would, and recycle
        the execution environments of the functions that read them (their next invocation starts
        fresh, as after UpdateFunctionConfiguration)."""
        for name, value in settings.items():
            if name not in TUNABLES:
                raise KeyError(f"{name} is not a tunable: {TUNABLES}")
            if value is None:
                self._settings.pop(name, None)
            else:
                self._settings[name] = str(value)
        for function in self.spec.functions:
            if set(settings) & set(function.settings):
                self.functions[function.name].restart(self.function_environment(function))

    # -- chaos -------------------------------------------------------------------------------------
    def set_chaos(self, chaos: ChaosSettings | str) -> None:
        """Inject ``chaos`` from now on (``ChaosSettings()`` or "" for none): the functions' execution
        environments are recycled (their next invocation starts with the new fault injector), the
        pollers and the index lag change at once. Counts so far are kept."""
        settings = ChaosSettings.coerce(chaos)
        self.chaos = settings
        # Side by side: recycling waits for each process to exit.
        with ThreadPoolExecutor(max_workers=max(1, len(self.functions))) as pool:
            list(pool.map(lambda p: p.set_chaos(self._function_chaos()), self.functions.values()))
        if self.pollers is not None:
            self.pollers.set_chaos(settings)
        if self.aws.embedded:
            self.aws.index_lag(settings.index_lag_ms)

    def chaos_report(self) -> dict[str, int]:
        """What chaos injected since the start, summed over the functions, the pollers and moto:
        ``local_cloud.chaos.REPORT_KEYS`` (faults by kind, redeliveries, delayed deliveries, items
        hidden by the index lag, the functions' SDK retries and the calls that gave up)."""
        parts: list[dict[str, int]] = [process.chaos_counts() for process in self.functions.values()]
        if self.pollers is not None:
            parts.append(self.pollers.chaos_counts.snapshot())
        if self.aws.embedded and self._server is not None:
            parts.append({"index_lag_hidden": int(self.aws.index_lag()["hidden"])})
        return report(parts)

    def grant_usage(self) -> dict[str, dict[str, Any]]:
        """Per function: the grants that allowed at least one call and the calls the guard refused."""
        usage = {name: process.usage() for name, process in self.functions.items()}
        for name, grants in self._signed_with.items():  # upload forms S3 authorised by the signer's grant
            usage[name]["used"] = sorted(set(usage[name]["used"]) | grants)
        return usage

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
        """Block until every queue is empty and every stream is consumed (end-to-end tests use this):
        with chaos, also every held-back or duplicate delivery made, and every write visible to the
        lagged indexes. False if that takes longer than ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        if self.pollers is not None and not self.pollers.wait_idle(timeout):
            return False
        if self.aws.embedded and self.chaos.index_lag_ms:
            # Index propagation feeds no stream or queue: once the pollers are idle nothing new is
            # written, and waiting out the lag of the last write is enough.
            remaining = float(self.aws.index_lag()["remaining_ms"]) / 1000
            if remaining > deadline - time.monotonic():
                return False
            time.sleep(remaining)
        return True

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.pollers is not None:
            self.pollers.stop()
        for process in self.functions.values():
            process.stop()
        if self._persistence is not None:
            self._persistence.close()  # final snapshot, then the data dir's lock goes
        self.aws.stop()
        self.search.stop()
        if self._saved_environ is not None:
            # Put back the environment start() changed, so a second cloud started and stopped in the
            # same process (tests) does not leave its stopped endpoint behind for the first.
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
