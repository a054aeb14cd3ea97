"""What differs between the stages ``dev`` (and any other name) and ``prod``, in one place.

docs/architecture.md ("Stages") explains each difference; the constructs read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy

PROD = "prod"


@dataclass(frozen=True)
class StageConfig:
    name: str
    prod: bool
    removal_policy: RemovalPolicy
    """RETAIN in prod: a stack deleted by mistake leaves its tables, pool, queues and bucket behind."""
    deletion_protection: bool
    """Tables and the user pool refuse DeleteTable / DeleteUserPool until it is switched off."""
    termination_protection: bool
    log_retention_days: int
    verify_email: bool
    """Cognito verifies sign-up e-mail addresses (in dev the users function confirms sign-ups)."""
    throttle_rate: int
    throttle_burst: int
    """Steady requests per second and burst for the whole stage (API Gateway's token bucket)."""
    auth_throttle_rate: int
    auth_throttle_burst: int
    """The same for each /auth/* method: tighter, as every call there is a Cognito call (and a target
    for credential stuffing; the WAF adds a per-address limit on top)."""
    managed_waf_rules: bool
    """AWS managed rule groups (IP reputation, known bad inputs) in the web ACL."""


def stage_config(stage: str) -> StageConfig:
    if stage == PROD:
        return StageConfig(
            name=stage,
            prod=True,
            removal_policy=RemovalPolicy.RETAIN,
            deletion_protection=True,
            termination_protection=True,
            log_retention_days=90,
            verify_email=True,
            # The account's default API Gateway quota is 10,000 rps per region: leave room for others.
            throttle_rate=1_000,
            throttle_burst=2_000,
            auth_throttle_rate=50,
            auth_throttle_burst=100,
            managed_waf_rules=True,
        )
    return StageConfig(
        name=stage,
        prod=False,
        removal_policy=RemovalPolicy.DESTROY,
        deletion_protection=False,
        termination_protection=False,
        log_retention_days=30,
        verify_email=False,
        throttle_rate=100,
        throttle_burst=200,
        auth_throttle_rate=10,
        auth_throttle_burst=20,
        managed_waf_rules=False,
    )
