"""recsys: a hybrid music recommender.

The package is deliberately light at import time: heavy dependencies (librosa,
lightgbm, implicit) are imported by the modules that need them, so the CLI starts fast.
"""

__version__ = "0.1.0"
