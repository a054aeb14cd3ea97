"""A handler for the function-process tests: reports its environment, fails or dies on request."""

from __future__ import annotations

import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> Any:
    if event.get("raise"):
        raise ValueError("asked to fail")
    if event.get("exit"):
        os._exit(3)
    if event.get("call"):
        import boto3

        boto3.client("dynamodb").get_item(TableName=event["call"], Key={"pk": {"S": "x"}})
    return {"environment": dict(os.environ), "pid": os.getpid(), "function": context.function_name}
