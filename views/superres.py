"""Super-resolution: upscale a picture 2x or 4x with SRResNet / SRGAN (or imported Real-ESRGAN weights),
compare with bicubic in synchronized zoomed crops and a before/after split, and measure PSNR / SSIM
on a picture shrunk first.

The first view needs no click: a detailed part of an example picture is upscaled by bicubic and the
model with the best measured gain as soon as the page opens, each result shown as it is done, and kept
for every visitor (st.cache_data). Other models of the scale join on request; whole pictures, uploads
and the self-ensemble wait for the button and show a progress bar."""
import hashlib
import math
import time
from contextlib import nullcontext
from pathlib import Path

import streamlit as st
from PIL import Image

from gan_core.apps.superres import (bicubic_upscaler, import_esrgan, periodic_pattern, self_ensemble, simulate,
                                    upscale_image)
from gan_core.checkpoint import CheckpointError
from gan_core.config import SR_ARCHS
from gan_core.data.images import ImageError, decode_image
from gan_core.data.pairs import validation_photos
from ui.compute import heavy_work
from ui.i18n import current_language, localized_choice, t
from ui.imports import import_weights, safe_stem
from ui.model_card import details, summary
from ui.models import cached_model, checkpoints_dir, page_models
from ui.superres_view import (before_after, centre_crop, from_tensor, outlined, output_size, png_bytes, scaled,
                              zoom_box, zoomed)

MAX_OUTPUT_PIXELS = 64_000_000   # bigger results: the command line, which tiles with bounded memory
AUTO_PIXELS = 1024 * 1024        # an example's result up to this size is made on arrival (~2 s for SRResNet x4)
MIN_SIDE = 8                     # a smaller picture has nothing to upscale
# One 256-pixel tile holds the default views whole (a tile's border is computed twice); bigger pictures
# go in ~240-pixel steps, each a step of the progress bar.
TILE, OVERLAP = 256, 16
# A part of each example where a model's gain shows: the temple's roof tiles and eaves against the sky
# (china), the curled petals at the flower's heart; (left, top, right, bottom) and where to zoom (% of it).
REGIONS = {"china": ((128, 0, 320, 192), (50, 42)), "flower": ((224, 96, 416, 288), (49, 62))}
CROPS = {"example": ["detail", 256, 0], "upload": [0, 256, 128, 96]}  # int: centre n x n; 0 = the whole picture
ZOOMS = [12, 24, 48, 96]         # side of the zoomed region, in input pixels
ZOOM_WIDTH = 300                 # about this many screen pixels per zoomed crop
PATTERN_SHOWN = 1.0              # a fixed pattern of at least this many 8-bit levels gets a note
EXAMPLES = ["china", "flower"]
CLI = "python -m gan_core superres {checkpoint} IN.png --scale {scale} --out OUT.png"
IMPORT_CLI = "python -m gan_core import esrgan RealESRGAN_x4plus.pth --out checkpoints/realesrgan_x4"

st.title(t("superres.title"))
st.caption(t("superres.intro"))


@st.cache_resource(show_spinner=False)
def _examples() -> dict[str, Image.Image]:
    """scikit-learn's china and flower (held out from training); shared, never modified."""
    return {k: from_tensor(v) for k, v in validation_photos().items()}


def kind(card: dict) -> str:
    model = card.get("model") or {}
    if model.get("arch") == "rrdb":
        return t("superres.kind_rrdb")
    return t("superres.kind_srgan") if adversarial(card) else t("superres.kind_srresnet")


def adversarial(card: dict) -> bool:
    return (card.get("train") or {}).get("adv_weight", 0) > 0


def gain(card: dict) -> float:
    """The card's PSNR gain over bicubic on the held-out photos (dB); -inf when not measured."""
    value = (card.get("metrics") or {}).get("gain_db")
    return float(value) if isinstance(value, (int, float)) else -math.inf


def perceptual_words(source: str) -> str:
    """The perceptual loss's feature network in words. The card keeps the library's message
    (gan_core.losses.PerceptualLoss.source), which names a cache folder for whoever trains."""
    if "random weights" in source:
        return t("superres.perceptual_random")
    if "ImageNet weights" in source:
        return t("superres.perceptual_imagenet")
    return t("superres.perceptual_other", source=source)


def _import_weights(upload) -> None:
    """Convert an uploaded .pth into a checkpoint in this session's folder, once per file content."""
    imports = st.session_state.setdefault("sr_imports", {})
    digests = st.session_state.setdefault("sr_import_ids", {})  # upload id -> content digest (hashed once)
    if upload.file_id not in digests:
        digests[upload.file_id] = hashlib.sha256(upload.getvalue()).hexdigest()
    digest = digests[upload.file_id]
    if digest not in imports:
        try:
            with st.spinner(t("superres.own_importing", name=upload.name)):
                imports[digest] = {"name": import_weights(upload, "sr", import_esrgan,
                                                          set(page_models(SR_ARCHS, imports="sr")))}
        except (CheckpointError, ValueError, RuntimeError, OSError) as e:
            imports[digest] = {"error": str(e)}
    done = imports[digest]
    if "error" in done:
        st.error(t("superres.own_failed", message=done["error"]))
    else:
        st.success(t("superres.own_done", name=done["name"]))


def _read_upload(upload) -> tuple[Image.Image | None, str]:
    """The decoded upload (kept for the session, so reruns do not decode it again) and its id."""
    memo = st.session_state.get("sr_decoded")
    if memo and memo[0] == upload.file_id:
        return memo[1], upload.file_id
    data = upload.getvalue()
    if not data:
        st.error(t("superres.empty_file", name=upload.name))
        return None, upload.file_id
    try:
        img = decode_image(data, name=upload.name, min_side=MIN_SIDE)
    except ImageError as e:
        st.error(str(e))
        return None, upload.file_id
    st.session_state["sr_decoded"] = (upload.file_id, img)
    return img, upload.file_id


def shown_path(path: Path) -> str:
    """A checkpoint's path as one would type it here (relative to the working folder when inside it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def grid(pictures: list[tuple[Image.Image, str]]) -> None:
    """Pictures with captions, two or three to a row: large enough to see single pixels."""
    per_row = 2 if len(pictures) in (2, 4) else 3
    for i in range(0, len(pictures), per_row):
        for col, (img, caption) in zip(st.columns(per_row), pictures[i:i + per_row]):
            col.image(img, output_format="PNG", width="stretch", caption=caption)


def _run_with_progress(label: str, fn):
    """fn(progress) under a progress bar that follows the tiles; (result, seconds)."""
    bar = st.progress(0.0, text=t("superres.working", name=label))

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=t("superres.tiles", name=label, done=done, total=total))
    start = time.perf_counter()
    try:
        return fn(progress), time.perf_counter() - start
    finally:
        bar.empty()


class _NotMadeYet(Exception):
    """Raised by _shared_result when asked only to look: st.cache_data keeps what a function returns,
    never what it raises, so looking leaves no entry behind."""


@st.cache_data(max_entries=32, show_spinner=False)
def _shared_result(picture_key: tuple, method: tuple, _picture: Image.Image, _fn, _make: bool):
    """One method's result on a part of an example, (picture, seconds), kept for every visitor; the key
    is (example, crop) and the method_key. With _make False it only looks (_NotMadeYet when nobody made
    it yet), so a visitor whose result is there never waits in line for a turn at the CPU. No st.* call
    in here: cached functions replay those."""
    if not _make:
        raise _NotMadeYet
    start = time.perf_counter()
    img = upscale_image(_picture, _fn, method[0], TILE, OVERLAP)
    return img, time.perf_counter() - start


@st.cache_data(max_entries=16, show_spinner=False)
def _pattern(method: tuple, _fn) -> float:
    """gan_core.apps.superres.periodic_pattern of a model (keyed by its method_key): 8-bit levels."""
    return periodic_pattern(_fn, method[0])


# ---------------------------------------------------------------- models: shipped and this session's

controls, main = st.columns([1, 3], gap="large")

with controls:
    source = localized_choice(st.radio, t("superres.source"), ["example", "upload"], "sr_source", "example",
                              lambda s: t(f"superres.source_{s}"), horizontal=True)
    upload = None
    if source == "example":
        example = localized_choice(st.selectbox, t("superres.example"), EXAMPLES, "sr_example", EXAMPLES[0],
                                   lambda e: t(f"superres.example_{e}"), in_url=True, help=t("superres.example_help"))
    else:
        upload = st.file_uploader(t("superres.upload"), type=["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif",
                                                             "tiff"], key="sr_file")

    def crop_label(c) -> str:
        if c == "detail":
            box = REGIONS[example][0]
            return t(f"superres.crop_detail_{example}", n=box[2] - box[0])
        return t("superres.crop_centre", n=c) if c else t("superres.crop_whole")
    # the example opens on a detailed part (the whole one takes a while on a CPU); an upload whole
    crop = localized_choice(st.selectbox, t("superres.crop"), CROPS[source], f"sr_crop_{source}",
                            CROPS[source][0], crop_label, help=t("superres.crop_help"))
    picker = st.container()
    with st.expander(t("superres.own_title"), icon=":material/upload_file:"):
        st.markdown(t("superres.own_intro"))
        pth = st.file_uploader(t("superres.own_upload"), type=["pth", "pt"], key="sr_pth")
        if pth is not None:
            _import_weights(pth)
        st.caption(t("superres.own_cli"))
        st.code(IMPORT_CLI, language="bash")

models = page_models(SR_ARCHS, imports="sr")
scales = sorted({2, 4} | {int(m.card["model"]["scale"]) for m in models.values()}, reverse=True)

with picker:
    scale = st.radio(t("superres.scale"), scales, key="sr_scale", horizontal=True, format_func=lambda s: f"×{s}")
    of_scale = [n for n, m in models.items() if int(m.card["model"]["scale"]) == scale]
    chosen, others = None, []
    if of_scale:
        # the default is the model with the best measured PSNR gain: for x4 the shipped SRResNet (+1.16 dB
        # on the held-out photos) rather than SRGAN (+0.86 dB, and a faint grid in flat areas)
        best = max(of_scale, key=lambda n: gain(models[n].card))
        chosen = localized_choice(st.selectbox, t("superres.model"), of_scale, "sr_model", best,
                                  lambda n: f"{n} · {kind(models[n].card)}"
                                  + (t("superres.yours") if models[n].source == "imported" else ""), in_url=True)
        card = models[chosen].card
        summary(card)
        if card.get("perceptual"):
            st.caption(perceptual_words(card["perceptual"]))
        details(card)
        rest = [n for n in of_scale if n != chosen]
        if rest and st.toggle(t("superres.others", names=", ".join(f"{n} · {kind(models[n].card)}" for n in rest)),
                              key="sr_others", help=t("superres.others_help")):
            others = rest
    else:
        st.warning(t("superres.none", scale=scale, folder=str(checkpoints_dir())))
    # bicubic is already equivariant: the ensemble changes only the models
    ensemble = bool(of_scale) and st.toggle(t("superres.ensemble"), key="sr_ensemble",
                                            help=t("superres.ensemble_help"))

# ---------------------------------------------------------------- the picture

with main:
    if source == "example":
        picture, picture_id, stem = _examples()[example], f"example:{example}", example
    elif upload is None:
        st.info(t("superres.upload_hint", min=MIN_SIDE))
        st.stop()
    else:
        picture, picture_id = _read_upload(upload)
        stem = safe_stem(upload.name)
        if picture is None:
            st.stop()
    region_zoom = (50, 50)
    if crop == "detail":
        region, region_zoom = REGIONS[example]
        picture = picture.crop(region)
    else:
        picture = centre_crop(picture, crop)
    out_w, out_h = output_size(picture.size, scale)
    too_large = out_w * out_h > MAX_OUTPUT_PIXELS
    st.caption(t("superres.sizes", w=picture.width, h=picture.height, mode=picture.mode, scale=scale, ow=out_w,
                 oh=out_h, mp=f"{out_w * out_h / 1e6:.2f}"))

plus = t("superres.ensemble_label") if ensemble else ""
methods = [("bicubic", t("superres.bicubic"), None)] + [(n, f"{n} · {kind(models[n].card)}{plus}", models[n].path)
                                                        for n in ([chosen] if chosen else []) + others]


def method_key(path: Path | None) -> tuple:
    """What a result depends on: the scale and the method (a model file's version, self-ensembled or not)."""
    if path is None:
        return scale, "bicubic"
    try:
        return scale, str(path), path.stat().st_mtime_ns, ensemble
    except OSError:  # a card without its weights: loading it says so
        return scale, str(path), 0, ensemble


def method_fn(name: str, path: Path | None, fast: bool = True):
    """The method as a callable on [0, 1] tensors. `fast`: bfloat16 where the CPU has it natively
    (Upscaler.fast: 8-bit results within 3 levels); Measure keeps float32, the precision of the cards'
    figures."""
    if path is None:
        return bicubic_upscaler(scale)
    model = cached_model("upscaler", path)
    model = model.fast() if fast else model
    return self_ensemble(model) if ensemble else model


# Results live in this session for this picture: moving a slider or switching tabs never runs a model again.
results = st.session_state.setdefault("sr_results", {"input": None, "out": {}, "failed": {}})
if results["input"] != (picture_id, crop):
    results.update(input=(picture_id, crop), out={}, failed={})
out, failed = results["out"], results.setdefault("failed", {})

# An example's part of modest size is upscaled on arrival, without a click, and shared by every visitor;
# the self-ensemble (8 passes) and bigger pictures wait for the button.
auto = source == "example" and not ensemble and out_w * out_h <= AUTO_PIXELS
if auto:
    for name, label, path in methods:
        if method_key(path) not in out:
            try:
                out[method_key(path)] = _shared_result((example, crop), method_key(path), picture, None, False)
            except _NotMadeYet:
                pass
todo = [m for m in methods if method_key(m[2]) not in out and method_key(m[2]) not in failed]


def _upscale_missing() -> None:
    """The button's work: every missing method in turn under its progress bar (for this session)."""
    for name, label, path in [m for m in methods if method_key(m[2]) not in out]:
        try:
            fn = method_fn(name, path)
            with heavy_work() if path is not None else nullcontext():  # bicubic takes milliseconds
                img, seconds = _run_with_progress(
                    label, lambda progress: upscale_image(picture, fn, scale, TILE, OVERLAP, progress))
        except (CheckpointError, OSError) as e:
            st.error(t("errors.checkpoint", message=str(e)))
            continue
        except (RuntimeError, ValueError, MemoryError) as e:
            st.error(t("superres.failed", name=name, message=str(e)))
            continue
        out[method_key(path)] = (img, seconds)


with main:
    # one container for the limit, the button, progress and errors, so the tabs below keep their place
    # (and the tab one is looking at) whatever shows up here
    status = st.container()
    tab_compare, tab_split, tab_measure = st.tabs(
        [t("superres.tab_compare"), t("superres.tab_split"), t("superres.tab_measure")],
        key=f"sr_tabs__{current_language()}")

with status:
    if too_large:
        st.error(t("superres.too_large", ow=out_w, oh=out_h, mp=f"{out_w * out_h / 1e6:.0f}",
                   max=MAX_OUTPUT_PIXELS // 1_000_000))
        st.code(CLI.format(checkpoint=shown_path(models[chosen].path) if chosen else "bicubic", scale=scale)
                + (" --ensemble" if ensemble and chosen else ""), language="bash")
    for key, message in failed.items():
        if any(method_key(m[2]) == key for m in methods):
            st.error(message)
    if not too_large and not auto and todo:
        slot = st.empty()
        if slot.button(t("superres.run", n=len(todo), scale=scale), key="sr_run", type="primary",
                       icon=":material/zoom_in:"):
            slot.empty()
            _upscale_missing()
            todo = [m for m in methods if method_key(m[2]) not in out]

# ---------------------------------------------------------------- side by side, with synchronized zoomed crops

with tab_compare:
    c = st.columns(3)
    # an example's detail opens zoomed on its telling spot, and keeps its own zoom position: keyed per
    # spot with the default as the widget's value (not set through st.session_state, which a widget
    # drawn afresh after runs without it, e.g. a language switch after a bad upload, would not show)
    spot = f"_{example}" if crop == "detail" else ""
    cx = c[0].slider(t("superres.zoom_x"), 0, 100, region_zoom[0], key=f"sr_cx{spot}", format="%d%%")
    cy = c[1].slider(t("superres.zoom_y"), 0, 100, region_zoom[1], key=f"sr_cy{spot}", format="%d%%")
    with c[2]:
        side = localized_choice(st.selectbox, t("superres.zoom_side"), ZOOMS, "sr_zoom", 24,
                                lambda z: t("superres.zoom_px", n=z))
    box = zoom_box(picture.size, cx, cy, side)
    factor = max(1, round(ZOOM_WIDTH / ((box[2] - box[0]) * scale)))
    # the whole pictures, small, with the zoomed region marked
    cols = st.columns(1 + len(methods))
    cols[0].image(outlined(picture, box, enlarge=scale), output_format="PNG", width="stretch",
                  caption=t("superres.input_caption", w=picture.width, h=picture.height))
    crops = [(t("superres.input"), zoomed(picture, box, factor * scale))]
    for col, (name, label, path) in zip(cols[1:], methods):
        if method_key(path) not in out:
            col.caption(t("superres.upscaling" if auto and method_key(path) not in failed else "superres.not_yet",
                          name=label))
            continue
        img, seconds = out[method_key(path)]
        col.image(outlined(img, scaled(box, scale)), output_format="PNG", width="stretch",
                  caption=t("superres.result_caption", name=label, w=img.width, h=img.height, s=f"{seconds:.2f}"))
        crops.append((label, zoomed(img, scaled(box, scale), factor)))
    # the same region of each, enlarged: two or three to a row, so they are large enough to see pixels
    st.caption(t("superres.zoom_caption", x=box[0], y=box[1], n=box[2] - box[0], scale=scale, f=factor))
    grid([(crop_img, t("superres.zoom_of", name=label)) for label, crop_img in crops])
    if crop == "detail" and chosen and method_key(models[chosen].path) in out:  # what a newcomer should see there
        st.markdown(t(f"superres.look_{example}", name=chosen))
    if todo and not auto and not too_large:
        st.info(t("superres.press_run", size=f"{out_w}×{out_h}"))
    # a model that stamps a fixed pattern on flat areas (SRGAN's faint grid in the sky) says so, measured
    for name, label, path in methods[1:]:
        if method_key(path) in out and not ensemble:
            try:
                level = _pattern(method_key(path), method_fn(name, path, fast=False))
            except (CheckpointError, OSError, RuntimeError, ValueError):
                continue
            if level >= PATTERN_SHOWN:
                plain = cached_model("upscaler", path)
                st.caption(t("superres.pattern", name=name, scale=scale, level=f"{level:.1f}",
                             ensembled=f"{_pattern(method_key(path) + ('ensemble',), self_ensemble(plain)):.1f}"))
    chosen_key = method_key(models[chosen].path) if chosen else None
    target = chosen or "bicubic"                     # without a model of this scale, bicubic's result
    if method_key(models[chosen].path if chosen else None) in out:
        result = out[method_key(models[chosen].path if chosen else None)][0]
        file_name = f"{stem}_{target}{'_ensemble' if ensemble and chosen else ''}_x{scale}.png"
        st.download_button(t("superres.download", name=target, w=result.width, h=result.height),
                           lambda: png_bytes(result), file_name, "image/png", key="sr_download", on_click="ignore",
                           icon=":material/download:")
        if result.mode == "RGBA":
            st.caption(t("superres.alpha_note"))

# ---------------------------------------------------------------- before / after

with tab_split:
    bicubic_key = method_key(None)
    if not chosen:
        st.info(t("superres.split_no_model", scale=scale))
    elif chosen_key not in out or bicubic_key not in out:
        st.info(t("superres.split_wait"))
    else:
        split = st.slider(t("superres.split"), 0, 100, 50, key="sr_split", format="%d%%",
                          help=t("superres.split_help"))
        only_zoom = st.toggle(t("superres.split_zoom"), key="sr_split_zoom")
        new, old = out[chosen_key][0], out[bicubic_key][0]
        if only_zoom:
            hr_box = scaled(box, scale)
            new, old = zoomed(new, hr_box, factor), zoomed(old, hr_box, factor)
        st.image(before_after(new, old, split / 100), output_format="PNG", width="stretch",
                 caption=t("superres.split_caption", new=chosen, p=split, q=100 - split))

# ---------------------------------------------------------------- simulate: shrink first, then measure

with tab_measure:
    st.markdown(t("superres.measure_intro", scale=scale))
    sim_key = (picture_id, crop, tuple(method_key(p) for _, _, p in methods))
    sim = st.session_state.get("sr_sim")
    if sim is None or sim[0] != sim_key:
        sim = None
        slot = st.empty()
        if slot.button(t("superres.measure_run", scale=scale, w=picture.width, h=picture.height),
                       key="sr_sim_run", icon=":material/straighten:"):
            slot.empty()
            rows, hr, lr = [], None, None
            bar = st.progress(0.0)
            try:
                for i, (name, label, path) in enumerate(methods):
                    bar.progress(i / len(methods), text=t("superres.measuring", name=label, i=i + 1,
                                                          n=len(methods)))
                    with heavy_work():
                        hr, lr, (measured,) = simulate(picture, {name: method_fn(name, path, fast=False)}, scale,
                                                       TILE, OVERLAP)
                    rows.append((name, measured))
            except (CheckpointError, OSError) as e:
                st.error(t("errors.checkpoint", message=str(e)))
            except ValueError as e:
                st.error(t("superres.measure_failed", message=str(e)))
            except (RuntimeError, MemoryError) as e:
                st.error(t("superres.failed", name=name, message=str(e)))
            else:
                sim = (sim_key, hr, lr, rows)
                st.session_state["sr_sim"] = sim
            finally:
                bar.empty()
    if sim is not None:
        _, hr, lr, rows = sim
        labels = {name: label for name, label, _ in methods}
        rows = [(labels.get(name, name), m) for name, m in rows]
        base = rows[0][1].psnr
        st.dataframe([{t("superres.col_method"): label, t("superres.col_psnr"): m.psnr, t("superres.col_ssim"): m.ssim,
                       t("superres.col_gain"): m.psnr - base if math.isfinite(m.psnr) else None,
                       t("superres.col_time"): m.seconds} for label, m in rows],
                     hide_index=True, key="sr_sim_table",
                     column_config={t("superres.col_psnr"): st.column_config.NumberColumn(format="%.2f"),
                                    t("superres.col_ssim"): st.column_config.NumberColumn(format="%.4f"),
                                    t("superres.col_gain"): st.column_config.NumberColumn(format="%+.2f"),
                                    t("superres.col_time"): st.column_config.NumberColumn(format="%.3f")})
        st.caption(t("superres.measure_caption", w=hr.width, h=hr.height, lw=lr.width, lh=lr.height, scale=scale))
        sbox = zoom_box(lr.size, cx, cy, min(side, *lr.size))
        f = max(1, round(ZOOM_WIDTH / ((sbox[2] - sbox[0]) * scale)))
        grid([(zoomed(hr, scaled(sbox, scale), f), t("superres.original")),
              (zoomed(lr, sbox, f * scale), t("superres.shrunk"))] +
             [(zoomed(m.image, scaled(sbox, scale), f),
               t("superres.measured_caption", name=label, psnr=f"{m.psnr:.2f}", ssim=f"{m.ssim:.3f}"))
              for label, m in rows])

# ---------------------------------------------------------------- the first view, made on arrival

# Last, so the whole page is drawn (and usable) before the work starts: one method at a time, bicubic
# first, then the model; each result is shown by a rerun as soon as it is done.
if auto and todo and not too_large:
    name, label, path = todo[0]
    key = method_key(path)
    try:
        fn = method_fn(name, path)
        with status, heavy_work() if path is not None else nullcontext():
            out[key] = _shared_result((example, crop), key, picture, fn, True)
    except (CheckpointError, OSError) as e:
        failed[key] = t("errors.checkpoint", message=str(e))
    except (RuntimeError, ValueError, MemoryError) as e:
        failed[key] = t("superres.failed", name=name, message=str(e))
    st.rerun()
