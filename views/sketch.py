"""Sketch to image: draw on a canvas (or load a random example, a sketch or a photo onto it) and a
Pix2Pix U-Net paints a picture from the lines, beside it, as you draw."""
import secrets
from pathlib import Path

import streamlit as st
from PIL import Image

from gan_core.apps.pix2pix import import_official_pix2pix, load_sketcher
from gan_core.checkpoint import CheckpointError
from gan_core.config import SR_ARCHS
from gan_core.data.images import ImageError, decode_image
from ui.i18n import current_language, localized_choice, t
from ui.images import enlarge, png_bytes
from ui.imports import import_weights
from ui.model_card import details, summary
from ui.models import PageModel, archs_of, cached_model, checkpoints_dir, page_models
from ui.sketch_helpers import (CANVAS, background_picture, canvas_picture, example_digit, example_photo,
                               has_lines, is_digit_model, is_experiment, photo_title, ranked, short_name, working_size)

PIX2PIX_ARCHS = tuple(a for a in archs_of("paired") if a not in SR_ARCHS)
PICTURE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
THUMB = 120
FIRST_EXAMPLE = 5    # the seed of the example a first visit opens on: a clear held-out 6

st.title(t("sketch.title"))
st.caption(t("sketch.intro"))


def sketchers() -> dict[str, PageModel]:
    """Pix2Pix models: the shipped ones, then those this session imported."""
    return page_models(PIX2PIX_ARCHS, imports="sk")


def import_uploaded(key: str) -> None:
    """The uploader's callback: official pix2pix weights -> a checkpoint in this session's folder,
    chosen in the picker (callbacks run before the page, so the picker already lists it)."""
    f = st.session_state.get(key)
    if f is None:
        return
    try:
        name = import_weights(f, "sk", import_official_pix2pix, set(sketchers()))
    except (CheckpointError, ValueError, KeyError, RuntimeError, OSError) as e:
        st.session_state["sk_pth_msg"] = ("error", str(e))
    else:
        st.session_state["sk_pth_msg"] = ("success", name)
        st.session_state["sk_model"] = name
    finally:
        # a fresh, empty uploader: the upload (official U-Nets are ~200 MB) is not kept in memory
        st.session_state["sk_pth_n"] = st.session_state.get("sk_pth_n", 0) + 1


def load(path: Path, own: bool):
    """A shipped model from the cache all sessions share; an imported one for this session only
    (one at a time), so it goes with the session."""
    if not own:
        return cached_model("sketcher", path)
    memo = st.session_state.setdefault("sk_own_loaded", {})
    if str(path) not in memo:
        memo.clear()
        memo[str(path)] = load_sketcher(path)
    return memo[str(path)]


def new_canvas() -> None:
    st.session_state["sk_gen"] = st.session_state.get("sk_gen", 0) + 1


def set_background(name: str, drawing, original=None, caption: tuple | None = None) -> None:
    """Put a drawing on a fresh canvas (the old strokes go), with the picture it came from (kept
    small: it is shown as a thumbnail on every rerun)."""
    if original is not None and max(original.size) > 2 * THUMB:
        original = original.copy()
        original.thumbnail((2 * THUMB, 2 * THUMB), Image.Resampling.LANCZOS)
    st.session_state["sk_bg"] = {"model": name, "drawing": drawing, "original": original, "caption": caption}
    new_canvas()


def clear_background() -> None:
    st.session_state.pop("sk_bg", None)
    new_canvas()


def new_variation() -> None:
    st.session_state["sk_seed"] = secrets.randbelow(1_000_000)


def measured(m: dict) -> str:
    """The card's held-out figures in one sentence, beside what they compare with (real digits, a plain
    grey picture), which the card's own list of figures does not say."""
    if "recognised" in m:
        return t("sketch.metrics_digits", pct=f"{100 * m['recognised']:.0f}",
                 real=f"{100 * m.get('classifier_on_real', 1):.0f}", n=m.get("test_digits", 500))
    if "psnr_y" in m:
        return t("sketch.metrics_photos", psnr=f"{m['psnr_y']:.1f}", grey=f"{m.get('grey_psnr_y', 0):.1f}",
                 photos=t("sketch.list_sep").join(m.get("validation_photos", [])))
    return ""


def strength(card: dict) -> str:
    """The measured quality in the picker, from the card's figures ("" when nobody measured it)."""
    m = card.get("metrics") or {}
    if "recognised" in m:
        words = t("sketch.strength_digits", pct=f"{100 * m['recognised']:.0f}")
    elif "psnr_y" in m and "grey_psnr_y" in m:
        words = t("sketch.strength_photos", psnr=f"{m['psnr_y']:.1f}", grey=f"{m['grey_psnr_y']:.1f}",
                  than=t("sketch.below" if m["psnr_y"] <= m["grey_psnr_y"] else "sketch.above"))
    else:
        return ""
    return t("sketch.experiment", strength=words) if is_experiment(card) else words


def label(name: str) -> str:
    model = found[name]
    shown = t("sketch.yours", name=name) if model.source == "imported" else name
    return f"{shown} · {strength(model.card)}" if strength(model.card) else shown


def about(card: dict) -> str:
    """What the model draws, in the page's language: for cards without their own description_zh (imports)."""
    data = (card.get("data") or {}).get("name")
    if data in ("mnist5k", "photos"):
        return t(f"sketch.about_{data}")
    if card.get("imported_from"):
        return t("sketch.about_imported", file=card["imported_from"], size=card["model"]["img_size"])
    return card.get("description", "")


def shown_card(card: dict) -> dict:
    """The card for ui.model_card, with this page's translation where the card has no description_zh."""
    if current_language() == "zh" and not card.get("description_zh"):
        return {**card, "description_zh": about(card)}
    return card


def experiment_note(card: dict, best: str | None) -> None:
    """What a weak model can and cannot do, in its card's own figures; and which one works, if any."""
    m = card.get("metrics") or {}
    if "psnr_y" in m:
        note = t("sketch.experiment_photos", psnr=f"{m['psnr_y']:.1f}", grey=f"{m.get('grey_psnr_y', 0):.1f}",
                 photos=t("sketch.list_sep").join(m.get("validation_photos", [])) or "?")
    else:
        note = t("sketch.experiment_digits", pct=f"{100 * m.get('recognised', 0):.0f}", n=m.get("test_digits", 500))
    if best:  # sentences follow each other after a space in English, straight after "。" in Chinese
        note += ("" if current_language() == "zh" else " ") + t("sketch.experiment_better", best=best)
    st.warning(note, icon=":material/science:")


top = st.container()
left, right = st.columns(2, gap="large")

# ---------------------------------------------------------------- your own weights (bottom of the page)

with st.expander(t("sketch.own_title"), icon=":material/upload_file:"):
    st.markdown(t("sketch.own_intro"))
    pth_key = f"sk_pth_{st.session_state.get('sk_pth_n', 0)}"
    st.file_uploader(t("sketch.own_upload"), type=["pth", "pt"], key=pth_key, on_change=import_uploaded,
                     args=(pth_key,), max_upload_size=300)
    kind, text = st.session_state.get("sk_pth_msg", (None, ""))
    if kind == "error":
        st.error(t("sketch.own_failed", message=text))
    elif kind == "success":
        st.success(t("sketch.own_done", name=text))
    st.caption(t("sketch.own_permanent"))
    st.code("python -m gan_core import pix2pix latest_net_G.pth --out checkpoints/NAME", language="bash")

# ---------------------------------------------------------------- the model

found = sketchers()
if not found:
    with top:
        st.warning(t("sketch.none", folder=str(checkpoints_dir())))
    st.stop()

with top:
    c1, c2 = st.columns([1, 2], gap="large")
    with c1:
        names = ranked({n: m.card for n, m in found.items()})   # the digit model first, the photo experiment last
        name = localized_choice(st.selectbox, t("sketch.model"), names, "sk_model", names[0], label, in_url=True)
    path, card = found[name].path, found[name].card
    with c2:
        summary(shown_card(card))
        if is_experiment(card):
            experiment_note(card, None if is_experiment(found[names[0]].card) else names[0])
        else:
            if measured(card.get("metrics") or {}):
                st.caption(measured(card.get("metrics") or {}))
            experiments = [n for n in names if is_experiment(found[n].card)]
            if experiments:
                st.caption(t("sketch.others", names=t("sketch.list_sep").join(experiments)))
        details(card)
    try:
        sk = load(path, found[name].source == "imported")
    except (CheckpointError, OSError) as e:
        st.error(t("errors.checkpoint", message=str(e)))
        st.stop()

size = working_size(sk)
digits = is_digit_model(card)
bg = st.session_state.get("sk_bg")
if bg is not None and bg["model"] != name:   # drawings are made for one model's size and edges
    clear_background()
    bg = None

# ---------------------------------------------------------------- the canvas and what goes on it

with left:
    tools = st.columns([1, 1, 2])
    pen = localized_choice(tools[0].radio, t("sketch.tool"), ["pen", "eraser"], "sk_tool", "pen",
                           lambda o: t(f"sketch.tool_{o}"))
    mode = localized_choice(tools[1].radio, t("sketch.stroke"), ["freedraw", "line"], "sk_mode", "freedraw",
                            lambda o: t(f"sketch.stroke_{o}"))
    # a digit drawing is scaled down 8x: thin strokes would vanish
    brush = int(tools[2].slider(t("sketch.brush"), 1, 40, 14 if digits else 3, key=f"sk_brush_{name}",
                                help=t("sketch.brush_help")))
    st.space("small")   # room for the toolbar the canvas shows above itself
    canvas_box = st.container()
    b1, b2 = st.columns(2)
    example = b1.button(t("sketch.example"), icon=":material/casino:", key="sk_example", width="stretch")
    b2.button(t("sketch.blank"), icon=":material/ink_eraser:", key="sk_blank", on_click=clear_background,
              width="stretch")
    # A first visit opens on a drawing already painted (a fixed held-out example), not a blank canvas
    first_visit = bg is None and not st.session_state.get("sk_opened")
    st.session_state["sk_opened"] = True
    if example or first_visit:
        seed = FIRST_EXAMPLE if first_visit and not example else secrets.randbelow(1_000_000)
        if digits:
            picture, drawing, label = example_digit(seed, size, sk.data.edges, sk.data.edge_sigma)
            set_background(name, drawing, Image.fromarray(picture), ("sketch.original_digit", {"label": label}))
        else:
            crop, photo = example_photo(seed, size)
            set_background(name, sk.edges(crop, size), crop,
                           ("sketch.original_photo", {"photo": photo_title(photo)}))
        bg = st.session_state["sk_bg"]

    with st.container(border=True):
        upload_kind = localized_choice(st.radio, t("sketch.upload_kind"), ["sketch", "photo"], "sk_upload_kind",
                                       "sketch", lambda o: t(f"sketch.upload_{o}"), horizontal=True)
        f = st.file_uploader(t("sketch.upload"), type=PICTURE_TYPES, key="sk_upload")
        signature = (f.file_id, upload_kind, name) if f is not None else None
        if signature is not None and signature != st.session_state.get("sk_upload_sig"):
            st.session_state["sk_upload_sig"], st.session_state["sk_upload_err"] = signature, None
            try:
                data = f.getvalue()
                if not data:
                    raise ImageError(t("sketch.empty_file", name=f.name))
                img = decode_image(data, name=f.name, min_side=8)
                if upload_kind == "photo":
                    set_background(name, sk.edges(img, size), img,
                                   ("sketch.original_upload", {"file": short_name(f.name)}))
                else:
                    set_background(name, sk.drawing(img, size), None, None)
                bg = st.session_state["sk_bg"]
            except ImageError as e:
                st.session_state["sk_upload_err"] = str(e)
        if f is not None and st.session_state.get("sk_upload_sig") == signature \
                and st.session_state.get("sk_upload_err"):
            st.error(st.session_state["sk_upload_err"])
        else:
            st.caption(t(f"sketch.upload_hint_{upload_kind}"))

    with canvas_box:
        from streamlit_drawable_canvas import st_canvas  # importing it outside a running page raises
        drawn = st_canvas(stroke_width=brush, stroke_color="#000000" if pen == "pen" else "#ffffff",
                          background_color="#ffffff",
                          background_image=background_picture(bg["drawing"]) if bg is not None else None,
                          update_streamlit=True, height=CANVAS, width=CANVAS, drawing_mode=mode,
                          return_image_data=True, key=f"sk_canvas_{st.session_state.get('sk_gen', 0)}")
        st.caption(t("sketch.canvas_hint"))

strokes = drawn.image_data
if strokes is not None and strokes.ndim == 3 and strokes.shape[-1] == 4:
    # an opaque white canvas without a background: nothing drawn is white, which is also blank
    touched = strokes[..., 3].any() and (bg is not None or (strokes[..., :3] < 128).any())
else:
    touched = False
if bg is not None and not touched:
    lines = bg["drawing"]                        # exactly the drawing loaded, not a rescaled copy
else:
    lines = sk.drawing(canvas_picture(strokes if touched else None, bg["drawing"] if bg else None), size)

# ---------------------------------------------------------------- the result

with right:
    result_box = st.container()
    v1, v2 = st.columns([3, 2], vertical_alignment="bottom")
    vary = v1.toggle(t("sketch.vary"), key="sk_vary", disabled=not sk.has_dropout, help=t("sketch.vary_help"))
    variation = None
    if sk.has_dropout and vary:
        # starts at min_value (0): New variation sets it through session state (a default beside that warns)
        variation = int(v2.number_input(t("sketch.seed"), 0, 2**31 - 1, step=1, key="sk_seed"))
        st.button(t("sketch.new_variation"), icon=":material/casino:", on_click=new_variation, key="sk_new_var")
    elif not sk.has_dropout:
        st.caption(t("sketch.no_dropout"))
    if not has_lines(lines):
        result_box.info(t("sketch.empty"))
    else:
        out, seconds = sk.translate(lines, variation)
        with result_box:
            st.image(enlarge(out, CANVAS), width=CANVAS, caption=t("sketch.result", name=name), output_format="PNG")
            st.caption(t("sketch.timing", ms=f"{seconds * 1000:.0f}", size=size)
                       + (" " + t("sketch.timing_seed", seed=variation) if variation is not None else ""))
            # captions as wide as their column, not as the thumbnail: an image's own caption is only
            # THUMB wide, too narrow for "immunohistochemistry", which it broke mid-word
            small = st.columns(2)
            small[0].image(enlarge(Image.fromarray(lines), THUMB), width=THUMB, output_format="PNG")
            small[0].caption(t("sketch.model_input", size=size))
            if bg is not None and bg.get("original") is not None:
                key, values = bg["caption"]
                small[1].image(enlarge(bg["original"], THUMB), width=THUMB, output_format="PNG")
                small[1].caption(t(key, **values))
        st.download_button(t("sketch.download"), png_bytes(out), f"{name}_result.png", "image/png",
                           key="sk_download", icon=":material/download:", on_click="ignore")
