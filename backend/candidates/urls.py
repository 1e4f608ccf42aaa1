"""API routes of candidate generation (mounted under /api/)."""
urlpatterns: list = []
