"""Logger, tracer and metrics shared by every function (one neutral module, as in the Powertools demos).

Powertools reads POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE / POWERTOOLS_TRACE_DISABLED
from the environment, so constructing them here is cheap and configuration stays outside the code.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
