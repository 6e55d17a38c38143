"""Settings. Every value can come from the environment (operations 1); the defaults run the
system on one machine with no server at all: SQLite under var/, the outbox SMS gateway and
a file-system Celery broker."""

from pathlib import Path

import django_stubs_ext
import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

# Django's generic classes (ModelAdmin[Clinic], ModelForm[Clinic], ...) take their type
# parameters at run time too, as the strict type check wants them written.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]", "testserver"]),
)

DEBUG = env.bool("DEBUG")
# Outside DEBUG every process refuses to start without a key of its own (rules 3.10): with
# the published development key anyone could sign sessions and delivery-report URLs.
# `make run` keeps a random one under var/; production sets it in the environment.
DEVELOPMENT_KEY = "insecure-local-only-key-change-me-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default="") or (DEVELOPMENT_KEY if DEBUG else "")
if not DEBUG and (SECRET_KEY == DEVELOPMENT_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random key of its own (32 characters or more) when "
        "DEBUG is off, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "core",
    "bookings",
    "consent",
    "reminders",
    "reporting",
]

MIDDLEWARE = [
    "config.observability.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.staff.SessionLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Repeated failed logins lock the person at that address for a while (django-axes), on the
# staff login and the admin's alike: LOGIN_FAILURE_LIMIT for one username from one address
# (colleagues behind a clinic's NAT are not locked with them, and nobody elsewhere can
# keep an admin locked), LOGIN_ADDRESS_FAILURE_LIMIT for one address whatever the names
# (core.lockout). A successful login resets its own count.
# Staff log in through the region's identity provider when one is configured (below);
# passwords are then the break-glass way in for regional admins only.
AUTHENTICATION_BACKENDS = [
    "core.lockout.PasswordLoginLockout",  # axes' guard, for password logins only
    "core.oidc.StaffOIDCBackend",
    "core.oidc.BreakGlassModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "core.lockout.PairAndAddressLockout"
AXES_USERNAME_CALLABLE = "core.lockout.login_username"
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=50)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "core.staff.client_address"
# Proxies in front of the web processes whose X-Forwarded-For we trust (0: none; the
# client's address is then REMOTE_ADDR). Rate limits and the lock-out count by it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# API request bodies larger than this are refused with 413 (rules 3.10); a FHIR
# transaction or batch Bundle (POST /fhir/) may be larger, up to its own limit.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
FHIR_BUNDLE_MAX_BYTES = env.int("FHIR_BUNDLE_MAX_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, FHIR_BUNDLE_MAX_BYTES)

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.site_header",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    )
else:
    # Keep connections instead of opening one per request (operations 3). Two ways:
    # - persistent connections (the default): each process keeps its connection for
    #   DB_CONN_MAX_AGE seconds and checks it is alive before reusing it. Safe everywhere:
    #   gunicorn's workers, Celery's prefork children, `dispatch_reminders`.
    # - a psycopg connection pool per process (DB_POOL_MAX_SIZE > 0, Django 5.2): for
    #   threaded servers. Not for Celery's prefork pool (a pool must not cross a fork).
    pool_max = env.int("DB_POOL_MAX_SIZE", default=0)
    if pool_max:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
            "max_size": pool_max,
            "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Prepared statements for the few hot statements that ask for one (`prepare=True` on
    # core.db's driver cursors: the SMS-status read, the dispatch loop's facts), so
    # PostgreSQL plans them once per connection instead of on every call. psycopg prepares
    # nothing while the threshold is None (Django's default); the ORM's statements carry
    # their values inline and are never repeated often enough to reach this one. Turn off
    # (DB_PREPARED_STATEMENTS=false) behind a PgBouncer in transaction mode before 1.21.
    if env.bool("DB_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Rate limits (guessing check-in links) live in the cache: with several web processes,
# production points CACHE_URL at Redis so they share one count.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},  # everyone's, break-glass admins' above all
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Login through the region's identity provider (OpenID Connect, SITHS eID) ------------
# Off while OIDC_RP_CLIENT_ID is empty. The person is matched to their staff user by the
# claim OIDC_HSA_ID_CLAIM (their HSA-id, set on the user in the admin); nobody is created.
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
# A one-time code (TOTP, `manage.py totp_enrol USERNAME`) besides the password for regional
# admins and superusers: on outside DEBUG, off only on a test installation (check --deploy
# reports it off otherwise, core.E002).
PASSWORD_LOGIN_TOTP = env.bool("PASSWORD_LOGIN_TOTP", default=not DEBUG)
# The provider's issuer identifier: an ID token whose `iss` differs is refused.
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
# How old (seconds since its `iat`) an ID token may be when it comes back to us.
OIDC_ID_TOKEN_MAX_AGE = env.int("OIDC_ID_TOKEN_MAX_AGE", default=600)
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid profile")
OIDC_HSA_ID_CLAIM = env.str("OIDC_HSA_ID_CLAIM", default="employeeHsaId")
OIDC_USE_PKCE = True
OIDC_CREATE_USER = False
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT_SECONDS", default=10.0)

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", "Svenska")]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise looks here even before collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production: STATICFILES_BACKEND=whitenoise.storage.CompressedManifestStaticFilesStorage
    # after `collectstatic`. The default needs no build step.
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND", default="django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- The API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.auth.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JsonParser"],
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SMS-påminnelser API",
    "DESCRIPTION": "Registry, bookings, e-service and status API of the SMS reminder system.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AppointmentStatusEnum": "bookings.models.AppointmentStatus",
        "MessageStatusEnum": "reminders.models.Status",
        "CaseStatusEnum": "consent.models.CaseStatus",
        "CaseActionEnum": "consent.models.CaseAction",
        "AccessLogActionEnum": "core.access_log.models.AccessLog.Action",
    },
}

# --- Celery: the broker carries ticks and hand-offs only ------------------------------
# A host name only so that kombu does not warn about its absence; the folders are the broker.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # The exchanges' table (kombu's default is ./control, in the working directory).
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- The product's own settings (operations 1) ---------------------------------------------
SMS_GATEWAY = env.str("SMS_GATEWAY", default="outbox")
# A test installation (staging, training): the outbox gateway with DEBUG off is then what
# it wants, not a mistake `check --deploy` reports (reminders.E006).
TEST_INSTALLATION = env.bool("TEST_INSTALLATION", default=False)

# Requests per minute (SPEC 5.4; 0 turns one off), answered 429 with Retry-After beyond:
# per API client (the booking system's bulk writes are a few hundred a second at most),
# per e-service submitter, and per staff user's reads of single patients (the patient
# page and the look-up; lists are not counted). Shared through CACHE_URL.
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=30000)
ESERVICE_RATE_LIMIT = env.int("ESERVICE_RATE_LIMIT", default=20)
STAFF_READ_RATE_LIMIT = env.int("STAFF_READ_RATE_LIMIT", default=120)
# Single-patient reads by one staff user in one day beyond which the auditors' page lists
# the user as reading unusually many patients.
STAFF_READ_ALERT_THRESHOLD = env.int("STAFF_READ_ALERT_THRESHOLD", default=200)
SMS_SENDER = env.str("SMS_SENDER", default="RegHalland")
ESERVICE_AUTO_APPLY = env.str("ESERVICE_AUTO_APPLY", default="off")
# The self check-in link's base; its length counts against the one-segment budget.
CHECKIN_BASE_URL = env.str("CHECKIN_BASE_URL", default="http://localhost:8000/c/")
# FHIR (contract 2): the region's own appointment-type codes for visit, phone and video, as
# `system|code=visit` pairs separated by `;` (e.g. Cosmic's visit types). An Appointment
# with none of these and no v3-ParticipationMode gets its reminder and no check-in SMS.
FHIR_CONTACT_TYPE_CODES = {
    pair.rpartition("=")[0].strip(): pair.rpartition("=")[2].strip()
    for pair in env.str("FHIR_CONTACT_TYPE_CODES", default="").split(";")
    if "=" in pair
}

# Logs (operations 3): JSON lines in production, readable text locally; every line carries
# the request id, the actor and the unit, and no line a personnummer or a phone number
# (config.observability masks them, whatever wrote the line).
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.observability.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "config.observability.JsonScrubbingFormatter"},
        "text": {"()": "config.observability.ScrubbingFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # httpx logs every request's URL at INFO, and a gateway's URL can hold a number.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # One line per request comes from config.observability; Django's own 4xx lines
        # would repeat it with the raw path.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
    },
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # Celery's lines go through the same handler

# --- Operations (operations 3) -------------------------------------------------------------
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
READYZ_BROKER_TIMEOUT = env.float("READYZ_BROKER_TIMEOUT", default=2.0)

# --- Staff sessions and transport (rules 3.10): shared clinic computers --------------------
# A session ends when the browser closes, after 30 minutes without a request, and 8 hours
# after login whatever happens (core.staff.SessionLimitMiddleware).
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Django's database sessions, read by a prepared statement on PostgreSQL (core/sessions.py).
SESSION_ENGINE = "core.sessions"
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
# The idle clock restarts when a request comes a minute or more after its last restart
# (core.staff.SessionLimitMiddleware), not with every request: a session is written at
# most once a minute, and ends after 29 to 30 idle minutes, never later.
SESSION_REFRESH_SECONDS = env.int("SESSION_REFRESH_SECONDS", default=60)
SESSION_MAX_SECONDS = env.int("SESSION_MAX_SECONDS", default=8 * 3600)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# Outside DEBUG: cookies only over HTTPS, HTTPS only (behind the region's TLS proxy, which
# says so in X-Forwarded-Proto), and browsers told so for a year.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
if env.bool("TRUST_X_FORWARDED_PROTO", default=not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
# A content security policy (django-csp): our own scripts and styles only, inline scripts
# only with the request's nonce, nothing framed, forms only to us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"

# --- SMS gateways -------------------------------------------------------------------------
ELKS46_USERNAME = env.str("ELKS46_USERNAME", default="")
ELKS46_PASSWORD = env.str("ELKS46_PASSWORD", default="")
ELKS46_API_URL = env.str("ELKS46_API_URL", default="https://api.46elks.com/a1")
SINCH_API_URL = env.str("SINCH_API_URL", default="https://eu.sms.api.sinch.com")
SINCH_SERVICE_PLAN_ID = env.str("SINCH_SERVICE_PLAN_ID", default="")
SINCH_API_TOKEN = env.str("SINCH_API_TOKEN", default="")
# Sending through a real gateway (rules 3.9): SMS in flight per dispatcher, SMS a second per
# gateway for all dispatchers (shared through CACHE_URL), how long one HTTP exchange may
# take, when a gateway that keeps refusing connections is set aside for the next one, and
# how long an SMS whose outcome is unknown waits for a report before it counts as failed.
SMS_MAX_IN_FLIGHT = env.int("SMS_MAX_IN_FLIGHT", default=16)
SMS_RATE_LIMIT = env.int("SMS_RATE_LIMIT", default=100)
SMS_HTTP_TIMEOUT = env.float("SMS_HTTP_TIMEOUT", default=10.0)
SMS_GATEWAY_DOWN_AFTER = env.int("SMS_GATEWAY_DOWN_AFTER", default=3)
SMS_GATEWAY_PAUSE = env.int("SMS_GATEWAY_PAUSE", default=60)
SMS_UNKNOWN_SETTLE_MINUTES = env.int("SMS_UNKNOWN_SETTLE_MINUTES", default=15)
# Days after which SMS texts and numbers, delivery-report payloads and e-service cases'
# free text and numbers are erased (rules 3.10); statuses, reasons, times and counts stay.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)
# The access log is not erased with them: it is kept at least this many years (HSLF-FS
# 2016:40 and the region's archive rules; `check --deploy` refuses fewer than five).
ACCESS_LOG_RETENTION_YEARS = env.int("ACCESS_LOG_RETENTION_YEARS", default=5)
# The auditor's alerts (consent/access/alerts.py): a staff member reading more different
# patients than this in one clock hour, and reads at a unit outside its opening hours.
AUDIT_ALERT_READS_PER_HOUR = env.int("AUDIT_ALERT_READS_PER_HOUR", default=30)
AUDIT_OPENING_HOURS = env.str("AUDIT_OPENING_HOURS", default="07:00-18:00")
AUDIT_OPENING_DAYS = env.str("AUDIT_OPENING_DAYS", default="1-5")  # ISO weekdays, 1 = Monday
# Where gateways can reach us (delivery-report webhooks).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000")
SMS_WEBHOOK_SECRET = env.str("SMS_WEBHOOK_SECRET", default="")
# Dispatch loop: messages claimed per batch, and how long a claim lasts unless its
# dispatcher renews it (a killed worker's claim is taken over after that).
DISPATCH_BATCH_SIZE = env.int("DISPATCH_BATCH_SIZE", default=500)
DISPATCH_CLAIM_TIMEOUT = env.int("DISPATCH_CLAIM_TIMEOUT", default=300)
DISPATCH_MAX_BATCHES_PER_TICK = env.int("DISPATCH_MAX_BATCHES_PER_TICK", default=40)
# Payment at self check-in (rules 3.5c): "desk" (the patient pays at the reception or by
# invoice) or "swish" (Swish m-commerce, over mutual TLS with the region's certificate from
# its bank; `check --deploy` checks the settings, operations 8).
CHECKIN_PAYMENT = env.str("CHECKIN_PAYMENT", default="desk")
SWISH_API_URL = env.str("SWISH_API_URL", default="https://cpc.getswish.net/swish-cpcapi")
SWISH_PAYEE_ALIAS = env.str("SWISH_PAYEE_ALIAS", default="")  # the region's Swish number
SWISH_CERT = env.str("SWISH_CERT", default="")  # PEM: our client certificate (and chain)
SWISH_KEY = env.str("SWISH_KEY", default="")  # PEM: its private key
SWISH_CA = env.str("SWISH_CA", default="")  # PEM: the CA that signed Swish's server certificate
SWISH_TIMEOUT = env.float("SWISH_TIMEOUT", default=10.0)  # seconds per call to Swish
# A request with no outcome read back this long after it was made ends as "no answer".
SWISH_ANSWER_WINDOW = env.int("SWISH_ANSWER_WINDOW", default=600)  # seconds
# Unknown check-in links one address may try before it must wait (guessing links).
CHECKIN_MAX_MISSES = env.int("CHECKIN_MAX_MISSES", default=10)
CHECKIN_MISS_WINDOW = env.int("CHECKIN_MISS_WINDOW", default=600)  # seconds

# --- Fetching bookings from the booking system's FHIR server (SPEC 5.4; operations) --------
# Off while FHIR_PULL_BASE_URL is empty. SMART Backend Services: client credentials with
# FHIR_PULL_CLIENT_SECRET, or private_key_jwt with FHIR_PULL_PRIVATE_KEY (a PEM file's path).
FHIR_PULL_BASE_URL = env.str("FHIR_PULL_BASE_URL", default="").rstrip("/")
FHIR_PULL_TOKEN_URL = env.str("FHIR_PULL_TOKEN_URL", default="")
FHIR_PULL_CLIENT_ID = env.str("FHIR_PULL_CLIENT_ID", default="")
FHIR_PULL_CLIENT_SECRET = env.str("FHIR_PULL_CLIENT_SECRET", default="")
FHIR_PULL_PRIVATE_KEY = env.str("FHIR_PULL_PRIVATE_KEY", default="")
FHIR_PULL_KEY_ID = env.str("FHIR_PULL_KEY_ID", default="")
FHIR_PULL_SCOPE = env.str("FHIR_PULL_SCOPE", default="system/Appointment.rs system/Patient.rs")
FHIR_PULL_INTERVAL = env.int("FHIR_PULL_INTERVAL", default=60)  # seconds between polls
# How far ahead the poll lists bookings: the reminder window (reminders go 48 h before).
FHIR_PULL_WINDOW = env.int("FHIR_PULL_WINDOW", default=7 * 24 * 3600)
FHIR_PULL_PAGE_SIZE = env.int("FHIR_PULL_PAGE_SIZE", default=100)
# Threads that apply a poll's resources, each with its own database connection; 1: in order.
FHIR_PULL_WORKERS = env.int("FHIR_PULL_WORKERS", default=4)
# A full listing of the window (and the reads of what vanished from it) at least this often;
# the polls between ask only for what changed, where the server offers _lastUpdated.
FHIR_PULL_FULL_SWEEP = env.int("FHIR_PULL_FULL_SWEEP", default=3600)
FHIR_PULL_TIMEOUT = env.float("FHIR_PULL_TIMEOUT", default=30.0)
FHIR_PULL_RETRIES = env.int("FHIR_PULL_RETRIES", default=4)
FHIR_PULL_MAX_WAIT = env.float("FHIR_PULL_MAX_WAIT", default=30.0)  # longest Retry-After
# The alert FhirPullStale fires when the last successful poll is older than this.
FHIR_PULL_ALERT_AFTER = env.int("FHIR_PULL_ALERT_AFTER", default=900)
