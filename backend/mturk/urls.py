"""Routes of the mturk app (mounted at the site root): the staff API under api/mturk/ and the set
pages that MTurk's ExternalQuestion frames (Yes/No and drawing HITs)."""
from django.urls import include, path

from backend.mturk import views

api = [
    path("batches/", views.BatchListCreate.as_view(), name="mturk-batch-list"),
    path("batches/<uuid:public_id>/", views.BatchDetail.as_view(), name="mturk-batch-detail"),
    path("batches/<uuid:public_id>/publish/", views.BatchPublish.as_view(), name="mturk-batch-publish"),
    path("batches/<uuid:public_id>/hits/", views.BatchHits.as_view(), name="mturk-batch-hits"),
    path("hits/<str:ref>/", views.HitDetail.as_view(), name="mturk-hit-detail"),
    path("workers/", views.WorkerList.as_view(), name="mturk-worker-list"),
    path("workers/notify/", views.WorkerNotify.as_view(), name="mturk-worker-notify"),
    path("workers/<str:worker_id>/", views.WorkerDetail.as_view(), name="mturk-worker-detail"),
    path("workers/<str:worker_id>/block/", views.WorkerBlock.as_view(), name="mturk-worker-block"),
    path("workers/<str:worker_id>/unblock/", views.WorkerUnblock.as_view(), name="mturk-worker-unblock"),
    path("workers/<str:worker_id>/bonus/", views.WorkerBonus.as_view(), name="mturk-worker-bonus"),
    path("review/", views.ReviewStart.as_view(), name="mturk-review"),
]

urlpatterns = [
    path("api/mturk/", include(api)),
    path("mturk/annotate/<str:name>/", views.mturk_annotate_page, name="mturk-annotate"),
    path("mturk/draw/<str:name>/", views.mturk_draw_page, name="mturk-draw"),
]
