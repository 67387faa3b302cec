"""The training history every loop of the course returns and every curve plot reads (one type for both tracks).

A history is a plain dict of equal-length lists, one entry per finished epoch:

>>> history = new_history()
>>> append_epoch(history, epoch=1, train_loss=0.9, train_acc=0.7, val_loss=1.0, val_acc=0.65)
>>> history["val_acc"]
[0.65]
>>> sorted(history) == sorted(HISTORY_KEYS)
True

Training loops take ``on_epoch_end=callable(history)``, called after each epoch with the history so far
(``course_utils.widgets.TrainingDashboard().update`` is such a callable). Used by the NumPy track
(``course_utils.reference.sequential.Sequential.fit``) and the PyTorch track (``course_utils.torch_track.train.fit``).
"""

from __future__ import annotations

#: the keys of a history, in the order they are shown: epochs count from 1; losses are mean cross-entropy
#: (nats) per example; accuracies are fractions in [0, 1]
HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")


def new_history() -> dict[str, list[float]]:
    """An empty history: ``{"epoch": [], "train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}``."""
    return {k: [] for k in HISTORY_KEYS}


def append_epoch(history: dict[str, list[float]], **values: float) -> None:
    """Append one epoch's values to ``history``; every key of HISTORY_KEYS must be given, and no other.

    Raises ValueError naming the missing or unknown keys.
    """
    missing = [k for k in HISTORY_KEYS if k not in values]
    unknown = [k for k in values if k not in HISTORY_KEYS]
    if missing or unknown:
        raise ValueError(f"append_epoch: expected exactly the keys {HISTORY_KEYS}; "
                         f"missing {missing}, unknown {unknown}")
    for key in HISTORY_KEYS:
        history.setdefault(key, []).append(values[key])
