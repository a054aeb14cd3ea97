"""What the local cloud's Cognito needs beyond moto 5.2.5's: token revocation, per-process signing keys
and the app client's token lifetimes.

These are features of the local cloud, not speed-ups, so ``install`` runs whatever
``LOCAL_CLOUD_MOTO_SPEEDUPS`` says (the moto process calls it before it serves anything):

- **RevokeToken.** moto has no handler for it. Here it marks the refresh token revoked in its pool, as
  moto's own global sign-out does (the stored value becomes ``None``), so REFRESH_TOKEN_AUTH with it
  fails with ``NotAuthorizedException``, as on AWS. An unknown token is not an error (RFC 7009, which
  Cognito's endpoint follows); a client without token revocation gets ``UnsupportedOperationException``;
  an access or ID token gets ``UnsupportedTokenTypeException``.
- **A signing key per moto process.** moto signs every token with one RSA key bundled in its package
  (``kid`` "dummy"), so anyone holding moto could mint tokens the local gateway accepts. Here each moto
  process generates its own RSA 2048 key with a new ``kid``, signs every token with it and publishes
  only its public half at the pools' ``/.well-known/jwks.json``. The key is read when a token is
  signed, not kept per pool, so pools restored from a snapshot sign with the current process's key.
- **Token lifetimes.** moto gives every access and ID token one hour whatever the app client says; here
  they live as long as the client's ``AccessTokenValidity`` / ``IdTokenValidity`` (in its
  ``TokenValidityUnits``, hours by default as on AWS), so ``ExpiresIn`` and ``exp`` match the stack.

Containment, as in ``local_cloud/moto_speedups.py``: ``install`` refuses any moto but
``SUPPORTED_MOTO_VERSION`` and checks that every symbol it patches or relies on exists with the
parameters it expects, and that moto does not already implement RevokeToken; ``uninstall`` restores
moto exactly. All of it relies on moto's requests being serialised (the local cloud's request gate).
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

from local_cloud.moto_patching import Patches, Symbol, UnsupportedMotoError, moto_version, symbol_problems

SUPPORTED_MOTO_VERSION = "5.2.5"
"""The one moto version these patches install on: the one tests/e2e/test_auth_tokens.py passed on."""

_RELIED_ON: tuple[Symbol, ...] = (
    # (module, attribute, the parameters the patch assumes; None: not a function)
    (
        "moto.cognitoidp.models",
        "CognitoIdpUserPool.create_jwt",
        ("self", "client_id", "username", "token_use", "expires_in", "extra_data"),
    ),
    ("moto.cognitoidp.models", "CognitoIdpBackend.describe_user_pool_client", None),
    ("moto.cognitoidp.models", "jwt", None),
    ("moto.cognitoidp.responses", "CognitoIdpJsonWebKeyResponse.json_web_key", None),
    ("moto.cognitoidp.responses", "CognitoIdpResponse.backend", None),
)

_SECONDS_PER_UNIT = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_VALIDITY = {"access": ("AccessTokenValidity", "AccessToken"), "id": ("IdTokenValidity", "IdToken")}

_patches = Patches()
_patch = _patches.replace


class _SigningKey:
    """This process's RSA key, as the joserfc key moto signs with and as the JWKS document it serves."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from joserfc import jwk

        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.kid = f"local-{uuid.uuid4().hex}"
        self.jwk = jwk.RSAKey.import_key(pem, parameters={"kid": self.kid, "alg": "RS256", "use": "sig"})
        self.jwks = json.dumps({"keys": [self.jwk.as_dict(private=False)]}).encode()


@functools.lru_cache(maxsize=1)
def signing_key() -> _SigningKey:
    """The key of this process, generated on first use."""
    return _SigningKey()


class _SignWithKeyId:
    """Stands in for joserfc's ``jwt`` module inside moto's Cognito: moto writes ``kid`` "dummy" into
    every header; this writes the ``kid`` of the key that actually signs."""

    @staticmethod
    def encode(header: dict[str, Any], claims: dict[str, Any], key: Any) -> str:
        from joserfc import jwt

        return jwt.encode({**header, "kid": key.kid}, claims, key)


def check_supported() -> None:
    """Raise ``UnsupportedMotoError`` unless moto is the tested version with every symbol relied on."""
    found = moto_version()
    if found != SUPPORTED_MOTO_VERSION:
        raise UnsupportedMotoError(
            f"local_cloud.moto_cognito supports moto {SUPPORTED_MOTO_VERSION} only, found moto {found}: "
            f"its patches rely on moto's Cognito internals. Set SUPPORTED_MOTO_VERSION = {found!r} in "
            f"local_cloud/moto_cognito.py and run tests/e2e/test_auth_tokens.py, keeping the change only "
            f"if they pass."
        )
    problems = symbol_problems(_RELIED_ON)
    from moto.cognitoidp.models import CognitoIdpBackend
    from moto.cognitoidp.responses import CognitoIdpResponse

    for owner in (CognitoIdpBackend, CognitoIdpResponse):
        if hasattr(owner, "revoke_token"):
            problems.append(f"{owner.__name__}.revoke_token exists already: moto implements RevokeToken")
    if problems:
        raise UnsupportedMotoError("local_cloud.moto_cognito cannot install: " + "; ".join(problems))


# -- RevokeToken -------------------------------------------------------------------------------------
def _backend_revoke_token(self: Any, client_id: str, token: str) -> None:
    """Revoke ``token`` (a refresh token issued to ``client_id``); an unknown token is not an error."""
    from moto.cognitoidp.exceptions import ResourceNotFoundError
    from moto.core.exceptions import JsonRESTError

    for pool in self.user_pools.values():
        client = pool.clients.get(client_id)
        if client is None:
            continue
        if not client.extended_config.get("EnableTokenRevocation", True):
            raise JsonRESTError("UnsupportedOperationException", "Token revocation is not enabled.")
        if token in pool.access_tokens or token in pool.id_tokens:
            raise JsonRESTError("UnsupportedTokenTypeException", "Only refresh tokens can be revoked.")
        issued = pool.refresh_tokens.get(token)
        if issued is not None and issued[0] != client_id:
            raise JsonRESTError("UnauthorizedException", "The token was not issued to this client.")
        if token in pool.refresh_tokens:
            pool.refresh_tokens[token] = None  # moto's own mark of a signed-out token
        return
    raise ResourceNotFoundError(client_id)


def _response_revoke_token(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    self.backend.revoke_token(self._get_param("ClientId"), self._get_param("Token"))
    return EmptyResult()


# -- signing key and token lifetimes -----------------------------------------------------------------
def _validity_seconds(pool: Any, client_id: str, token_use: str) -> int | None:
    """The app client's lifetime for ``token_use`` tokens, or None when it sets none."""
    client = pool.clients.get(client_id)
    if client is None or token_use not in _VALIDITY:
        return None
    validity_field, unit_field = _VALIDITY[token_use]
    value = client.extended_config.get(validity_field)
    if value is None:
        return None
    unit = (client.extended_config.get("TokenValidityUnits") or {}).get(unit_field, "hours")
    return int(value) * _SECONDS_PER_UNIT[unit]


def _wrap_create_jwt(original: Any) -> Any:
    @functools.wraps(original)
    def create_jwt(
        self: Any,
        client_id: str,
        username: str,
        token_use: str,
        expires_in: int | None = None,
        extra_data: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        self.json_web_key = signing_key().jwk
        if expires_in is None:
            expires_in = _validity_seconds(self, client_id, token_use) or 60 * 60
        token, seconds = original(self, client_id, username, token_use, expires_in, extra_data)
        return str(token), int(seconds)

    return create_jwt


# -- install ------------------------------------------------------------------------------------------
def install() -> bool:
    """Apply every patch (idempotent); return True. Raises ``UnsupportedMotoError``, before patching
    anything, on a moto they were not checked against."""
    with _patches.lock:
        if _patches:
            return True
        check_supported()
        import moto.cognitoidp.models as models
        import moto.cognitoidp.responses as responses

        try:
            _patch(models.CognitoIdpBackend, "revoke_token", _backend_revoke_token)
            _patch(responses.CognitoIdpResponse, "revoke_token", _response_revoke_token)
            pool_class = models.CognitoIdpUserPool
            _patch(pool_class, "create_jwt", _wrap_create_jwt(pool_class.create_jwt))
            _patch(models, "jwt", _SignWithKeyId)
            _patch(responses.CognitoIdpJsonWebKeyResponse, "json_web_key", signing_key().jwks)
        except BaseException:
            _patches.restore_all()
            raise
        return True


def installed() -> bool:
    return bool(_patches)


def uninstall() -> None:
    """Restore moto's own Cognito."""
    with _patches.lock:
        _patches.restore_all()
