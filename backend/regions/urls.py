"""Routes of the regions app (mounted at the site root; API routes under api/)."""
urlpatterns: list = []
