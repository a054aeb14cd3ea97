"""Generated secrets of the SPEC (today: the key that signs page cursors)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs.nag import acknowledge, tag_spec_id
from infra.resources import Secret


class Secrets(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        secrets: tuple[Secret, ...],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        for spec in secrets:
            secret = secretsmanager.Secret(
                self,
                spec.logical_id,
                description=f"Chirp {spec.logical_id}",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    password_length=64, exclude_punctuation=True
                ),
                removal_policy=removal_policy,
            )
            tag_spec_id(secret, spec.logical_id)
            acknowledge(
                secret,
                "AwsSolutions-SMG4",
                "An HMAC key for page cursors: rotating it only invalidates cursors in flight, so it is "
                "rotated by hand (put a new value) rather than by a rotation Lambda.",
            )
            self.secrets[spec.logical_id] = secret
