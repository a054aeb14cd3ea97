"""Sign-up, log-in and profile rules. Receives its adapters; builds none of them."""

from __future__ import annotations

from collections.abc import Callable

from functions.core.clock import iso_millis
from functions.core.errors import Unprocessable
from functions.core.observability import logger
from functions.users.cognito import CognitoUserPool, IssuedTokens
from functions.users.dal import UserRecord, UserRepository
from functions.users.models import ProfileUpdate, SignUpRequest, User, UserSummary

AvatarResolver = Callable[[str, str], str]
"""(caller_id, media_id) -> avatar URL; raises a DomainError when the media is not the caller's."""


def to_user(record: UserRecord, followed_by_me: bool | None = None) -> User:
    return User(
        user_id=record.user_id,
        username=record.username,
        display_name=record.display_name,
        bio=record.bio,
        avatar_url=record.avatar_url,
        follower_count=max(0, int(record.follower_count)),
        following_count=max(0, int(record.following_count)),
        tweet_count=max(0, int(record.tweet_count)),
        created_at=record.created_at,
        followed_by_me=followed_by_me,
    )


def to_summary(record: UserRecord) -> UserSummary:
    return UserSummary(
        user_id=record.user_id,
        username=record.username,
        display_name=record.display_name,
        avatar_url=record.avatar_url,
    )


class UserService:
    def __init__(
        self,
        repo: UserRepository,
        pool: CognitoUserPool,
        *,
        auto_confirm: bool,
        resolve_avatar: AvatarResolver | None = None,
    ) -> None:
        self.repo = repo
        self.pool = pool
        self.auto_confirm = auto_confirm
        self.resolve_avatar = resolve_avatar

    def sign_up(self, request: SignUpRequest) -> UserRecord:
        """Claim name and e-mail, create the account, then the profile; undo earlier steps on failure.

        Order matters: the DynamoDB claim is the race-free uniqueness check (case-insensitive), so a
        losing concurrent sign-up never reaches Cognito. If the profile write fails the account is
        deleted, so there is no account without a profile and no profile without an account.
        """
        email = request.email.lower()
        self.repo.claim(request.username, email)
        try:
            user_id = self.pool.sign_up(request.username, email, request.password)
        except Exception:
            self.repo.release(request.username, email)
            raise
        profile = UserRecord(
            pk=user_id,
            username=request.username,
            email=email,
            display_name=request.display_name if request.display_name is not None else request.username,
            bio="",
            created_at=iso_millis(),
        )
        try:
            if self.auto_confirm:
                self.pool.confirm(request.username)
            self.repo.create_profile(profile, email)
        except Exception:
            logger.warning("sign-up rolled back", extra={"user_id": user_id})
            self.pool.delete(request.username)
            self.repo.release(request.username, email)
            raise
        return profile

    def log_in(self, username: str, password: str) -> tuple[IssuedTokens, UserRecord]:
        tokens = self.pool.login(username, password)
        return tokens, self._profile_after_auth(username, tokens.user_id)

    def refresh(self, refresh_token: str) -> IssuedTokens:
        return self.pool.refresh(refresh_token)

    def log_out(self, refresh_token: str) -> None:
        """Revoke the refresh token, so it no longer refreshes; access tokens already issued stay valid
        until they expire (``CognitoPool.access_token_minutes``). Idempotent."""
        self.pool.revoke(refresh_token)

    def _profile_after_auth(self, username: str, user_id: str) -> UserRecord:
        """The profile of a freshly authenticated user.

        If a sign-up died between creating the account and writing the profile (a crashed Lambda, not
        an exception), the account exists without a profile; it is completed here from the pool's
        attributes, against the claims that sign-up left in place.
        """
        record = self.repo.find(user_id)
        if record is not None:
            return record
        attributes = self.pool.attributes(username)
        email = attributes.get("email", "").lower()
        name = attributes.get("preferred_username", username)
        profile = UserRecord(
            pk=user_id, username=name, email=email, display_name=name, bio="", created_at=iso_millis()
        )
        self.repo.create_profile(profile, email)
        logger.info("completed profile of an interrupted sign-up", extra={"user_id": user_id})
        return profile

    def get(self, user_id: str) -> UserRecord:
        return self.repo.get(user_id)

    def get_by_username(self, username: str) -> UserRecord:
        return self.repo.get_by_username(username)

    def update_profile(self, user_id: str, update: ProfileUpdate) -> UserRecord:
        avatar_url = None
        if update.avatar_media_id is not None:
            if self.resolve_avatar is None:
                raise Unprocessable(
                    "avatar_media_id does not name an uploaded image.",
                    details=[{"field": "avatar_media_id", "issue": "unknown_media"}],
                )
            avatar_url = self.resolve_avatar(user_id, update.avatar_media_id)
        return self.repo.update_profile(
            user_id, display_name=update.display_name, bio=update.bio, avatar_url=avatar_url
        )
