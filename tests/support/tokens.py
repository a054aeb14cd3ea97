"""Tokens that API Gateway's authorizer must refuse, for the failure-path tests."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from importlib import resources
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def _pool_private_key() -> Any:
    """The key moto's Cognito signs with (bundled in moto), so a token can be valid in every way but one."""
    raw = resources.files("moto.cognitoidp").joinpath("resources/jwks-private.json.gz").read_bytes()
    jwk = json.loads(gzip.decompress(raw))
    jwk = jwk["keys"][0] if "keys" in jwk else jwk
    return RSAAlgorithm.from_jwk(json.dumps(jwk))


def claims_like(access_token: str, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    claims.update(jti=str(uuid.uuid4()), **overrides)
    return claims


def signed_by_pool(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, _pool_private_key(), algorithm="RS256", headers={"kid": "dummy"})


def signed_by_stranger(claims: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


def expired(access_token: str) -> str:
    now = int(time.time())
    return signed_by_pool(claims_like(access_token, iat=now - 7200, exp=now - 3600))
