"""Settings for every deployment kind, read from the environment in one place.

With no environment at all the platform runs on its embedded default: SQLite under ``var/``,
a filesystem Celery broker under ``var/broker/`` and media under ``var/media/``.
``DATABASE_URL``, ``REDIS_URL`` and ``AWS_STORAGE_BUCKET_NAME`` switch to PostgreSQL, Redis and
S3. ``settings_production`` adds the HTTPS hardening on top of this module.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import dj_database_url

from backend.config.env import env_bool, env_int, env_list, env_paths, env_str, env_str_or_recorded

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(env_str("MMIT_VAR_DIR", str(BASE_DIR / "var"))).resolve()

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me-for-any-real-deployment")
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# The public base URL of the site (MTurk's ExternalQuestion and signed links need absolute URLs).
# Unset, it is the address `manage.py demo` last served on (recorded under var/), so the links
# other commands print (worker_link) reach the running demo whatever its port.
SITE_URL = env_str_or_recorded("MMIT_SITE_URL", VAR_DIR / "site-url", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "backend.common",
    "backend.vocabulary",
    "backend.videos",
    "backend.labels",
    "backend.crowd",
    "backend.annotation",
    "backend.candidates",
    "backend.mturk",
    "backend.regions",
    "backend.releases",
    "backend.training",
    "backend.campaigns",
    "backend.dashboard",
    "backend.simulation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.common.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "backend.config.urls"
WSGI_APPLICATION = "backend.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is the embedded default; the web server and the Celery worker share it, so writers
# take the lock up front (IMMEDIATE) and wait for each other instead of failing with
# "database is locked", and WAL lets readers run beside a writer.
_SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
_DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        _DATABASE_URL,
        # A server connection is kept for a minute rather than opened for every request: opening
        # one costs PostgreSQL more than a whole set submission. A connection lost meanwhile (a
        # database restart) fails one request with a retryable 503 (common/middleware.py);
        # DATABASE_CONN_HEALTH_CHECKS=1 checks it first instead, a round trip per request.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0 if _DATABASE_URL.startswith("sqlite") else 60),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", False),
    )
}
# The submit path prepares its statements once per server connection (backend/common/prepared.py).
# Set to 0 behind a pooler that gives each transaction a different server connection (PgBouncer
# in transaction mode).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
DATABASES["default"].setdefault("OPTIONS", {}).update(
    _SQLITE_OPTIONS if DATABASES["default"]["ENGINE"].endswith("sqlite3") else {}
)
# A file (not memory) for SQLite test databases, so a real Celery worker process started by the
# integration tests can open the same database.
DATABASES["default"]["TEST"] = {
    "NAME": env_str("DATABASE_TEST_NAME", "")
    or (str(VAR_DIR / "test-db.sqlite3") if DATABASES["default"]["ENGINE"].endswith("sqlite3") else None)
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [("app", BASE_DIR / "frontend")]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MMIT_MEDIA_ROOT", str(VAR_DIR / "media"))).resolve()

# Storage: local media by default, S3 when a bucket is configured (django-storages).
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", env_str("AWS_DEFAULT_REGION", "us-east-1"))
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_S3_FILE_OVERWRITE = False
STORAGES = {
    "default": (
        {"BACKEND": "storages.backends.s3.S3Storage"}
        if AWS_STORAGE_BUCKET_NAME
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport under var/ so
# that `make demo` runs a real worker process with no server to install.
REDIS_URL = env_str("REDIS_URL")
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    # An unacknowledged task (its worker died) is handed to another worker after this long. It must
    # outlast the longest task (imports and exports may run 6 h), or a slow task would be handed out
    # twice while still running; every task is idempotent, so that would cost time, not data.
    {"visibility_timeout": env_int("MMIT_BROKER_VISIBILITY_TIMEOUT", 7 * 3600)}
    if REDIS_URL
    else {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Declared once, in workers/routes.py, for the workers' app and for the producer that backend code
# sends through (backend/common/background.py); a name here, so the settings import no task.
CELERY_TASK_ROUTES = ("workers.routes.route",)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# Throttle counters and other short-lived state: Redis when configured, else per-process memory.
CACHES = {
    "default": (
        {"BACKEND": "backend.common.cache.SharedClientRedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    # staff only, and the role each route needs in its dataset (viewer < reviewer < curator)
    "DEFAULT_PERMISSION_CLASSES": ["backend.videos.access.DatasetRolePermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "backend.common.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "submit": env_str("MMIT_THROTTLE_SUBMIT", "120/min"),
        "login": env_str("MMIT_THROTTLE_LOGIN", "20/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Multi-Moments platform API",
    "DESCRIPTION": "Datasets, videos, vocabulary, annotation and releases.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets are served from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Request bodies: anything larger is refused with 413 before a view sees it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MMIT_MAX_BODY_BYTES", 1_048_576)

# Imports read only below these roots (folders, manifests); S3 prefixes are not affected.
MMIT_IMPORT_ROOTS = env_paths(
    "MMIT_IMPORT_ROOTS", [VAR_DIR / "imports", Path(tempfile.gettempdir()).resolve()]
)
MMIT_IMPORT_BATCH_SIZE = env_int("MMIT_IMPORT_BATCH_SIZE", 200)
# Rows per chunk of an import job: each chunk is one Celery task, so several workers share a large import.
MMIT_IMPORT_CHUNK_ROWS = env_int("MMIT_IMPORT_CHUNK_ROWS", 1000)
MMIT_CACHE_DIR = Path(env_str("MMIT_CACHE_DIR", str(VAR_DIR / "cache"))).resolve()
MMIT_VECTORS_PATH = env_str("MMIT_VECTORS_PATH") or None
# Candidate rounds: each MMIT_CANDIDATE_<FIELD> sets a default of backend.candidates.policy.RoundPolicy
# (a curator may still override the threshold, pilot size and cap per round).
MMIT_CANDIDATE_HARVEST_THRESHOLD = float(env_str("MMIT_CANDIDATE_HARVEST_THRESHOLD", "0.2"))
MMIT_CANDIDATE_PILOT_SIZE = env_int("MMIT_CANDIDATE_PILOT_SIZE", 50)
MMIT_CANDIDATE_PER_VIDEO_CAP = env_int("MMIT_CANDIDATE_PER_VIDEO_CAP", 1)
MMIT_CANDIDATE_JUDGED_FRACTION = float(env_str("MMIT_CANDIDATE_JUDGED_FRACTION", "0.9"))
MMIT_CANDIDATE_WORDNET_START_DISTANCE = env_int("MMIT_CANDIDATE_WORDNET_START_DISTANCE", 1)
MMIT_CANDIDATE_WORDNET_MAX_DISTANCE = env_int("MMIT_CANDIDATE_WORDNET_MAX_DISTANCE", 3)
MMIT_CANDIDATE_WORD2VEC_THRESHOLD = float(env_str("MMIT_CANDIDATE_WORD2VEC_THRESHOLD", "0.6"))
MMIT_CANDIDATE_WORD2VEC_LIMIT = env_int("MMIT_CANDIDATE_WORD2VEC_LIMIT", 10)
MMIT_CANDIDATE_CHUNK_VIDEOS = env_int("MMIT_CANDIDATE_CHUNK_VIDEOS", 50_000)
MMIT_CANDIDATE_WORKERS = env_int("MMIT_CANDIDATE_WORKERS", 2)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("MMIT_LOG_LEVEL", "INFO")},
    # gensim logs every load and save of the word vectors at INFO: not news for a platform log
    "loggers": {"django.db.backends": {"level": "WARNING"}, "gensim": {"level": "WARNING"}},
}

# Quality control (Section 3.1): a worker is blocked after this many refused submissions among
# their latest graded ones (the window, at most 62; 0 counts every refusal since the last unblock),
# or when gold accuracy is under the floor over enough gold answers; the early rule catches spammers.
MMIT_BLOCK_AFTER_REFUSALS = env_int("MMIT_BLOCK_AFTER_REFUSALS", 3)
MMIT_BLOCK_REFUSAL_WINDOW = env_int("MMIT_BLOCK_REFUSAL_WINDOW", 20)
MMIT_BLOCK_GOLD_MIN = env_int("MMIT_BLOCK_GOLD_MIN", 20)
MMIT_BLOCK_GOLD_ACCURACY = float(env_str("MMIT_BLOCK_GOLD_ACCURACY", "0.7"))
MMIT_BLOCK_EARLY_GOLD_MIN = env_int("MMIT_BLOCK_EARLY_GOLD_MIN", 6)
MMIT_BLOCK_EARLY_ACCURACY = float(env_str("MMIT_BLOCK_EARLY_ACCURACY", "0.55"))
# Counters live in the cache (Redis in production): if it is down, sign-in is not blocked by it.
RATELIMIT_FAIL_OPEN = True
# Sign-in attempts per client address (django-ratelimit syntax).
MMIT_LOGIN_RATE = env_str("MMIT_LOGIN_RATE", "10/m")
# django-ratelimit counts in the cache. Without Redis (the embedded single-machine default) the
# cache is per process, which django-ratelimit flags; with REDIS_URL its checks apply in full.
SILENCED_SYSTEM_CHECKS = [] if REDIS_URL else ["django_ratelimit.E003", "django_ratelimit.W001"]
# Signed annotator links (in-house provider) expire after this many seconds.
MMIT_WORKER_LINK_MAX_AGE = env_int("MMIT_WORKER_LINK_MAX_AGE", 7 * 24 * 3600)

# Amazon Mechanical Turk (credentials never here: boto3's own chain supplies them).
MMIT_MTURK_SANDBOX = env_bool("MMIT_MTURK_SANDBOX", True)  # False: the production requester endpoint
MMIT_MTURK_REGION = env_str("MMIT_MTURK_REGION", "us-east-1")
# Replaces both requester endpoints (sandbox and production), e.g. a local stand-in in tests.
MMIT_MTURK_ENDPOINT_URL = env_str("MMIT_MTURK_ENDPOINT_URL", "")
MMIT_MTURK_MAX_ATTEMPTS = env_int("MMIT_MTURK_MAX_ATTEMPTS", 6)  # retries of throttled/transient calls
MMIT_MTURK_BACKOFF_BASE = float(env_str("MMIT_MTURK_BACKOFF_BASE", "0.5"))
MMIT_MTURK_BACKOFF_MAX = float(env_str("MMIT_MTURK_BACKOFF_MAX", "20"))
MMIT_MTURK_MIN_APPROVAL_RATE = env_int("MMIT_MTURK_MIN_APPROVAL_RATE", 95)  # 0 disables the requirement
MMIT_MTURK_LOCALES = env_list("MMIT_MTURK_LOCALES", ["US"])
MMIT_MTURK_BLOCK_QUALIFICATION_NAME = env_str("MMIT_MTURK_BLOCK_QUALIFICATION_NAME", "MMIT soft block")
MMIT_MTURK_HIT_LIFETIME = env_int("MMIT_MTURK_HIT_LIFETIME", 7 * 24 * 3600)
MMIT_MTURK_AUTO_APPROVAL_DELAY = env_int("MMIT_MTURK_AUTO_APPROVAL_DELAY", 3 * 24 * 3600)
MMIT_MTURK_FRAME_HEIGHT = env_int("MMIT_MTURK_FRAME_HEIGHT", 800)
MMIT_MTURK_FRAME_ANCESTORS = env_list(
    "MMIT_MTURK_FRAME_ANCESTORS",
    ["https://worker.mturk.com", "https://www.mturk.com", "https://workersandbox.mturk.com"],
)
MMIT_MTURK_SUBMIT_ORIGINS = env_list(
    "MMIT_MTURK_SUBMIT_ORIGINS", ["https://www.mturk.com", "https://workersandbox.mturk.com"]
)
MMIT_MTURK_HARD_BLOCK_AFTER_REJECTIONS = env_int("MMIT_MTURK_HARD_BLOCK_AFTER_REJECTIONS", 3)
MMIT_MTURK_REJECT_GRACE_SECONDS = env_int("MMIT_MTURK_REJECT_GRACE_SECONDS", 600)

# Retraining: a run that has reported no progress (its progress file, metrics or predictions) for
# this many seconds is stopped and marked failed. There is no limit on its total time.
MMIT_TRAIN_TIMEOUT = env_int("MMIT_TRAIN_TIMEOUT", 3600)
# How often a worker looks at the files of the run it follows.
MMIT_TRAIN_POLL_SECONDS = env_int("MMIT_TRAIN_POLL_SECONDS", 5)
# Retraining on an `ml` worker without a GPU, when the run does not name a device: "small" trains a
# small CPU model that finishes in minutes, "refuse" fails the run saying how to start a GPU worker,
# "full" trains the configuration as given.
MMIT_TRAIN_WITHOUT_GPU = env_str("MMIT_TRAIN_WITHOUT_GPU", "small")
# Decoded-clip cache (python -m ml.clip_cache): a release's videos decoded once, before its first
# run, into <release>/clip-cache/, and read by every epoch and run on that release. "auto" builds
# JPEG frames on a worker with a GPU and none on a CPU-only worker (PyAV decodes each epoch, as
# before); "jpeg" or "raw" (uncompressed, ~14x the disk, least CPU) always; "off" never.
MMIT_CLIP_CACHE = env_str("MMIT_CLIP_CACHE", "auto")
# Clips of each finished run rendered with multi-label CAM for the dashboard's gallery.
MMIT_MCAM_GALLERY = env_int("MMIT_MCAM_GALLERY", 6)

# Action Regions (Section 5.2.1).
MMIT_REGIONS_FRAMES_PER_ACTION = env_int("MMIT_REGIONS_FRAMES_PER_ACTION", 500)  # centre frames per action (K)
MMIT_REGIONS_VISIBLE_ROUNDS = env_int("MMIT_REGIONS_VISIBLE_ROUNDS", 2)  # independent Yes/No rounds (min 2)
MMIT_REGIONS_DRAW_ROUNDS = env_int("MMIT_REGIONS_DRAW_ROUNDS", 3)  # drawings before consensus
MMIT_REGIONS_DRAW_MAX_ROUNDS = env_int("MMIT_REGIONS_DRAW_MAX_ROUNDS", 5)
MMIT_REGIONS_MATCH_IOU = float(env_str("MMIT_REGIONS_MATCH_IOU", "0.5"))  # boxes of different rounds agree
MMIT_REGIONS_MIN_AGREEMENT = env_int("MMIT_REGIONS_MIN_AGREEMENT", 2)
MMIT_REGIONS_GOLD_IOU = float(env_str("MMIT_REGIONS_GOLD_IOU", "0.5"))
MMIT_REGIONS_GOLD_EXTRA_BOXES = env_int("MMIT_REGIONS_GOLD_EXTRA_BOXES", 1)
# more than this many missed gold images refuse a drawing attempt; 1 is the Yes/No engine's rule (Section 3.1)
MMIT_REGIONS_GOLD_MAX_MISSED = env_int("MMIT_REGIONS_GOLD_MAX_MISSED", 1)
MMIT_REGIONS_SET_SIZE = env_int("MMIT_REGIONS_SET_SIZE", 10)
MMIT_REGIONS_MAX_BOXES = env_int("MMIT_REGIONS_MAX_BOXES", 10)
MMIT_REGIONS_MIN_BOX_PX = float(env_str("MMIT_REGIONS_MIN_BOX_PX", "4"))
MMIT_REGIONS_IMAGE_FORMAT = env_str("MMIT_REGIONS_IMAGE_FORMAT", "jpeg")
MMIT_REGIONS_EXPORT_DIR = Path(env_str("MMIT_REGIONS_EXPORT_DIR", str(VAR_DIR / "exports" / "regions")))
MMIT_REGIONS_BRODEN_SIZE = env_int("MMIT_REGIONS_BRODEN_SIZE", 224)
# Summaries (backend/common/summaries.py): counts a page shows are counted live while a count reads
# fewer rows than this; above it they are stored, and the beat job recounts them every
# MMIT_SUMMARY_REFRESH_SECONDS (pages say when they were counted).
MMIT_SUMMARY_LIVE_ROWS = env_int("MMIT_SUMMARY_LIVE_ROWS", 200_000)
MMIT_SUMMARY_REFRESH_SECONDS = env_int("MMIT_SUMMARY_REFRESH_SECONDS", 60)
