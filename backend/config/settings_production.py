"""Production hardening on top of ``settings``: HTTPS only, secure cookies, no debug.

Secrets still come from the environment (``DJANGO_SECRET_KEY`` must be set: the development
default is refused here).
"""
from backend.config.env import env_bool, env_int, env_required
from backend.config.settings import *  # noqa: F401,F403

DEBUG = False
SECRET_KEY = env_required("DJANGO_SECRET_KEY")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
