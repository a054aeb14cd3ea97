"""Settings of the social graph's function."""

from __future__ import annotations

from functions.core.config import PagingSettings
from functions.core.tables import FollowsTable, RateLimitsTable, UsersTable


class GraphApiSettings(PagingSettings, FollowsTable, UsersTable, RateLimitsTable):
    """Users: profiles (views, list hydration) and the follower / following counts."""
