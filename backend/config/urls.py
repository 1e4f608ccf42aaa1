from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.static import serve
from django_ratelimit.decorators import ratelimit
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backend.annotation import gold_views as gold
from backend.annotation import label_views as labels
from backend.annotation import views as work
from backend.common.views import Health, JobDetail
from backend.releases import views as releases
from backend.videos import views as videos
from backend.vocabulary import views as vocabulary

api = [
    path("health/", Health.as_view(), name="health"),
    path("jobs/<uuid:pk>/", JobDetail.as_view(), name="job-detail"),
    path("datasets/", videos.DatasetListCreate.as_view(), name="dataset-list"),
    path("datasets/<str:name>/", videos.DatasetDetail.as_view(), name="dataset-detail"),
    path("datasets/<str:name>/videos/", videos.VideoList.as_view(), name="video-list"),
    path("datasets/<str:name>/roles/", videos.DatasetRoleListSet.as_view(), name="dataset-roles"),
    path("datasets/<str:name>/roles/<str:username>/", videos.DatasetRoleDetail.as_view(), name="dataset-role"),
    path("datasets/<str:name>/imports/", videos.ImportStart.as_view(), name="import-start"),
    path("datasets/<str:name>/actions/", vocabulary.ActionListCreate.as_view(), name="action-list"),
    path("datasets/<str:name>/actions/<int:pk>/", vocabulary.ActionDetail.as_view(), name="action-detail"),
    path("datasets/<str:name>/actions/<int:pk>/rename/", vocabulary.ActionRename.as_view(), name="action-rename"),
    path("datasets/<str:name>/actions/<int:pk>/merge/", vocabulary.ActionMerge.as_view(), name="action-merge"),
    path("datasets/<str:name>/actions/<int:pk>/remove/", vocabulary.ActionRemove.as_view(), name="action-remove"),
    path("datasets/<str:name>/vocabulary/migrate/", vocabulary.VocabularyMigrate.as_view(),
         name="vocabulary-migrate"),
    path("datasets/<str:name>/vocabulary/events/", vocabulary.VocabularyEventList.as_view(),
         name="vocabulary-events"),
    path("datasets/<str:name>/labels/", labels.LabelList.as_view(), name="label-list"),
    path("datasets/<str:name>/labels/correct/", labels.LabelBulkCorrect.as_view(), name="label-correct"),
    path("datasets/<str:name>/labels/queue/", labels.LabelQueue.as_view(), name="label-queue"),
    path("datasets/<str:name>/labels/<int:pk>/", labels.LabelDetail.as_view(), name="label-detail"),
    path("datasets/<str:name>/gold/", gold.GoldList.as_view(), name="gold-list"),
    path("datasets/<str:name>/gold/upload/", gold.GoldUpload.as_view(), name="gold-upload"),
    path("datasets/<str:name>/gold/promote/", gold.GoldPromote.as_view(), name="gold-promote"),
    path("datasets/<str:name>/gold/<int:pk>/retire/", gold.GoldRetire.as_view(), name="gold-retire"),
    path("work/<str:name>/sets/", work.Assign.as_view(), name="work-assign"),
    path("work/sets/<uuid:set_id>/", work.SetDetail.as_view(), name="work-set"),
    path("work/sets/<uuid:set_id>/submit/", work.Submit.as_view(), name="work-submit"),
    path("work/media/<str:token>/", work.media, name="work-media"),
    path("datasets/<str:name>/releases/", releases.ReleaseListCreate.as_view(), name="release-list"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

# Sign-in is throttled per client address (django-ratelimit): repeated password guesses get 403.
login = ratelimit(key="ip", rate=settings.MMIT_LOGIN_RATE, method="POST", block=True)(admin.site.login)

urlpatterns = [
    # the front door (and the admin's "View site"): the dashboard, which sends a signed-out visitor to sign in
    path("", RedirectView.as_view(pattern_name="dashboard:home", permanent=False), name="home"),
    path("favicon.ico", RedirectView.as_view(url=static("app/favicon.svg"), permanent=True)),
    path("admin/login/", login, name="login"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("api/", include("backend.candidates.urls")),
    path("", include("backend.mturk.urls")),
    path("", include("backend.regions.urls")),
    path("annotate/<str:name>/", work.annotate_page, name="annotate"),
    path("dashboard/", include("backend.dashboard.urls")),
]

if not settings.AWS_STORAGE_BUCKET_NAME:
    # Local media (the embedded default), for staff only: annotators reach clips through their
    # set's own opaque media URLs, never through storage keys.
    urlpatterns.append(
        path("media/<path:path>", staff_member_required(serve), {"document_root": settings.MEDIA_ROOT})
    )
