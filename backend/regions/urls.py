"""Routes of the regions app (mounted at the site root): the worker API and the curators' API
under api/regions/, the drawing page under regions/."""
from django.urls import path

from backend.regions import views

urlpatterns = [
    path("api/regions/work/<str:name>/sets/", views.DrawAssign.as_view(), name="regions-work-assign"),
    path("api/regions/work/sets/<uuid:set_id>/", views.DrawSetDetail.as_view(), name="regions-work-set"),
    path("api/regions/work/sets/<uuid:set_id>/submit/", views.DrawSubmit.as_view(), name="regions-work-submit"),
    path("api/regions/work/media/<str:token>/", views.draw_media, name="regions-work-media"),
    path("api/regions/exports/", views.ExportStart.as_view(), name="regions-export"),
    path("api/regions/<str:name>/frames/", views.FrameSelect.as_view(), name="regions-frames"),
    path("api/regions/<str:name>/advance/", views.Advance.as_view(), name="regions-advance"),
    path("api/regions/<str:name>/stats/", views.Stats.as_view(), name="regions-stats"),
    path("api/regions/<str:name>/gold/", views.GoldCreate.as_view(), name="regions-gold"),
    path("regions/<str:name>/", views.draw_page, name="regions-draw"),
]
