"""A model card as a person reads it: what the model does (in the page's language), what it was
trained on and for how long, its measured quality in words and numbers; the whole card, the
command that made it and its recipe (only the fields that matter) behind an expander.

Cards carry `description` (English) and `description_zh`; a card without the latter (an import,
an older run) shows its English text in both languages."""
from __future__ import annotations

import json

import streamlit as st
import yaml

from gan_core.recipes import essential_recipe

from .i18n import current_language, t
from .metric_names import format_metric, metric_label, metric_rows

# The figures that say most about each kind of model, best first; a card shows those it has.
HEADLINE = ["fd_ratio_to_baseline", "label_accuracy", "precision", "recall", "recognised", "a2b_preserved",
            "b2a_preserved", "b2a_ink", "gain_db", "psnr_y", "ssim_y", "test_accuracy", "EB", "UPC", "QN", "TD",
            "in_scale"]
DATA_NAMES = ("mnist5k", "mnist", "fashion_mnist", "cifar10", "folder", "toy", "bach_chorales", "texture", "photos",
              "paired", "uci_digits", "unpaired", "mnist5k_strokes")


def description(card: dict) -> str:
    """The card's description in the page's language."""
    if current_language() == "zh" and card.get("description_zh"):
        return card["description_zh"]
    return card.get("description", "")


def _data_name(data: dict) -> str:
    name = data.get("name", "")
    if name == "texture":
        texture = data.get("texture", "")
        known = texture in ("brick", "grass", "gravel")
        return t("card.data.texture_of", texture=t(f"card.texture.{texture}") if known else texture)
    if data.get("classes"):  # a one-class detector saw only these labels
        return t("card.data.only", data=_data_name({**data, "classes": None}),
                 classes=", ".join(str(c) for c in data["classes"]))
    if name == "unpaired" and data.get("a") and data.get("b"):
        return t("card.data.unpaired_of", a=_data_name(data["a"]), b=_data_name(data["b"]))
    return t(f"card.data.{name}") if name in DATA_NAMES else name


def trained_on(card: dict) -> str:
    """"Trained for 2,000 steps on MNIST-5k." (or where an imported model came from)."""
    if card.get("imported_from"):
        return t("card.imported", file=card["imported_from"])
    data = card.get("data") or {}
    where = _data_name(data) if data else ""
    step = card.get("step")
    if step and where:
        return t("card.trained", steps=f"{int(step):,}", data=where)
    return t("card.trained_on", data=where) if where else ""


def flat_metrics(card: dict) -> dict:
    """The card's figures, one level: anomaly detectors keep theirs per method under `validation`."""
    metrics = {k: v for k, v in (card.get("metrics") or {}).items() if not isinstance(v, (dict, list))}
    for method, figures in (card.get("validation") or {}).items():
        if isinstance(figures, dict):
            metrics |= {f"{method}.{k}": v for k, v in figures.items() if not isinstance(v, (dict, list))}
    return metrics


def quality(card: dict, limit: int = 4) -> str:
    """The headline figures in one line of Markdown: "precision (...): **97.4%** · recall (...): **81.8%**"."""
    metrics = flat_metrics(card)
    parts = [t("card.figure", name=metric_label(k), value=format_metric(k, metrics[k]))
             for k in HEADLINE if k in metrics][:limit]
    for method in ("encoder", "anogan"):
        if f"{method}.auroc" in metrics:
            parts.append(t(f"card.auroc_{method}", value=format_metric("auroc", metrics[f"{method}.auroc"])))
    return " · ".join(parts)


def summary(card: dict) -> None:
    """Description, training, headline figures: three short lines."""
    st.markdown(description(card))
    facts = " ".join(s for s in (trained_on(card), quality(card)) if s)
    if facts:
        st.caption(facts)


def details(card: dict, title: str | None = None) -> None:
    """Everything else, behind an expander: all figures by name, the command that made the model, its
    recipe without the fields nothing reads, and the raw card."""
    with st.expander(title or t("card.details"), expanded=False):
        metrics = flat_metrics(card)
        if metrics:
            st.dataframe(metric_rows(metrics), hide_index=True, width="stretch")
        else:
            st.caption(t("card.no_metrics"))
        if card.get("made_by"):
            st.markdown(t("card.made_by"))
            st.code(card["made_by"], language="bash")
        recipe = card.get("recipe_yaml")
        if recipe:
            st.markdown(t("card.recipe"))
            try:
                shown = yaml.safe_dump(essential_recipe(yaml.safe_load(recipe)), sort_keys=False, allow_unicode=True)
            except (yaml.YAMLError, AttributeError, TypeError):
                shown = recipe
            st.code(shown, language="yaml")
        st.markdown(t("card.raw"))
        st.code(json.dumps({k: v for k, v in card.items() if k != "recipe_yaml"}, indent=1, ensure_ascii=False,
                           default=str), language="json")


def model_card(card: dict) -> None:
    summary(card)
    details(card)
