"""Routes of the mturk app (mounted at the site root; API routes under api/)."""
urlpatterns: list = []
