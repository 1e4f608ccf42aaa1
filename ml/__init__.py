"""Multi-label video action recognition for Multi-Moments in Time releases.

A plain PyTorch library and command-line tools (``python -m ml.train``,
``python -m ml.evaluate``, ``python -m ml.predict``). It never imports the
platform (Django, ``backend``, ``workers``): it reads dataset release
directories and writes checkpoints, metrics and predictions. See
``ml/README.md``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
