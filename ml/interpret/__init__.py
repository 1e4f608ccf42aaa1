"""Interpreting multi-label action models (Sections 5.1, 5.2.2 and 7 of the paper).

* ``mcam``: multi-label class activation maps; ``render``: drawing them (Fig. 6).
* ``broden``: Broden-format datasets (Broden, the Action Regions export, merged).
* ``quantile``: per-unit streaming quantiles; ``activations``: layer maps of images.
* ``netdissect``: Network Dissection; ``analysis``, ``figures``, ``report``: its
  outputs (units.csv, summary.json, Table 5, Figs. 7, 9, 11, HTML).
* ``probe``: the unit-to-class probe (Section 7.2.2).
* ``loading``, ``inputs``: checkpoints and media for the command-line tools
  (``python -m ml.mcam``, ``ml.netdissect``, ``ml.probe_unit``);
  ``synthetic``: planted Broden datasets for tests and benchmarks.

Like the rest of ``ml``, nothing here imports Django, ``backend`` or ``workers``.
"""
