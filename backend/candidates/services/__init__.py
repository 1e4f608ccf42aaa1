"""Writes of candidate generation (the entry points other apps and tasks call).

- ``rounds``: ``candidate_round_run`` -- judge, discover, pilot, roll out, record.
- ``relations``: judging relations and sources by harvest, discovering relations;
  ``source_settings_update`` -- a source's per-dataset setting (the model's ``top_k``).
- ``proposals``: the set-based SQL that writes candidates and their questions.
- ``predictions``: ``predictions_ingest`` -- the model top-1 source's input.
- ``synsets``: ``action_synsets_guess`` -- the automatic WordNet senses of the vocabulary;
  ``action_definitions_generate`` -- definitions from their WordNet glosses.
"""
from backend.candidates.services.predictions import predictions_check, predictions_ingest, predictions_ingest_start
from backend.candidates.services.relations import source_settings_update
from backend.candidates.services.rounds import (
    candidate_round_resume,
    candidate_round_run,
    candidate_round_start,
    candidate_sources_validate,
)
from backend.candidates.services.synsets import action_definitions_generate, action_synsets_guess

__all__ = [
    "action_definitions_generate",
    "action_synsets_guess",
    "candidate_round_resume",
    "candidate_round_run",
    "candidate_round_start",
    "candidate_sources_validate",
    "predictions_check",
    "predictions_ingest",
    "predictions_ingest_start",
    "source_settings_update",
]
