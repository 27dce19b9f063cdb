"""Scores of an anomaly detector against labels: ROC/PR areas, the F1-optimal threshold,
pixel-level AUROC and the confusion matrix at a threshold. Label 1 is *anomalous*; a higher
score means more anomalous."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve


class ThresholdError(ValueError):
    """A threshold cannot be chosen from these labels (for example, no anomaly among them)."""


def _check(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s, y = np.asarray(scores, np.float64).ravel(), np.asarray(labels).astype(bool).ravel()
    if len(s) != len(y):
        raise ValueError(f"{len(s)} scores but {len(y)} labels")
    if not np.isfinite(s).all():
        raise ValueError("some scores are NaN or infinite")
    return s, y


def _both_classes(y: np.ndarray, what: str) -> None:
    if y.all() or not y.any():
        kind = "no normal" if y.all() else "no anomalous"
        raise ThresholdError(f"{what} needs normal and anomalous examples; these labels have {kind} ones")


def auroc(scores, labels) -> float:
    """Area under the ROC curve: P(score of a random anomaly > score of a random normal)."""
    s, y = _check(scores, labels)
    _both_classes(y, "AUROC")
    return float(roc_auc_score(y, s))


def auprc(scores, labels) -> float:
    """Average precision (area under the precision-recall curve, anomalies as positives)."""
    s, y = _check(scores, labels)
    _both_classes(y, "AUPRC")
    return float(average_precision_score(y, s))


def curves(scores, labels) -> dict[str, np.ndarray]:
    """ROC (fpr, tpr) and PR (precision, recall) curves, for plotting."""
    s, y = _check(scores, labels)
    _both_classes(y, "a ROC curve")
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    return {"fpr": fpr, "tpr": tpr, "precision": precision, "recall": recall}


@dataclass(frozen=True)
class Threshold:
    value: float
    f1: float
    precision: float
    recall: float


def f1_threshold(scores, labels) -> Threshold:
    """The threshold t maximising F1 = 2PR/(P+R) of the rule 'anomalous if score >= t', on a
    labelled validation set. Raises ThresholdError when the set holds no anomaly (or no normal)."""
    s, y = _check(scores, labels)
    _both_classes(y, "choosing a threshold")
    precision, recall, thresholds = precision_recall_curve(y, s)
    p, r = precision[:-1], recall[:-1]          # the last point (recall 0) has no threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    best = int(np.argmax(f1))
    return Threshold(float(thresholds[best]), float(f1[best]), float(p[best]), float(r[best]))


def confusion(scores, labels, threshold: float) -> dict[str, int]:
    """Counts of the rule 'anomalous if score >= threshold'."""
    s, y = _check(scores, labels)
    flagged = s >= threshold
    return {"tp": int((flagged & y).sum()), "fp": int((flagged & ~y).sum()),
            "tn": int((~flagged & ~y).sum()), "fn": int((~flagged & y).sum())}


def pixel_auroc(maps, masks) -> float:
    """AUROC over every pixel of every image: residual maps against defect masks (1 = defect)."""
    m, k = np.asarray(maps, np.float64), np.asarray(masks).astype(bool)
    if m.shape != k.shape:
        raise ValueError(f"maps {m.shape} and masks {k.shape} differ in shape")
    return auroc(m.ravel(), k.ravel())
