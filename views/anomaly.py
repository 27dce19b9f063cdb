"""Anomaly detection: score pictures with a GAN trained on normal data only (AnoGAN's latent search
or f-AnoGAN's encoder), see where they differ from what the GAN can draw, choose the threshold."""
import csv
import io
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from gan_core.apps.anomaly import builtin_test_set, detector_recipe, folder_parts, sample_indices, submit_detector
from gan_core.checkpoint import CheckpointError
from gan_core.recipes import load_recipe
from gan_core.data.images import DataError, ImageError, decode_image, from_uint8, image_collection, to_tensor_image
from gan_core.runs import RunDir
from gan_core.metrics.anomaly import ThresholdError, auprc, auroc, confusion, curves
from ui.anomaly_plots import (aurocs, enlarge, false_alarms, heat_overlay, histogram, is_experiment, mask_picture,
                               ranked, roc_pr, strength, to_pil)
from ui.auth import user
from ui.compute import heavy_work
from ui.i18n import current_language, localized_choice, t
from ui.jobs_view import POLL_S, job_summary
from ui.model_card import details, summary
from ui.models import archs_of, cached_model, checkpoints_dir, page_models

MAX_UPLOADS = 64
MAX_SHOWN = 12
SAMPLES_PER_LABEL = 3   # sample pictures to try: this many normal ones and as many anomalous ones

st.title(t("anomaly.title"))
st.caption(t("anomaly.intro"))


def train_here() -> None:
    """A new detector from a few choices, trained as a background job; progress below."""
    source = localized_choice(st.radio, t("anomaly.new_source"), ["mnist5k", "texture", "folder"], "a_new_source",
                              "mnist5k", lambda v: t(f"anomaly.new_source_{v}"), horizontal=True)
    c1, c2 = st.columns(2)
    choice, pictures = {}, None
    if source == "mnist5k":
        digit = c1.selectbox(t("anomaly.new_digit"), list(range(10)), key="a_new_digit")
        digit_is = localized_choice(c2.radio, t("anomaly.new_digit_is"), ["normal", "anomaly"], "a_new_digit_is",
                                    "normal", lambda v: t(f"anomaly.new_digit_is_{v}"))
        choice, default_name = {"digit": digit, "digit_is": digit_is}, f"mnist_{digit}_{digit_is}"
    elif source == "texture":
        texture = localized_choice(c1.selectbox, t("anomaly.new_texture"), ["brick", "grass", "gravel"],
                                   "a_new_texture", "brick", lambda v: t(f"anomaly.texture_{v}"))
        choice, default_name = {"texture": texture}, f"texture_{texture}"
    else:
        st.caption(t("anomaly.new_layout"))
        upload = st.file_uploader(t("anomaly.new_zip"), type=["zip"], key="a_new_zip")
        if upload is None:
            return
        pictures = upload.getvalue()
        with tempfile.NamedTemporaryFile(suffix=".zip") as f:
            f.write(pictures)
            f.flush()
            try:
                parts = folder_parts(f.name)
                if not parts["normal"]:
                    raise DataError(t("anomaly.new_no_normal", name=upload.name))
                image_collection(f.name, 8, 1, subfolder="normal")  # every normal picture must decode
            except DataError as e:
                st.error(str(e))
                return
        st.caption(t("anomaly.new_parts", normal=parts["normal"], test_normal=parts["test/normal"],
                     test_abnormal=parts["test/abnormal"]))
        if not parts["test/abnormal"]:
            st.info(t("anomaly.new_no_abnormal"))
        choice, default_name = {"path": "uploaded.zip"}, Path(upload.name).stem
    s1, s2, s3 = st.columns(3)
    name = s1.text_input(t("anomaly.new_name"), value=default_name, max_chars=60, key=f"a_new_name_{default_name}")
    gan_steps = s2.number_input(t("anomaly.new_gan_steps"), 100, 20000, 2000, step=100, key="a_new_gan_steps",
                                help=t("anomaly.new_gan_steps_help"))
    enc_steps = s3.number_input(t("anomaly.new_encoder_steps"), 100, 20000, 1500, step=100, key="a_new_enc_steps")
    if st.button(t("anomaly.new_start"), type="primary", icon=":material/play_arrow:", key="a_new_start"):
        recipe = detector_recipe(source, re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "detector",
                                 gan_steps=gan_steps, encoder_steps=enc_steps, **choice)
        run = submit_detector(recipe, pictures, owner=user() or "")
        st.session_state["a_job"] = str(run.path)


@st.fragment(run_every=POLL_S)
def job_progress() -> None:
    """The detector being trained from this page: its state, step and message, until it is ready."""
    run = RunDir(st.session_state["a_job"])
    recipe = load_recipe(run.path / "config.yaml")
    if job_summary(run, recipe.gan.train.steps, makes="detector"):
        st.success(t("anomaly.new_ready", name=recipe.name))
        if st.button(t("anomaly.new_use"), key="a_new_use"):
            del st.session_state["a_job"]
            st.rerun(scope="app")


# shipped detectors, then those trained in runs (from this page, the Train section or the CLI)
found = page_models(archs_of("image"), kind="anomaly", runs=True)
with st.expander(t("anomaly.new_title"), expanded=not found, icon=":material/add:"):
    st.caption(t("anomaly.new_intro"))
    train_here()
    if st.session_state.get("a_job"):
        job_progress()
if not found:
    st.warning(t("anomaly.none", folder=str(checkpoints_dir())))
    st.stop()


def search_progress(n: int):
    """A progress bar for the latent search, drawn at once and then told the step, the time spent and
    about how long is left; and the callback that moves it. The search reports every step, which can
    be milliseconds apart: the bar is redrawn at most four times a second."""
    bar = st.progress(0.0, text=t("anomaly.searching", n=n))
    start = time.perf_counter()
    drawn = [start]

    def moved(step: int, steps: int) -> None:
        now = time.perf_counter()
        if now - drawn[0] < 0.25 and step < steps:
            return
        drawn[0] = now
        spent = now - start
        bar.progress(step / steps, text=t("anomaly.searching_step", step=step, steps=steps, spent=f"{spent:.0f}",
                                          left=f"{spent * (steps - step) / step:.0f}"))
    return bar, moved


def _score(det, x: torch.Tensor, method: str, steps: int) -> dict[str, np.ndarray]:
    bar, moved = search_progress(len(x)) if method == "anogan" else (None, None)
    with heavy_work():  # the latent search keeps the cores busy for seconds: visitors take turns
        start = time.perf_counter()
        r = det.score(x, method, progress=moved, **({"steps": steps} if method == "anogan" else {}))
    if bar:
        bar.empty()
    return {"score": r.score.numpy(), "reconstruction": r.reconstruction.numpy(), "residual": r.residual.numpy(),
            "seconds": time.perf_counter() - start}


def _remembered(key: tuple, work, keep: int = 6):
    """work(), or what it gave for `key` earlier in this session: moving a threshold or switching tabs
    reruns the page, and must not rerun a latent search. The last `keep` results are kept."""
    memo = st.session_state.setdefault("a_scores", {})
    if key not in memo:
        memo[key] = work()
        while len(memo) > keep:
            memo.pop(next(iter(memo)))
    return memo[key]


def _score_test_set(path: Path, method: str, steps: int) -> dict[str, np.ndarray]:
    """Scores of the detector's built-in test set, kept for this session (the latent search takes a while)."""
    def work():
        det = cached_model("detector", path)
        test = builtin_test_set(det)
        out = _score(det, test.x, method, steps)
        out.update(labels=test.labels.numpy(), groups=np.array(test.groups),
                   masks=None if test.masks is None else test.masks.numpy(), name=test.name)
        return out
    return _remembered(("test", str(path), path.stat().st_mtime_ns, method, steps if method == "anogan" else 0),
                       work)


def group_name(group: str) -> str:
    """A test picture's group in words: a digit, or a texture's normal patches and defect kinds."""
    if group.isdigit():
        return t("anomaly.group_digit", digit=group)
    key = f"anomaly.group_{group}"
    return t(key) if group in ("normal", "abnormal", "cutpaste", "foreign", "scratch") else group


def samples(det) -> tuple[torch.Tensor, list[str], list[str], np.ndarray, str]:
    """The sample pictures to try: a few normal and anomalous pictures of the built-in test set
    (gan_core.apps.anomaly.sample_indices), with their names there ("mnist5k/test#24"), groups and labels."""
    test = builtin_test_set(det)
    idx = sample_indices(test, SAMPLES_PER_LABEL)
    return (test.x[idx], [f"{test.name}#{i}" for i in idx], [test.groups[i] for i in idx],
            test.labels[idx].numpy(), test.name)


def read_uploads(files, size: int, channels: int) -> tuple[torch.Tensor | None, list[str], list[str]]:
    """Decoded, resized and converted uploads in [-1, 1]; names; messages for the files left out or changed."""
    xs, names, notes = [], [], []
    for f in files[:MAX_UPLOADS]:
        data = f.getvalue()
        if not data:
            notes.append(t("anomaly.empty_file", name=f.name))
            continue
        try:
            img = decode_image(data, name=f.name)
        except ImageError as e:
            notes.append(str(e))
            continue
        if img.size != (size, size) or (img.mode == "L") != (channels == 1):
            notes.append(t("anomaly.converted", name=f.name, w=img.size[0], h=img.size[1], mode=img.mode,
                           size=size, channels=channels))
        xs.append(from_uint8(to_tensor_image(img, size, channels)))
        names.append(f.name)
    if len(files) > MAX_UPLOADS:
        notes.append(t("anomaly.too_many", n=len(files), max=MAX_UPLOADS))
    return (torch.stack(xs) if xs else None), names, notes


def csv_bytes(names, scores, threshold, truth=None) -> bytes:
    """image, score, anomalous (at the threshold), and for pictures whose answer is known (samples)
    truly_anomalous."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["image", "score", "anomalous"] + (["truly_anomalous"] if truth is not None else []))
    for i, (n, s) in enumerate(zip(names, scores)):
        w.writerow([n, f"{s:.6g}", "" if threshold is None else int(s >= threshold)]
                   + ([int(truth[i])] if truth is not None else []))
    return buf.getvalue().encode()


def about(card: dict) -> str:
    """What the detector treats as normal, in the page's language: for cards without their own
    description_zh (detectors trained before cards carried one)."""
    data = card.get("data") or {}
    if data.get("name") == "texture":
        return t("anomaly.about_texture", texture=t(f"anomaly.texture_{data['texture']}"))
    if data.get("name") == "mnist5k" and data.get("classes") is not None:
        return t("anomaly.about_normal", digits=", ".join(map(str, data["classes"])))
    if data.get("name") == "mnist5k" and data.get("exclude_classes"):
        return t("anomaly.about_anomaly", digits=", ".join(map(str, data["exclude_classes"])))
    if data.get("name") == "folder":
        return t("anomaly.about_folder", name=Path(str(data.get("path", ""))).name)
    return card.get("description", "")


# ---------------------------------------------------------------- the detector and the method

def experiment_note(card: dict, best: str | None) -> None:
    """Why a weak detector is offered at all, in the card's own figures; and which one works, if any."""
    a = aurocs(card)
    figures = card["validation"][next(iter(a))]   # the encoder's, the page's default method, when measured
    flagged = false_alarms(figures)
    note = t("anomaly.experiment_note", n=figures.get("n_normal", "?"), m=figures.get("n_anomalous", "?"),
             aurocs=t("anomaly.list_sep").join(t("anomaly.auroc_of", method=t(f"anomaly.method_short_{m}"), auroc=f"{v:.2f}")
                              for m, v in a.items()),
             method=t(f"anomaly.method_short_{next(iter(a))}"),
             flagged="?" if flagged is None else f"{100 * flagged:.0f}%")
    if best:  # sentences follow each other after a space in English, straight after "。" in Chinese
        note += ("" if current_language() == "zh" else " ") + t("anomaly.experiment_better", best=best)
    st.warning(note, icon=":material/science:")


def shown_card(card: dict) -> dict:
    """The card for ui.model_card, with this page's translation where the card has no description_zh."""
    if current_language() == "zh" and not card.get("description_zh"):
        return {**card, "description_zh": about(card)}
    return card


left, right = st.columns([1, 2], gap="large")
with left:
    names = ranked({n: m.card for n, m in found.items()})
    labels = {n: f"{n} · {strength(found[n].card)}" if strength(found[n].card) else n for n in names}
    name = localized_choice(st.selectbox, t("anomaly.detector"), names, "a_detector", names[0], labels.get,
                            in_url=True)
    path, card = found[name].path, found[name].card
    summary(shown_card(card))
    if is_experiment(card):
        experiment_note(card, None if is_experiment(found[names[0]].card) else names[0])
    else:
        experiments = [n for n in names if is_experiment(found[n].card)]
        if experiments:
            st.caption(t("anomaly.others", names=t("anomaly.list_sep").join(experiments)))
    details(card)
    try:
        det = cached_model("detector", path)
    except (CheckpointError, OSError) as e:
        st.error(t("errors.checkpoint", message=str(e)))
        st.stop()
    method = localized_choice(st.radio, t("anomaly.method"), ["encoder", "anogan"], "a_method", "encoder",
                              lambda m: t(f"anomaly.method_{m}"), horizontal=True)
    steps = int(card["search"]["steps"])
    if method == "anogan":
        steps = int(st.slider(t("anomaly.steps"), 50, 1000, steps, step=50, key="a_steps",
                              help=t("anomaly.steps_help")))
    st.caption(t(f"anomaly.method_help_{method}"))

    auto = det.threshold(method)
    mode = localized_choice(st.radio, t("anomaly.threshold"), ["auto", "manual"], "a_mode", "auto",
                            lambda m: t(f"anomaly.threshold_{m}"), horizontal=True)
    if mode == "auto" and auto is None:
        st.warning(t("anomaly.no_auto", reason=card.get("validation", {}).get("note", "")))
        mode = "manual"
    val = (card.get("validation") or {}).get(method)
    if mode == "auto":
        threshold = float(auto)
        st.caption(t("anomaly.auto_caption", t=f"{threshold:.4g}", f1=f"{val['f1']:.3f}", n=val["n_normal"],
                     m=val["n_anomalous"]))
    else:
        default = float(auto) if auto is not None else 1.0
        top = 10 * default   # room far above the automatic choice; its own key per method (scales differ)
        threshold = float(st.slider(t("anomaly.threshold_value"), 0.0, top, default, step=top / 500,
                                    format="%.4g", key=f"a_thr_{method}"))
    pixel_t = float(st.slider(t("anomaly.pixel_threshold"), 0.05, 1.5, 0.5, 0.05, key="a_px",
                              help=t("anomaly.pixel_threshold_help")))

# ---------------------------------------------------------------- uploads and the built-in test set

with right:
    tab_upload, tab_test = st.tabs([t("anomaly.tab_upload"), t("anomaly.tab_test")])

def show_scored(x: torch.Tensor, names: list[str], method: str, steps: int, key: str, groups=None,
                truth=None) -> None:
    """Score pictures (once per session: see _remembered) and show each with its verdict, the
    reconstruction, the residual over it and the thresholded mask; for samples, the true answer too."""
    result = _remembered(key, lambda: _score(det, x, method, steps))
    st.caption(t("anomaly.timing", n=len(x), ms=f"{1000 * result['seconds']:.0f}",
                 per=f"{1000 * result['seconds'] / len(x):.1f}", method=t(f"anomaly.method_{method}")))
    if method == "anogan":  # the one-pass encoder on the same pictures, for comparison
        quick = _score(det, x, "encoder", steps)
        st.caption(t("anomaly.timing_encoder", ms=f"{1000 * quick['seconds']:.1f}",
                     ratio=f"{result['seconds'] / max(quick['seconds'], 1e-9):.0f}"))
    vmax = max(float(result["residual"].max()), 1e-6)
    for i in range(min(len(x), MAX_SHOWN)):
        s = float(result["score"][i])
        called = s >= threshold
        verdict = t("anomaly.anomalous") if called else t("anomaly.normal")
        with st.container(border=True):
            if truth is None:
                st.markdown(t("anomaly.verdict", name=names[i], score=f"{s:.4g}", verdict=verdict))
            else:
                # the group says more than the truth only where it names a digit or a kind of defect
                group = "" if groups[i] in ("normal", "abnormal") else group_name(groups[i])
                st.markdown(t("anomaly.sample_verdict" if group else "anomaly.sample_verdict_plain", name=names[i],
                              group=group, truth=t("anomaly.anomalous") if truth[i] else t("anomaly.normal"),
                              score=f"{s:.4g}", verdict=verdict,
                              right=t("anomaly.right") if called == bool(truth[i]) else t("anomaly.wrong")))
            c = st.columns(4)
            c[0].image(enlarge(to_pil(x[i].numpy())), caption=t("anomaly.input"))
            c[1].image(enlarge(to_pil(result["reconstruction"][i])), caption=t("anomaly.reconstruction"))
            c[2].image(enlarge(heat_overlay(x[i].numpy(), result["residual"][i], vmax)), caption=t("anomaly.heat"))
            c[3].image(enlarge(mask_picture(result["residual"][i] >= pixel_t)), caption=t("anomaly.mask"))
    if len(x) > MAX_SHOWN:
        st.caption(t("anomaly.more", n=len(x) - MAX_SHOWN))
    st.download_button(t("anomaly.csv"), csv_bytes(names, result["score"], threshold, truth),
                       f"{name}_{method}_scores.csv", "text/csv", key="a_csv_up", icon=":material/download:")


def show_samples(on: bool) -> None:
    st.session_state["a_samples"] = on


with tab_upload:
    files = st.file_uploader(t("anomaly.upload"), type=["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"],
                             accept_multiple_files=True, key="a_files")
    scored_key = (str(path), path.stat().st_mtime_ns, method, steps if method == "anogan" else 0)
    if files:
        x, up_names, notes = read_uploads(files, det.img_size, det.channels)
        for note in notes:
            st.warning(note)
        if x is not None:
            show_scored(x, up_names, method, steps, ("uploads", *scored_key, tuple(f.file_id for f in files)))
    elif not st.session_state.get("a_samples"):
        st.info(t("anomaly.upload_hint", size=det.img_size))
        st.button(t("anomaly.samples_try", n=2 * SAMPLES_PER_LABEL), key="a_samples_on", type="primary",
                  icon=":material/photo_library:", on_click=show_samples, args=(True,),
                  help=t("anomaly.samples_help"))
    else:
        try:
            sx, s_names, s_groups, s_truth, s_set = samples(det)
        except ValueError as e:                 # a folder detector without test pictures
            st.info(str(e))
        else:
            normal = sorted(set(g for g, y in zip(s_groups, s_truth) if not y), key=s_groups.index)
            odd = [g for g, y in zip(s_groups, s_truth) if y]
            sep = t("anomaly.list_sep")
            st.caption(t("anomaly.samples_caption", set=s_set, k=int((s_truth == 0).sum()), m=int(s_truth.sum()),
                         normal=sep.join(map(group_name, normal)), anomalous=sep.join(map(group_name, odd))))
            st.button(t("anomaly.samples_off"), key="a_samples_off", type="tertiary", icon=":material/close:",
                      on_click=show_samples, args=(False,))
            show_scored(sx, s_names, method, steps, ("samples", *scored_key), s_groups, s_truth)

with tab_test:
    if method == "anogan" and not st.toggle(t("anomaly.run_search", n=500 if card["data"]["name"] == "mnist5k"
                                               else 200, steps=steps), key="a_test_search"):
        st.info(t("anomaly.search_off"))
        st.stop()
    try:
        r = _score_test_set(path, method, steps)
    except ValueError as e:
        st.info(str(e))
        st.stop()
    labels, scores = r["labels"], r["score"]
    st.caption(t("anomaly.test_caption", name=r["name"], n=len(scores), k=int(labels.sum()),
                 ms=f"{1000 * r['seconds'] / len(scores):.2f}"))
    try:
        a, p = auroc(scores, labels), auprc(scores, labels)
    except ThresholdError as e:
        st.warning(str(e))
        st.stop()
    cm = confusion(scores, labels, threshold)
    m = st.columns(4)
    m[0].metric("AUROC", f"{a:.3f}")
    m[1].metric("AUPRC", f"{p:.3f}")
    precision = cm["tp"] / max(cm["tp"] + cm["fp"], 1)
    recall = cm["tp"] / max(cm["tp"] + cm["fn"], 1)
    m[2].metric(t("anomaly.precision"), f"{precision:.3f}")
    m[3].metric(t("anomaly.recall"), f"{recall:.3f}")
    # the matrix needs about 300 px (three columns as wide as "anomalous"): it gets three fifths of the
    # row and its reading in words beside it; the histogram gets the whole width below
    c1, c2 = st.columns([3, 2], vertical_alignment="center")
    with c1.container(key="a_cm"):
        st.markdown(f"**{t('anomaly.confusion')}**")
        # a static table: its header cells wrap, where a data grid keeps them on one line (it hid
        # "called anomalous" behind a scroll bar at 1280 px)
        st.table(pd.DataFrame({t("anomaly.called_normal"): [cm["tn"], cm["fn"]],
                               t("anomaly.called_anomalous"): [cm["fp"], cm["tp"]]},
                              index=[t("anomaly.truth_normal"), t("anomaly.truth_anomalous")]),
                 alt=t("anomaly.confusion"))
    c2.caption(t("anomaly.confusion_words", t=f"{threshold:.4g}", fp=cm["fp"], normal=cm["fp"] + cm["tn"],
                 fn=cm["fn"], anomalous=cm["fn"] + cm["tp"]))
    st.plotly_chart(histogram(scores, labels, threshold, (t("anomaly.normal"), t("anomaly.anomalous"))),
                    key="a_hist")
    st.plotly_chart(roc_pr(curves(scores, labels), a, p), key="a_curves")
    groups = r["groups"]
    rows = []
    for g in sorted(set(groups.tolist()), key=lambda v: (len(v), v)):
        sel = groups == g
        rows.append({t("anomaly.group"): group_name(g), t("anomaly.count"): int(sel.sum()),
                     t("anomaly.is_anomalous"): bool(labels[sel].any()),
                     t("anomaly.mean_score"): float(scores[sel].mean()),
                     t("anomaly.flagged"): float((scores[sel] >= threshold).mean())})
    st.markdown(f"**{t('anomaly.per_group')}**")
    st.dataframe(rows, hide_index=True, key="a_groups",
                 column_config={t("anomaly.flagged"): st.column_config.ProgressColumn(min_value=0, max_value=1)})
    if r["masks"] is not None:
        from gan_core.metrics.anomaly import pixel_auroc
        defective = labels == 1
        st.metric(t("anomaly.pixel_auroc"), f"{pixel_auroc(r['residual'][defective], r['masks'][defective]):.3f}")
    st.download_button(t("anomaly.csv"), csv_bytes([f"{r['name']}#{i}" for i in range(len(scores))], scores,
                                                   threshold), f"{name}_{method}_test_scores.csv", "text/csv",
                       key="a_csv_test", icon=":material/download:")
