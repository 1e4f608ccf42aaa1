from backend.candidates.models import Source
from backend.candidates.neighbours import guessed_synsets, related_actions_list, shipped_vocabulary
from backend.common.commands import PlatformCommand
from backend.videos.selectors import dataset_get
from backend.vocabulary.models import Action


class Command(PlatformCommand):
    help = (
        "Print the actions related to ACTION by WordNet (node distance) or Word2Vec (cosine similarity), "
        "in a dataset's vocabulary or the shipped 292-action one, for curators to inspect."
    )

    def add_arguments(self, parser):
        parser.add_argument("action")
        parser.add_argument("--source", required=True, choices=[Source.WORDNET, Source.WORD2VEC])
        parser.add_argument("--dataset", help="use this dataset's actions and curated synsets")
        parser.add_argument("--limit", type=int)
        parser.add_argument("--distance", type=int, help="WordNet node distance d (default 2)")
        parser.add_argument("--threshold", type=float, help="Word2Vec similarity threshold (default 0.6)")

    def handle(self, *args, **opts):
        if opts["dataset"]:
            dataset = dataset_get(name=opts["dataset"])
            stored = dict(Action.objects.filter(dataset=dataset, status=Action.Status.ACTIVE)
                          .values_list("name", "synsets"))
            where = f"dataset {dataset.name!r}"
        else:
            stored = dict.fromkeys(shipped_vocabulary(), [])
            where = "the shipped 292-action vocabulary"
        actions = stored
        if opts["source"] == Source.WORDNET:
            # Curated or stored senses win; the others are guessed here (and not stored).
            guesses = guessed_synsets([name for name, synsets in stored.items() if not synsets])
            actions = {name: synsets or guesses[name] for name, synsets in stored.items()}
        related = related_actions_list(
            action=opts["action"], source=opts["source"], actions=actions, where=where, limit=opts["limit"],
            distance=opts["distance"], threshold=opts["threshold"],
        )
        if opts["source"] == Source.WORDNET:
            senses = ", ".join(actions[opts["action"]]) or "none"
            self.stdout.write(f"{opts['action']} (WordNet senses: {senses}) in {where}:")
            rows = [f"  {name:<30} distance {int(score)}" for name, score in related]
        else:
            self.stdout.write(f"{opts['action']} (Word2Vec) in {where}:")
            rows = [f"  {name:<30} similarity {score:.3f}" for name, score in related]
        self.stdout.write("\n".join(rows) if rows else "  (no related action)")
