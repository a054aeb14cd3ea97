"""The one definition of every resource the service uses.

Both the CDK stack (``infra/stack.py`` and its constructs) and the local runtime (``local_cloud``)
are derived from the objects below: tables with their keys, indexes, streams and TTL; queues with
their DLQs; buckets; API routes; and event-source mappings with their retry settings.

This module must stay importable without aws-cdk-lib (the local runtime and the tests use it), so it
only holds plain frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

BASE_PATH = "/api/v1"
"""Every public route lives under this prefix."""

MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit; the local gateway enforces the same number (413 above it)."""

AUTH_PATH_PREFIX = BASE_PATH + "/auth/"
"""Sign-up, log-in, refresh and logout: the routes limited per client address."""

AUTH_RATE_LIMIT = 100
"""Requests to AUTH_PATH_PREFIX one client address may make per AUTH_RATE_WINDOW_SECONDS (the WAF rule on
AWS). A person signs up once, logs in now and then and refreshes once per access token (15 minutes),
so 100 leaves room for a few hundred sessions behind one office NAT or carrier address, while credential
stuffing and sign-up floods, which need thousands of attempts, are held to one every 3 seconds. Every
local client shares 127.0.0.1, so the local gateway limits auth requests only when LOCAL_AUTH_RATE_LIMIT
sets its own number for the same window."""

AUTH_RATE_WINDOW_SECONDS = 300
"""The window AUTH_RATE_LIMIT counts over (one of WAF's evaluation windows: 60, 120, 300 or 600 s)."""

KeyType = Literal["S", "N", "B"]
StreamView = Literal["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"]


@dataclass(frozen=True)
class Key:
    name: str
    type: KeyType = "S"


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: Key
    sort_key: Key | None = None
    local: bool = False  # a local secondary index shares the table's partition key
    include: tuple[str, ...] | None = None
    """Non-key attributes the index carries (INCLUDE; () = KEYS_ONLY); None = ALL. An index that carries
    only what its queries read is cheaper twice: its Queries read smaller items, and a write that changes
    only attributes it does not carry (a like's ``like_count``) writes nothing to it."""

    @property
    def projection(self) -> dict[str, Any]:
        """The index's ``Projection`` as DynamoDB's API (and CloudFormation) spell it."""
        if self.include is None:
            return {"ProjectionType": "ALL"}
        if not self.include:
            return {"ProjectionType": "KEYS_ONLY"}
        return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(self.include)}


@dataclass(frozen=True)
class Table:
    logical_id: str
    """Construct id in CDK and the physical table name locally."""
    env_var: str
    """Environment variable that carries the physical name to the functions."""
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[Index, ...] = ()
    stream: StreamView | None = None
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class Queue:
    logical_id: str
    env_var: str
    visibility_timeout_seconds: int = 60
    max_receive_count: int = 5
    """Receives before a message moves to the DLQ."""
    retention_seconds: int = 4 * 24 * 3600
    dlq_retention_seconds: int = 14 * 24 * 3600

    @property
    def dlq_logical_id(self) -> str:
        return f"{self.logical_id}-dlq"

    @property
    def url_output(self) -> str:
        """The stack output that holds the deployed queue's URL (``scripts/redrive.py`` reads it)."""
        return "".join(part.capitalize() for part in self.logical_id.split("-")) + "QueueUrl"


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    env_var: str
    notify_queue: str | None = None
    """Logical id of the queue that receives the bucket's ObjectCreated events (an S3 notification)."""
    public_url_env_var: str | None = None
    """Variable carrying the base URL that serves the bucket's objects to clients (the CloudFront
    distribution on AWS, the local gateway locally), given to functions listing the bucket in
    ``Function.renders_urls_of``."""
    upload_url_env_var: str | None = None
    """Variable carrying the endpoint of browser uploads when it is not S3's own (locally: the local
    cloud's upload endpoint, which checks POST policies as S3 does); never set on AWS."""
    unattached_tag: tuple[str, str] | None = None
    """The object tag an upload carries until it is attached (its POST policy requires it); objects
    still carrying it are deleted by the bucket's lifecycle rule after ``unattached_expiry_days``."""
    unattached_expiry_days: int = 2


@dataclass(frozen=True)
class BucketAccess:
    """What a function may do to one bucket's objects; each flag is one grant (``infra/grants.py``):
    ``read`` = GetObject (HeadObject and ranged reads included), ``write`` = PutObject (also what a
    presigned POST it signs is authorised by), ``delete`` = DeleteObject, ``tag`` = PutObjectTagging."""

    bucket: str
    read: bool = False
    write: bool = False
    delete: bool = False
    tag: bool = False


@dataclass(frozen=True)
class Secret:
    """A generated secret. On AWS: Secrets Manager, its ARN in ``arn_env_var``. Locally the runtime
    generates the value and passes it in ``local_env_var`` (moto needs no Secrets Manager round trip)."""

    logical_id: str
    arn_env_var: str
    local_env_var: str


@dataclass(frozen=True)
class SearchDomain:
    """A search engine. On AWS: an OpenSearch Service domain (``infra/constructs/search.py``), its HTTPS
    endpoint in ``env_var``. Locally: an embedded SQLite FTS5 database, ``sqlite://<path>`` in the same
    variable (the data dir when given, else the local cloud's temporary dir)."""

    logical_id: str
    env_var: str


@dataclass(frozen=True)
class SearchAccess:
    """What a function may do on one search domain (``infra/grants.py``): ``read`` = ESHttpGet and
    ESHttpPost on the indexes' ``_search``, ``write`` = ESHttpHead, ESHttpGet, ESHttpPut and ESHttpPost on
    the domain's paths (index templates, indexes, ``_bulk``)."""

    domain: str
    read: bool = False
    write: bool = False


@dataclass(frozen=True)
class TableAccess:
    """What a function may do to one table. Each flag and each index is one grant (``infra/grants.py``):
    ``read`` = GetItem, BatchGetItem, Query and ConditionCheckItem on the table's own items, ``write`` =
    PutItem, UpdateItem, DeleteItem and BatchWriteItem, ``indexes`` = Query on each index named."""

    table: str
    read: bool = False
    write: bool = False
    indexes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Function:
    """One Lambda function: its handler and the resources it may touch (least privilege).

    Its grants and its environment are both computed from these fields (``infra/grants.py``), by the CDK
    stack and by the local runtime, which runs the function with exactly that environment and refuses
    every AWS call the grants do not allow."""

    name: str
    handler: str
    """Dotted path ``functions.<domain>.handlers.<module>.<callable>`` from the repository root."""
    settings_model: str = "functions.core.config.FunctionSettings"
    """Dotted path of the pydantic model the function parses its environment into."""
    memory_mb: int = 512
    timeout_seconds: int = 10
    tables: tuple[TableAccess, ...] = ()
    sends_to: tuple[str, ...] = ()
    """Logical ids of queues the function sends messages to."""
    streams: tuple[str, ...] = ()
    """Logical ids of tables whose streams the function reads itself (GetShardIterator and GetRecords on
    the stream's ARN). A stream mapping's own reads come with the mapping, not from here."""
    buckets: tuple[str | BucketAccess, ...] = ()
    """A bucket's logical id (its objects: get, put, delete) or a ``BucketAccess`` (just the flags set)."""
    renders_urls_of: tuple[str, ...] = ()
    """Logical ids of buckets whose objects' public URLs the function renders (their base URL)."""
    cognito: tuple[str, ...] = ()
    """Cognito user pool actions the function calls that IAM authorises (``cognito-idp:<Action>``)."""
    secrets: tuple[str, ...] = ()
    """Logical ids of secrets the function reads."""
    search: tuple[SearchAccess, ...] = ()
    """Search domains the function queries or indexes into."""
    settings: tuple[str, ...] = ()
    """Names of the tunables (``TUNABLES``) the function reads; set per deployment."""
    environment: tuple[tuple[str, str], ...] = ()

    @property
    def bucket_ids(self) -> tuple[str, ...]:
        """Logical ids of the buckets the function has any access to."""
        return tuple(b if isinstance(b, str) else b.bucket for b in self.buckets)


@dataclass(frozen=True)
class Route:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    """Path below BASE_PATH, with ``{name}`` parameters as API Gateway writes them."""
    function: str
    auth: bool = True


@dataclass(frozen=True)
class EventSourceMapping:
    """How a function consumes a table's stream or a queue; both CDK and the local pollers honour it."""

    function: str
    source: str
    """Logical id of a Table (its stream) or a Queue."""
    kind: Literal["stream", "queue"]
    batch_size: int = 10
    max_batching_window_seconds: int = 0
    report_batch_item_failures: bool = True
    # Stream-only settings (queues retry through visibility timeout and the DLQ instead).
    retry_attempts: int = 3
    bisect_on_error: bool = True
    max_record_age_seconds: int = 3600
    on_failure: str | None = None
    """Logical id of the queue that receives the metadata of stream records that exhausted retries."""
    starting_position: Literal["TRIM_HORIZON", "LATEST"] = "TRIM_HORIZON"
    event_names: tuple[Literal["INSERT", "MODIFY", "REMOVE"], ...] = ()
    """Stream only: deliver just these events (Lambda event filtering; others are dropped, never
    invoking the function). Empty: every event."""
    max_concurrency: int | None = None
    """Queue only: the most concurrent invocations the mapping starts (SQS ScalingConfig, 2-1000), so a
    backlog cannot take the account's concurrency from the API functions or flood a downstream. Streams
    are bounded by their shards (one batch per shard at a time)."""
    replay: str | None = None
    """Stream only: logical id of the queue where ``stream-rescue`` puts the records of this mapping's
    exhausted batches, read back from the stream by the coordinates ``on_failure`` received (only the
    events ``event_names`` lets through). The queue is an event source of the same function."""


@dataclass(frozen=True)
class CognitoPool:
    logical_id: str = "users"
    pool_env_var: str = "USER_POOL_ID"
    client_env_var: str = "USER_POOL_CLIENT_ID"
    password_min_length: int = 8
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_digits: bool = True
    require_symbols: bool = True
    access_token_minutes: int = 15
    """Access and ID tokens; the contract promises 15 minutes. They cannot be revoked (API Gateway
    checks only signature and expiry), so this bounds how long a token outlives its log-out."""
    refresh_token_days: int = 30


@dataclass(frozen=True)
class ServiceSpec:
    tables: tuple[Table, ...]
    queues: tuple[Queue, ...]
    buckets: tuple[Bucket, ...]
    functions: tuple[Function, ...]
    routes: tuple[Route, ...]
    mappings: tuple[EventSourceMapping, ...]
    user_pool: CognitoPool = field(default_factory=CognitoPool)
    secrets: tuple[Secret, ...] = ()
    search_domains: tuple[SearchDomain, ...] = ()

    def table(self, logical_id: str) -> Table:
        return _find(self.tables, logical_id)

    def queue(self, logical_id: str) -> Queue:
        return _find(self.queues, logical_id)

    def search_domain(self, logical_id: str) -> SearchDomain:
        for domain in self.search_domains:
            if domain.logical_id == logical_id:
                return domain
        raise KeyError(logical_id)

    def function(self, name: str) -> Function:
        for fn in self.functions:
            if fn.name == name:
                return fn
        raise KeyError(name)


def _find(items: tuple[Table, ...] | tuple[Queue, ...], logical_id: str):  # type: ignore[no-untyped-def]
    for item in items:
        if item.logical_id == logical_id:
            return item
    raise KeyError(logical_id)


# --------------------------------------------------------------------------------------------------
# Tables. Each domain owns its tables; see docs/architecture.md for keys and access patterns.
# --------------------------------------------------------------------------------------------------
USERS = Table(
    logical_id="users",
    env_var="USERS_TABLE_NAME",
    partition_key=Key("pk"),
    # Profiles live at pk=<user_id>; uniqueness claims at pk=username#<lower> and pk=email#<lower>.
    stream="NEW_AND_OLD_IMAGES",
)
IDEMPOTENCY = Table(
    logical_id="idempotency",
    env_var="IDEMPOTENCY_TABLE_NAME",
    partition_key=Key("id"),
    ttl_attribute="expiration",
)
RATE_LIMITS = Table(
    logical_id="rate-limits",
    env_var="RATE_LIMITS_TABLE_NAME",
    partition_key=Key("pk"),
    ttl_attribute="expires_at",
)

TWEETS = Table(
    logical_id="tweets",
    env_var="TWEETS_TABLE_NAME",
    partition_key=Key("tweet_id"),
    # Tweets, replies and retweets (kind="retweet", retweet_of=<original id>) are all items here.
    indexes=(
        # Lists read entries from these indexes (kind and original of each) and then the tweets
        # themselves, consistently: the indexes carry no counters, so a like or a reply count writes
        # nothing to them, and a Query reads ~100-byte entries instead of whole tweets.
        Index("by_author", Key("author_id"), Key("tweet_id"), include=("kind", "retweet_of")),
        Index("by_reply_to", Key("reply_to"), Key("tweet_id"), include=("author_id", "kind")),
    ),
    stream="NEW_AND_OLD_IMAGES",
)
FOLLOWS = Table(
    logical_id="follows",
    env_var="FOLLOWS_TABLE_NAME",
    partition_key=Key("follower_id"),
    sort_key=Key("followee_id"),
    indexes=(
        Index("by_followee", Key("followee_id"), Key("follow_seq")),
        Index("by_follow_time", Key("follower_id"), Key("follow_seq"), local=True),
    ),
    stream="NEW_AND_OLD_IMAGES",
)
ENGAGEMENTS = Table(
    logical_id="engagements",
    env_var="ENGAGEMENTS_TABLE_NAME",
    partition_key=Key("tweet_id"),
    sort_key=Key("sk"),
    # sk = u#<user_id>: one item per tweet and user (the like and the retweet), so counts are exact.
    indexes=(
        # A page's flags: the caller's engagements within the page's range of tweet ids, in one Query
        # of ~100-byte entries (0.5 read units for a page), instead of one key per tweet (0.5 each).
        Index("by_user", Key("user_id"), Key("tweet_id"), include=("liked_at", "retweet_id")),
    ),
    stream="NEW_AND_OLD_IMAGES",
)

TIMELINES = Table(
    logical_id="timelines",
    env_var="TIMELINES_TABLE_NAME",
    partition_key=Key("user_id"),
    sort_key=Key("entry_id"),
    # Cached home timelines: one item per entry (the tweet or retweet id that put it there), trimmed
    # to TIMELINE_MAX_ITEMS per user by the fan-out worker.
    ttl_attribute="expires_at",
)

MEDIA = Table(
    logical_id="media-items",
    env_var="MEDIA_TABLE_NAME",
    partition_key=Key("media_id"),
    # One item per upload: owner, declared type and size, object key, status (pending -> ready |
    # rejected) and, once attached to a tweet or an avatar, what holds it. Unattached items expire.
    ttl_attribute="expires_at",
)

TABLES: tuple[Table, ...] = (USERS, IDEMPOTENCY, RATE_LIMITS, TWEETS, FOLLOWS, ENGAGEMENTS, TIMELINES, MEDIA)
STREAM_FAILURES = Queue(
    logical_id="stream-failures",
    env_var="STREAM_FAILURES_QUEUE_URL",
    visibility_timeout_seconds=360,  # 6 x stream-rescue's 60 s timeout
    # On-failure destination of every stream mapping: the coordinates (shard, sequence numbers) of
    # batches that exhausted their retries. stream-rescue reads those records back while the stream
    # still holds them (24 h) and puts them on their consumer's replay queue.
)

FANOUT = Queue(
    logical_id="fanout",
    env_var="FANOUT_QUEUE_URL",
    # Each message carries one chunk of follower ids for one timeline change (add or remove).
    visibility_timeout_seconds=180,  # 6 x fanout-worker's 30 s timeout
    max_receive_count=5,
)


def _replay_queue(consumer: str) -> Queue:
    """The queue that gives ``consumer`` back the stream records it failed past the mapping's retries
    (``EventSourceMapping.replay``): the stream keeps records 24 hours, this queue and its DLQ 14 days."""
    return Queue(
        logical_id=f"{consumer}-replay",
        env_var=f"{consumer.upper().replace('-', '_')}_REPLAY_QUEUE_URL",
        # Six times the consumer's timeout (60 s), as Lambda advises for SQS sources; 5 receives give a
        # transient fault half an hour to clear before the DLQ (then `make replay`).
        visibility_timeout_seconds=360,
        retention_seconds=14 * 24 * 3600,
    )


FANOUT_DISPATCHER_REPLAY = _replay_queue("fanout-dispatcher")
TWEETS_CLEANUP_REPLAY = _replay_queue("tweets-cleanup")
ENGAGEMENT_COUNTER_REPLAY = _replay_queue("engagement-counter")

SEARCH_INDEX = Queue(
    logical_id="search-index",
    env_var="SEARCH_INDEX_QUEUE_URL",
    # Tweets-stream records for the search index, forwarded by fanout-dispatcher (a stream takes at
    # most two Lambda readers per shard, and the tweets stream has two), and the users-stream records
    # stream-rescue replays. Bodies are stream records as the stream delivered them. 6 x the indexer's
    # 30 s timeout + its 1 s window; 10 receives 3 minutes apart ride out half an hour of an unavailable
    # domain before the DLQ (then `make redrive`).
    visibility_timeout_seconds=181,
    max_receive_count=10,
)

MEDIA_UPLOADS = Queue(
    logical_id="media-uploads",
    env_var="MEDIA_UPLOADS_QUEUE_URL",
    # The media bucket's ObjectCreated events; six times the processor's timeout (30 s), as Lambda
    # advises for SQS sources.
    visibility_timeout_seconds=180,
)

QUEUES: tuple[Queue, ...] = (
    STREAM_FAILURES,
    FANOUT,
    FANOUT_DISPATCHER_REPLAY,
    TWEETS_CLEANUP_REPLAY,
    ENGAGEMENT_COUNTER_REPLAY,
    MEDIA_UPLOADS,
    SEARCH_INDEX,
)
MEDIA_BUCKET = Bucket(
    logical_id="media",
    env_var="MEDIA_BUCKET_NAME",
    notify_queue=MEDIA_UPLOADS.logical_id,
    public_url_env_var="MEDIA_BASE_URL",
    upload_url_env_var="MEDIA_UPLOAD_ENDPOINT",
    # Media items are attachable for a day (MEDIA's TTL); their objects outlive that by a day at least.
    unattached_tag=("attached", "false"),
    unattached_expiry_days=2,
)
BUCKETS: tuple[Bucket, ...] = (MEDIA_BUCKET,)

CURSOR_KEY = Secret(
    logical_id="cursor-signing-key",
    arn_env_var="CURSOR_SECRET_ARN",
    local_env_var="CURSOR_SIGNING_KEY",
)
SECRETS: tuple[Secret, ...] = (CURSOR_KEY,)

TUNABLES: tuple[str, ...] = (
    "CELEBRITY_FOLLOWER_THRESHOLD",
    "TIMELINE_MAX_ITEMS",
    "INACTIVE_AFTER_DAYS",
    "CATCH_UP_DELAY_SECONDS",
    "PULL_CACHE_SECONDS",
)
"""Settings a deployment may change (CDK context or the environment of ``make dev``); their defaults
live in the settings models of the functions that read them."""

# --------------------------------------------------------------------------------------------------
# Functions and routes.
# --------------------------------------------------------------------------------------------------
_COGNITO_ADMIN = ("AdminConfirmSignUp", "AdminDeleteUser", "AdminGetUser")
"""SignUp and InitiateAuth are called too, but Cognito authorises them by the app client, not IAM."""


# Powertools idempotency needs only writes: a repeat's PutItem fails its condition and returns the stored
# record (ReturnValuesOnConditionCheckFailure), so no GetItem follows.
def _t(table: str, *flags: str, indexes: tuple[str, ...] = ()) -> TableAccess:
    return TableAccess(table, read="read" in flags, write="write" in flags, indexes=indexes)


FUNCTIONS: tuple[Function, ...] = (
    Function(
        name="users-api",
        handler="functions.users.handlers.api.lambda_handler",
        settings_model="functions.users.settings.UsersApiSettings",
        tables=(_t("users", "read", "write"), _t("media-items", "read", "write")),
        # An avatar: the caller's ready image, marked attached (item and object tag).
        buckets=(BucketAccess("media", tag=True),),
        renders_urls_of=("media",),
        cognito=_COGNITO_ADMIN,
    ),
    Function(
        name="tweets-api",
        handler="functions.tweets.handlers.api.lambda_handler",
        settings_model="functions.tweets.settings.TweetsApiSettings",
        tables=(
            _t("tweets", "read", "write", indexes=("by_author", "by_reply_to")),
            _t("engagements", "read", "write", indexes=("by_user",)),
            _t("users", "read", "write"),
            _t("rate-limits", "write"),
            # Attaching media: checked, then claimed in the post's transaction.
            _t("media-items", "read", "write"),
        ),
        buckets=(BucketAccess("media", tag=True),),
        renders_urls_of=("media",),
        secrets=("cursor-signing-key",),
    ),
    Function(
        name="graph-api",
        handler="functions.graph.handlers.api.lambda_handler",
        settings_model="functions.graph.settings.GraphApiSettings",
        tables=(
            _t("follows", "read", "write", indexes=("by_followee", "by_follow_time")),
            _t("users", "read", "write"),
            _t("rate-limits", "write"),
        ),
        secrets=("cursor-signing-key",),
    ),
    Function(
        name="tweets-cleanup",
        handler="functions.tweets.handlers.cleanup.lambda_handler",
        settings_model="functions.tweets.settings.CleanupSettings",
        tables=(
            _t("tweets", "write"),
            _t("engagements", "read", "write"),
            _t("users", "write"),
            _t("media-items", "write"),  # a deleted tweet's media items and objects go with it
        ),
        buckets=(BucketAccess("media", delete=True),),
        timeout_seconds=60,
    ),
    Function(
        name="engagement-counter",
        handler="functions.tweets.handlers.counter.lambda_handler",
        settings_model="functions.tweets.settings.CounterSettings",
        tables=(
            _t("tweets", "read", "write"),  # like_count, conditional on the stream position it includes
            _t("engagements", "read", "write"),  # recounts; likes that landed after their tweet went
        ),
        timeout_seconds=60,
    ),
    Function(
        name="timeline-api",
        handler="functions.timeline.handlers.api.lambda_handler",
        settings_model="functions.timeline.settings.TimelineApiSettings",
        tables=(
            _t("tweets", "read", indexes=("by_author",)),
            _t("follows", "read", indexes=("by_follow_time",)),
            _t("engagements", indexes=("by_user",)),  # the page's flags: its index only
            _t("users", "read"),
            _t("timelines", "read", "write"),
        ),
        sends_to=("fanout",),
        secrets=("cursor-signing-key",),
        renders_urls_of=("media",),  # tweets in home timelines carry their media's URLs
        settings=TUNABLES,
    ),
    Function(
        name="fanout-dispatcher",
        handler="functions.timeline.handlers.dispatcher.lambda_handler",
        settings_model="functions.timeline.settings.DispatcherSettings",
        tables=(
            _t("follows", "read", indexes=("by_followee",)),
            _t("users", "read"),
            _t("tweets", "read", indexes=("by_author",)),
            _t("timelines", "read", "write"),
            _t("idempotency", "write"),
        ),
        sends_to=("fanout", SEARCH_INDEX.logical_id),  # tweet records on to the search indexer
        timeout_seconds=60,
        settings=TUNABLES,
    ),
    Function(
        name="fanout-worker",
        handler="functions.timeline.handlers.worker.lambda_handler",
        settings_model="functions.timeline.settings.WorkerSettings",
        tables=(
            _t("timelines", "read", "write"),
            _t("follows", "read", indexes=("by_follow_time",)),
            _t("tweets", indexes=("by_author",)),
            _t("idempotency", "write"),
        ),
        timeout_seconds=30,
        settings=TUNABLES,
    ),
    Function(
        name="stream-rescue",
        handler="functions.streams.handlers.rescue.lambda_handler",
        settings_model="functions.streams.settings.RescueSettings",
        # Reads exhausted batches back from the streams and hands them to their consumers' replay queues.
        streams=("tweets", "follows", "users", "engagements"),
        sends_to=(
            FANOUT_DISPATCHER_REPLAY.logical_id,
            TWEETS_CLEANUP_REPLAY.logical_id,
            ENGAGEMENT_COUNTER_REPLAY.logical_id,
            SEARCH_INDEX.logical_id,
        ),
        timeout_seconds=60,
    ),
    Function(
        name="media-api",
        handler="functions.media.handlers.api.lambda_handler",
        settings_model="functions.media.settings.MediaApiSettings",
        tables=(_t("media-items", "read", "write"),),
        # PutObject authorises the presigned POSTs it signs (S3 checks the signer's permission).
        buckets=(BucketAccess("media", write=True),),
        renders_urls_of=("media",),
    ),
    Function(
        name="media-processor",
        handler="functions.media.handlers.processor.lambda_handler",
        settings_model="functions.media.settings.ProcessorSettings",
        tables=(_t("media-items", "read", "write"),),
        buckets=(BucketAccess("media", read=True, delete=True),),
        memory_mb=1024,  # Pillow parses headers only, but a roomier function is also a faster one
        timeout_seconds=30,
    ),
    Function(
        name="search-api",
        handler="functions.search.handlers.api.lambda_handler",
        settings_model="functions.search.settings.SearchApiSettings",
        # Hits are rendered from the tables (a deleted tweet is never shown, counts are current).
        tables=(
            _t("tweets", "read"),
            _t("engagements", indexes=("by_user",)),  # the hits' flags: its index only
            _t("users", "read"),
            _t("follows", "read"),
        ),
        search=(SearchAccess("search", read=True),),
        secrets=("cursor-signing-key",),
        renders_urls_of=("media",),  # tweets carry their media's URLs
    ),
    Function(
        name="search-indexer",
        handler="functions.search.handlers.indexer.lambda_handler",
        settings_model="functions.search.settings.IndexerSettings",
        search=(SearchAccess("search", write=True),),
        timeout_seconds=30,
    ),
    Function(name="docs-api", handler="functions.docs.handlers.api.lambda_handler", memory_mb=256),
)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "docs-api", auth=False),
    Route("GET", "/openapi.json", "docs-api", auth=False),
    Route("POST", "/auth/signup", "users-api", auth=False),
    Route("POST", "/auth/login", "users-api", auth=False),
    Route("POST", "/auth/refresh", "users-api", auth=False),
    Route("POST", "/auth/logout", "users-api", auth=False),
    Route("GET", "/users/me", "users-api"),
    Route("PATCH", "/users/me", "users-api"),
    # A profile as the caller sees it carries followed_by_me: the social graph's function serves it.
    Route("GET", "/users/{user_id}", "graph-api"),
    Route("GET", "/users/by/username/{username}", "graph-api"),
    Route("POST", "/users/{user_id}/follow", "graph-api"),
    Route("DELETE", "/users/{user_id}/follow", "graph-api"),
    Route("GET", "/users/{user_id}/followers", "graph-api"),
    Route("GET", "/users/{user_id}/following", "graph-api"),
    Route("POST", "/tweets", "tweets-api"),
    Route("GET", "/tweets/{tweet_id}", "tweets-api"),
    Route("DELETE", "/tweets/{tweet_id}", "tweets-api"),
    Route("GET", "/tweets/{tweet_id}/replies", "tweets-api"),
    Route("POST", "/tweets/{tweet_id}/like", "tweets-api"),
    Route("DELETE", "/tweets/{tweet_id}/like", "tweets-api"),
    Route("POST", "/tweets/{tweet_id}/retweet", "tweets-api"),
    Route("DELETE", "/tweets/{tweet_id}/retweet", "tweets-api"),
    Route("GET", "/timeline/user/{user_id}", "tweets-api"),
    Route("GET", "/timeline/home", "timeline-api"),
    Route("GET", "/search/tweets", "search-api"),
    Route("GET", "/search/users", "search-api"),
    Route("POST", "/media", "media-api"),
    Route("GET", "/media/{media_id}", "media-api"),
)

MAPPINGS: tuple[EventSourceMapping, ...] = (
    EventSourceMapping(
        function="tweets-cleanup",
        source="tweets",
        kind="stream",
        batch_size=50,
        max_batching_window_seconds=1,
        on_failure="stream-failures",
        event_names=("REMOVE",),  # counts change on every like: MODIFY is most of this stream
        replay=TWEETS_CLEANUP_REPLAY.logical_id,
    ),
    EventSourceMapping(
        function="fanout-dispatcher",
        source="tweets",
        kind="stream",
        batch_size=100,
        max_batching_window_seconds=0,
        on_failure="stream-failures",
        event_names=("INSERT", "REMOVE"),
        replay=FANOUT_DISPATCHER_REPLAY.logical_id,
    ),
    EventSourceMapping(
        function="fanout-dispatcher",
        source="follows",
        kind="stream",
        batch_size=100,
        max_batching_window_seconds=0,
        on_failure="stream-failures",
        event_names=("INSERT", "REMOVE"),
        replay=FANOUT_DISPATCHER_REPLAY.logical_id,
    ),
    # Like counts: one conditional update per tweet per batch (a burst of likes of one tweet is a few
    # updates). Retried long before giving up: what the stream gives up on is recounted on replay.
    EventSourceMapping(
        function="engagement-counter",
        source="engagements",
        kind="stream",
        batch_size=100,
        max_batching_window_seconds=1,
        retry_attempts=20,
        max_record_age_seconds=6 * 3600,
        on_failure="stream-failures",
        replay=ENGAGEMENT_COUNTER_REPLAY.logical_id,
    ),
    EventSourceMapping(
        function="engagement-counter",
        source=ENGAGEMENT_COUNTER_REPLAY.logical_id,
        kind="queue",
        max_concurrency=2,
    ),
    # 50 workers write about 50 x 20 x 25 = 25,000 timeline entries a second at most: far above the
    # seeds' peak, and a backlog still leaves the account's other 950 executions to the API.
    EventSourceMapping(
        function="fanout-worker", source="fanout", kind="queue", batch_size=10, max_concurrency=50
    ),
    # Exhausted stream batches: their coordinates, then their records, back to the consumer.
    EventSourceMapping(
        function="stream-rescue", source="stream-failures", kind="queue", batch_size=5, max_concurrency=2
    ),
    EventSourceMapping(
        function="fanout-dispatcher",
        source=FANOUT_DISPATCHER_REPLAY.logical_id,
        kind="queue",
        max_concurrency=5,
    ),
    EventSourceMapping(
        function="tweets-cleanup", source=TWEETS_CLEANUP_REPLAY.logical_id, kind="queue", max_concurrency=5
    ),
    # Search: profiles straight from the users stream (its only reader); tweets through the queue the
    # dispatcher fills, which is also where stream-rescue replays the users stream's exhausted batches.
    EventSourceMapping(
        function="search-indexer",
        source="users",
        kind="stream",
        batch_size=100,
        max_batching_window_seconds=1,
        on_failure="stream-failures",
        replay=SEARCH_INDEX.logical_id,
    ),
    EventSourceMapping(
        function="search-indexer",
        source=SEARCH_INDEX.logical_id,
        kind="queue",
        batch_size=100,
        max_batching_window_seconds=1,
        max_concurrency=5,  # bulk requests a small domain absorbs without 429s
    ),
    # The media bucket's ObjectCreated events (S3 -> SQS): check the bytes, mark ready or rejected.
    EventSourceMapping(
        function="media-processor", source=MEDIA_UPLOADS.logical_id, kind="queue", max_concurrency=10
    ),
)

SPEC = ServiceSpec(
    tables=TABLES,
    queues=QUEUES,
    buckets=BUCKETS,
    functions=FUNCTIONS,
    routes=ROUTES,
    mappings=MAPPINGS,
    secrets=SECRETS,
    search_domains=(SearchDomain(logical_id="search", env_var="SEARCH_ENDPOINT"),),
)
"""The whole service. CDK and the local runtime both read this object and nothing else."""
