"""API routes of candidate generation (mounted under /api/)."""
from django.urls import path

from backend.candidates import views

urlpatterns = [
    path("datasets/<str:name>/candidates/rounds/", views.RoundListStart.as_view(), name="candidate-rounds"),
    path("datasets/<str:name>/candidates/rounds/<int:number>/", views.RoundDetail.as_view(),
         name="candidate-round"),
    path("datasets/<str:name>/candidates/relations/", views.RelationList.as_view(), name="candidate-relations"),
    path("datasets/<str:name>/candidates/sources/", views.SourceList.as_view(), name="candidate-sources"),
    path("datasets/<str:name>/candidates/sources/<str:source>/", views.SourceSettings.as_view(),
         name="candidate-source"),
    path("datasets/<str:name>/candidates/proposals/", views.ModelProposalList.as_view(),
         name="candidate-model-proposals"),
    path("datasets/<str:name>/candidates/predictions/", views.PredictionsIngest.as_view(),
         name="candidate-predictions"),
]
