"""Data access for profiles and the uniqueness claims that guard usernames and e-mail addresses.

One table (``users``):
- ``pk = <user_id>``               the profile (kind ``profile``)
- ``pk = username#<lower-case>``   claim on a username, points at the user_id (kind ``claim``)
- ``pk = email#<lower-case>``      claim on an e-mail address (kind ``claim``)
Claims are written in one conditional transaction, so two concurrent sign-ups for ``Bob`` and ``bob``
cannot both win.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from functions.core.clock import iso_millis
from functions.core.config import REGION, FromEnv
from functions.core.errors import Conflict, EmailTaken, NotFound, UsernameTaken
from functions.core.ids import plausible_key
from functions.core.transactions import Transaction, is_condition_failure, transact


class UserRecord(Model):
    class Meta:
        table_name = FromEnv("USERS_TABLE_NAME")
        region = REGION

    pk = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default="profile")
    username = UnicodeAttribute()
    email = UnicodeAttribute()
    display_name = UnicodeAttribute(default="")
    bio = UnicodeAttribute(default="")
    avatar_url = UnicodeAttribute(null=True)
    follower_count = NumberAttribute(default=0)
    following_count = NumberAttribute(default=0)
    tweet_count = NumberAttribute(default=0)
    created_at = UnicodeAttribute()

    @property
    def user_id(self) -> str:
        return str(self.pk)


class ClaimRecord(Model):
    """A claim on a unique value. ``user_id`` is empty while the sign-up that made it is in flight."""

    class Meta:
        table_name = FromEnv("USERS_TABLE_NAME")
        region = REGION

    pk = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default="claim")
    user_id = UnicodeAttribute(default="")
    claimed_at = UnicodeAttribute()


def username_key(username: str) -> str:
    return f"username#{username.lower()}"


def email_key(email: str) -> str:
    return f"email#{email.lower()}"


class UserRepository:
    """Every DynamoDB call of the users domain goes through here."""

    def claim(self, username: str, email: str) -> None:
        """Claim the username and e-mail in one transaction (1 TransactWriteItems, 2 items)."""
        at = iso_millis()

        def build(tx: Transaction) -> None:
            for label, key in (("username", username_key(username)), ("email", email_key(email))):
                tx.put(label, ClaimRecord(pk=key, claimed_at=at), ClaimRecord.pk.does_not_exist())

        failed = transact(build)
        if "username" in failed:
            raise UsernameTaken("That username is taken.")
        if "email" in failed:
            raise EmailTaken("That e-mail address is already registered.")

    def release(self, username: str, email: str) -> None:
        """Drop claims of a sign-up that failed before its profile existed (only unowned claims)."""
        for key in (username_key(username), email_key(email)):
            try:
                ClaimRecord(pk=key).delete(condition=ClaimRecord.user_id == "")
            except DeleteError as exc:
                if not is_condition_failure(exc):  # a claim already owned by a profile must stay
                    raise

    def create_profile(self, profile: UserRecord, email: str) -> None:
        """Write the profile and bind both claims to it, atomically (1 TransactWriteItems, 3 items)."""

        def build(tx: Transaction) -> None:
            tx.put("profile", profile, UserRecord.pk.does_not_exist())
            for label, key in (("username", username_key(profile.username)), ("email", email_key(email))):
                condition = ClaimRecord.pk.exists() & (ClaimRecord.user_id == "")
                tx.update(label, ClaimRecord(pk=key), [ClaimRecord.user_id.set(profile.user_id)], condition)

        failed = transact(build)
        if failed:
            raise Conflict(f"The sign-up lost a race for {', '.join(sorted(failed))}; try again.")

    def get(self, user_id: str) -> UserRecord:
        """1 GetItem (strongly consistent reads are not needed: profiles change rarely)."""
        if not plausible_key(user_id):
            raise NotFound("No such user.")
        try:
            record = UserRecord.get(user_id)
        except DoesNotExist as exc:
            raise NotFound("No such user.") from exc
        if record.kind != "profile":
            raise NotFound("No such user.")
        return record

    def find(self, user_id: str) -> UserRecord | None:
        try:
            return self.get(user_id)
        except NotFound:
            return None

    def get_by_username(self, username: str) -> UserRecord:
        """2 sequential GetItems: the claim, then the profile it points at."""
        if not plausible_key(username):
            raise NotFound("No such user.")
        try:
            claim = ClaimRecord.get(username_key(username))
        except DoesNotExist as exc:
            raise NotFound("No such user.") from exc
        if not claim.user_id:
            raise NotFound("No such user.")
        return self.get(claim.user_id)

    def update_profile(
        self, user_id: str, *, display_name: str | None, bio: str | None, avatar_url: str | None
    ) -> UserRecord:
        """1 UpdateItem, conditional on the profile existing; returns the new image."""
        record = UserRecord(pk=user_id)
        actions: list[Action] = []
        if display_name is not None:
            actions.append(UserRecord.display_name.set(display_name))
        if bio is not None:
            actions.append(UserRecord.bio.set(bio))
        if avatar_url is not None:
            actions.append(UserRecord.avatar_url.set(avatar_url))
        if not actions:
            return self.get(user_id)
        try:
            record.update(actions=actions, condition=UserRecord.pk.exists() & (UserRecord.kind == "profile"))
        except UpdateError as exc:
            if is_condition_failure(exc):
                raise NotFound("No such user.") from exc
            raise
        return record


__all__ = ["ClaimRecord", "Conflict", "UserRecord", "UserRepository"]
