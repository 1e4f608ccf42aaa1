from django.urls import path

from backend.dashboard import annotator_views, campaign_views, gold_views, review_views, views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("<str:name>/", views.overview, name="overview"),
    path("<str:name>/workers/", views.workers, name="workers"),
    path("<str:name>/annotators/", annotator_views.annotators, name="annotators"),
    path("<str:name>/annotators/invite/", annotator_views.annotators_invite, name="annotators-invite"),
    path("<str:name>/annotators/<int:link_id>/revoke/", annotator_views.annotators_revoke, name="annotators-revoke"),
    path("<str:name>/workers/<int:worker_id>/", views.worker, name="worker"),
    path("<str:name>/workers/<int:worker_id>/unblock/", views.workers_unblock, name="worker-unblock"),
    path("<str:name>/labels/", views.labels, name="labels"),
    path("<str:name>/review/", review_views.review, name="review"),
    path("<str:name>/labels/correct/", views.labels_correct_bulk, name="labels-correct"),
    path("<str:name>/labels/<int:label_id>/correct/", views.labels_correct, name="label-correct"),
    path("<str:name>/videos/<int:video_id>/", views.video, name="video"),
    path("<str:name>/releases/", views.releases, name="releases"),
    path("<str:name>/releases/export/", views.releases_export, name="release-export"),
    path("<str:name>/candidates/", views.candidates, name="candidates"),
    path("<str:name>/candidates/start/", views.candidates_round, name="candidates-start"),
    path("<str:name>/campaign/", campaign_views.campaign, name="campaign"),
    path("<str:name>/campaign/save/", campaign_views.campaign_update, name="campaign-save"),
    path("<str:name>/campaign/pause/", campaign_views.campaign_control, {"action": "pause"}, name="campaign-pause"),
    path("<str:name>/campaign/resume/", campaign_views.campaign_control, {"action": "resume"},
         name="campaign-resume"),
    path("<str:name>/gold/", gold_views.gold, name="gold"),
    path("<str:name>/gold/upload/", gold_views.gold_upload, name="gold-upload"),
    path("<str:name>/gold/promote/", gold_views.gold_promote_label, name="gold-promote"),
    path("<str:name>/gold/<int:gold_id>/retire/", gold_views.gold_retire_one, name="gold-retire"),
    path("<str:name>/models/", views.models, name="models"),
    path("<str:name>/models/retrain/", views.models_retrain, name="retrain"),
    path("<str:name>/interpretation/", views.interpretation, name="interpretation"),
    path("<str:name>/mturk/", views.mturk, name="mturk"),
    path("<str:name>/mturk/publish/", views.mturk_publish, name="mturk-publish"),
    path("<str:name>/interpretation/<int:run_id>/dissect/", views.interpretation_dissect, name="dissect"),
]
