"""Request and response shapes of the users domain (the typed edge of the API)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from functions.core.text import pydantic_rule, refuse_bidi_controls, refuse_controls, refuse_invisible

USERNAME_PATTERN = r"^[A-Za-z0-9_]{1,15}$"
MAX_DISPLAY_NAME_CHARS = 50
MAX_BIO_CHARS = 160


def display_name_rules(value: str) -> str:
    """A display name shows on one line beside every tweet: no control characters at all, no bidi
    embedding, override or isolate controls, and something visible (blank names impersonate nobody)."""
    refuse_controls(value, allow_newline=False)
    refuse_bidi_controls(value)
    refuse_invisible(value)
    return value


def bio_rules(value: str) -> str:
    """A bio may span lines and may be empty (that clears it), but holds no other control characters and
    no bidi embedding, override or isolate controls."""
    refuse_controls(value, allow_newline=True)
    refuse_bidi_controls(value)
    return value


Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
# The length bound runs first, so the character rules never see an oversized value.
DisplayName = Annotated[
    str,
    StringConstraints(max_length=MAX_DISPLAY_NAME_CHARS),
    AfterValidator(pydantic_rule(display_name_rules)),
    Field(
        description=(
            f"At most {MAX_DISPLAY_NAME_CHARS} characters with at least one visible one; no control "
            "characters; no bidirectional embedding, override or isolate controls (U+202A..U+202E, "
            "U+2066..U+2069)."
        )
    ),
]
Bio = Annotated[
    str,
    StringConstraints(max_length=MAX_BIO_CHARS),
    AfterValidator(pydantic_rule(bio_rules)),
    Field(
        description=(
            f"At most {MAX_BIO_CHARS} characters, empty allowed; no control characters other than "
            "newline; no bidirectional embedding, override or isolate controls."
        )
    ),
]

_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-")


class StrictModel(BaseModel):
    """Unknown fields are rejected; server-owned fields can never come from the client."""

    model_config = ConfigDict(extra="forbid")


class SignUpRequest(StrictModel):
    username: Username
    email: EmailStr
    password: Annotated[str, StringConstraints(min_length=8, max_length=256)]
    display_name: DisplayName | None = None

    @field_validator("password")
    @classmethod
    def _strong_password(cls, value: str) -> str:
        # Mirrors the Cognito pool's policy so a weak password is a clear 422 before any call is made.
        missing = [
            label
            for label, ok in (
                ("an upper-case letter", any(c.isupper() for c in value)),
                ("a lower-case letter", any(c.islower() for c in value)),
                ("a digit", any(c.isdigit() for c in value)),
                ("a symbol", any(c in _SYMBOLS for c in value)),
            )
            if not ok
        ]
        if missing:
            raise ValueError("password needs " + ", ".join(missing))
        return value


class LoginRequest(StrictModel):
    username: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class RefreshRequest(StrictModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=8192)]


class LogoutRequest(StrictModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=8192)]


class ProfileUpdate(StrictModel):
    display_name: DisplayName | None = None
    bio: Bio | None = None
    avatar_media_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="A ready image you uploaded (POST /media): it becomes your avatar_url. Else 422.",
    )


class User(BaseModel):
    user_id: str
    username: str
    display_name: str
    bio: str
    avatar_url: str | None
    follower_count: int
    following_count: int
    tweet_count: int
    created_at: str
    followed_by_me: bool | None = Field(default=None, description="Present when the caller is signed in.")


class UserSummary(BaseModel):
    user_id: str
    username: str
    display_name: str
    avatar_url: str | None


class SignUpResponse(BaseModel):
    user: User


class Tokens(BaseModel):
    access_token: str
    id_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


class LoginResponse(Tokens):
    user: User
