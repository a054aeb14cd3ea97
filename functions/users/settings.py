"""Settings of the users function."""

from __future__ import annotations

from pydantic import Field

from functions.core.tables import UsersTable
from functions.media.settings import MediaBucket, MediaTable, MediaUrls


class UsersApiSettings(UsersTable, MediaTable, MediaBucket, MediaUrls):
    """The user pool it signs users up in and logs them in with; whether sign-ups are confirmed at once
    (stage dev and locally) or by the e-mailed code (prod). Media: the uploaded image an avatar is."""

    user_pool_id: str = Field(alias="USER_POOL_ID")
    user_pool_client_id: str = Field(alias="USER_POOL_CLIENT_ID")
    auto_confirm_signup: bool = Field(default=False, alias="AUTO_CONFIRM_SIGNUP")
