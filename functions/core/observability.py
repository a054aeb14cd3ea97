"""Logger, tracer and metrics shared by every function (one neutral module, as in the Powertools demos).

Powertools reads POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE / POWERTOOLS_TRACE_DISABLED
from the environment, so constructing the logger and metrics here is cheap and configuration stays
outside the code.

The tracer is built on the first invocation, not at import: Powertools' ``Tracer()`` imports the X-Ray
SDK (``aws_xray_sdk.core``, which loads botocore) and patches the AWS SDK and HTTP libraries when it is
constructed, whether tracing is on or off, which was the largest single cost of importing a handler
module. ``tracer.capture_lambda_handler`` at import time returns a decorator that builds the tracer and
applies Powertools' own decorator on the first call, before the handler body runs, so every SDK call
of every invocation is still traced.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

F = TypeVar("F", bound=Callable[..., Any])


class LazyTracer:
    """Powertools' ``Tracer``, constructed on first use; any attribute but the handler decorator is
    the tracer's own (``tracer.put_annotation(...)`` builds it if needed)."""

    def __init__(self) -> None:
        self._tracer: Tracer | None = None

    @property
    def built(self) -> bool:
        """Whether the tracer (and with it the X-Ray SDK) has been loaded in this environment."""
        return self._tracer is not None

    def get(self) -> Tracer:
        """The tracer of this execution environment, built (and the SDKs patched) on the first call."""
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer()
        return self._tracer

    def capture_lambda_handler(
        self, capture_response: bool | None = None, capture_error: bool | None = None
    ) -> Callable[[F], F]:
        """``Tracer.capture_lambda_handler`` applied on the handler's first invocation."""

        def decorate(handler: F) -> F:
            traced: Callable[..., Any] | None = None

            @functools.wraps(handler)
            def run(event: Any, context: Any) -> Any:
                nonlocal traced
                if traced is None:
                    traced = self.get().capture_lambda_handler(
                        handler, capture_response=capture_response, capture_error=capture_error
                    )
                return traced(event, context)

            return run  # type: ignore[return-value]

        return decorate

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


logger = Logger()
tracer = LazyTracer()
metrics = Metrics()
