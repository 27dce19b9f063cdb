"""Figures in words: the name of each metric key that cards, runs and pages carry, and its value
written as a person reads it (a share as a percentage, a large distance with separators, a
fraction of a dB to one decimal). Names live in ui/locales/metrics.<lang>.yaml."""
from __future__ import annotations

import math

from .i18n import catalog, t

# Shares in [0, 1] shown as percentages.
_SHARES = {"precision", "recall", "coverage", "label_accuracy", "label_acc", "classifier_on_real", "test_accuracy",
           "train_accuracy", "recognised", "a2b_preserved", "b2a_preserved", "a2b_resampled", "b2a_resampled",
           "b2a_ink", "real_ink_a", "classifier_a_on_real", "classifier_b_on_real", "EB", "QN", "in_scale",
           "consonance", "f1"}
_DB = {"psnr_y", "bicubic_psnr_y", "gain_db", "grey_psnr_y"}
_COUNTS = {"fd_samples", "test_digits", "test_images", "n_normal", "n_anomalous", "test_a", "test_b", "step"}
# "precision_train_vs_test" reads as "precision of real test digits": the suffix names a baseline.
_BASELINE = "_train_vs_test"
# Per-voice music figures: EB_S, TD_SA, ...
_VOICES = {"S": "S", "A": "A", "T": "T", "B": "B"}


def _base(key: str) -> str:
    if key.endswith(_BASELINE):
        return key[: -len(_BASELINE)]
    head, _, tail = key.partition("_")
    if tail and set(tail) <= set(_VOICES) and head in ("EB", "UPC", "QN", "TD"):
        return head
    return key


def metric_label(key: str) -> str:
    """`kid_train_vs_test` -> "KID of real train to real test digits"; `encoder.auroc` -> "AUROC (...)
    (fast encoder)"; an unknown key is shown as it is."""
    if "." in key:  # a detector's figure per method: precision and recall mean what they mean for detection
        method, _, rest = key.partition(".")
        name = t(f"metric_detector.{rest}") if f"metric_detector.{rest}" in catalog("en") else metric_label(rest)
        where = f"metric_method.{method}"
        return f"{name} · {t(where)}" if where in catalog("en") else f"{name} · {method}"
    for candidate in (f"metric.{key}", f"metric.{_base(key)}"):
        if candidate in catalog("en"):
            label = t(candidate)
            if candidate.endswith(_base(key)) and _base(key) != key and not key.endswith(_BASELINE):
                label += f" ({key.split('_', 1)[1]})"  # the voice or pair of voices
            return label
    return key


def format_metric(key: str, value: object) -> str:
    """A value as a person reads it: 0.974 -> "97.4%" for a share, 43712.3 -> "43,712", 27.52 -> "27.52 dB",
    1.2e-5 -> "1.2e-05" (only what no fixed notation can show stays in scientific notation)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    v = float(value)
    key = key.rpartition(".")[2]
    if not math.isfinite(v):
        return "—"
    base = _base(key)
    if base in _SHARES and -0.001 <= v <= 1.001:
        return f"{100 * v:.1f}%"
    if base in _COUNTS or (isinstance(value, int) and abs(v) < 1e15):
        return f"{int(v):,}"
    if base == "auroc":
        return f"{v:.3f}"
    if base == "fd_ratio_to_baseline":
        return f"{v:.1f}×"
    if base in _DB:
        return f"{v:+.2f} dB" if base == "gain_db" else f"{v:.2f} dB"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if v == 0 or abs(v) >= 0.01:
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    return f"{v:.2g}"


def metric_rows(metrics: dict, keys: list[str] | None = None) -> list[dict[str, str]]:
    """Rows for a two-column table (figure, value) of the flat entries of `metrics`, in `keys` order
    when given. Column titles are the page language's."""
    chosen = keys if keys is not None else [k for k, v in metrics.items() if not isinstance(v, (dict, list))]
    return [{t("metric_table.name"): metric_label(k), t("metric_table.value"): format_metric(k, metrics[k])}
            for k in chosen if k in metrics]
