"""Unpaired translation (CycleGAN): a picture of one collection becomes a picture of the other, two
collections that were never paired. The cycle x -> G_XY(x) -> G_YX(G_XY(x)) with its reconstruction
error, the identity G_XY(y) of a picture already of the target side, whether a translated digit
keeps its class (with and without the cycle loss), what pairs buy (Pix2Pix on the same strokes),
and the official pretrained generators imported for this session."""
import hashlib
import secrets
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image, ImageOps

from gan_core.apps.cyclegan import Translator, import_official_cyclegan, load_translator, readings, sides
from gan_core.checkpoint import CheckpointError
from gan_core.data.images import DataError, ImageError, decode_image
from gan_core.data.unpaired import built_in_set
from ui import model_card
from ui.compute import heavy_work
from ui.i18n import current_language, localized_choice, t
from ui.images import enlarge, png_bytes
from ui.imports import import_name, safe_stem, session_folder
from ui.models import PageModel, archs_of, cached_model, checkpoints_dir, page_models
from ui.sketch_helpers import CANVAS, canvas_picture, has_lines
from ui.unpaired_view import (EXAMPLE_PHOTOS, STROKES, ablation, back, classifier_file, cycle_weight, example_photo,
                              held_out_picture, paint_strokes, photo_cycle, pictures, read_pictures,
                              strokes_sketcher, to_tensor)

PICTURE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
SIZES = [256, 512, 1024]   # shorter side photo models work at: 256 is the official test size
TILE, OVERLAP = 512, 32    # bigger pictures go through in tiles
ROW = 8                    # held-out digits per draw
SHOW = 176                 # screen pixels of a digit in the cycle (enlarged, pixels kept sharp)
THUMB = 72                 # screen pixels of a digit in the rows
IMPORT_CLI = ("python -m gan_core import cyclegan latest_net_G_A.pth --g-b latest_net_G_B.pth "
              "--name horse2zebra --out checkpoints/horse2zebra")

st.title(t("unpaired.title"))
st.caption(t("unpaired.intro"))


def translators() -> dict[str, PageModel]:
    """CycleGAN models: the shipped ones, then those this session imported."""
    return page_models(archs_of("unpaired"), imports="ug")


def load(model: PageModel) -> Translator:
    """A shipped model from the cache all sessions share; an imported one for this session only."""
    if model.source != "imported":
        return cached_model("translator", model.path)
    memo = st.session_state.setdefault("ug_own_loaded", {})
    if str(model.path) not in memo:
        memo.clear()
        memo[str(model.path)] = load_translator(model.path)
    return memo[str(model.path)]


@st.cache_resource(max_entries=4, show_spinner=False)
def held_out(name: str):
    """A built-in set's test split (shared, never modified): examples, and the digits the rows draw."""
    return built_in_set(name, "test")


@st.cache_resource(max_entries=3, show_spinner=False)
def photo(name: str) -> Image.Image:
    return example_photo(name)


def reader(tr: Translator, side: str):
    """The classifier that reads a side's digits (shared), or None where none does (strokes, photos)."""
    name = classifier_file(tr, side)
    return None if name is None else cached_model("classifier", checkpoints_dir() / name)


def side_label(tr: Translator, side: str) -> str:
    """What a side holds, in the page's language (built-in sets) or as the model names it."""
    src = tr.source(side)
    return t(f"unpaired.set_{src}") if src else tr.side_name(side)


def gap() -> str:
    """What goes between two sentences: a space, none after a Chinese full stop."""
    return "" if current_language() == "zh" else " "


def pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def about(tr: Translator, card: dict) -> str:
    a, b = side_label(tr, "a"), side_label(tr, "b")
    if card.get("imported_from"):
        text = t("unpaired.about_imported", files=", ".join(card["imported_from"]), a=a, b=b,
                 blocks=tr.model.n_blocks, ngf=tr.model.ngf)
    elif tr.is_digits:
        text = t("unpaired.about_digits", a=a, b=b, size=tr.model.img_size)
        text += gap() + (t("unpaired.about_cycle", w=f"{cycle_weight(card):g}") if cycle_weight(card) > 0
                       else t("unpaired.about_nocycle"))
    else:
        text = model_card.description(card) or t("unpaired.about_folders", a=a, b=b)
    if "b2a" not in tr.directions:
        text += gap() + t("unpaired.one_way")
    return text


def new_example() -> None:
    st.session_state["ug_seed"] = secrets.randbelow(1_000_000)


def new_draw() -> None:
    st.session_state["ug_draw"] = secrets.randbelow(1_000_000)


def import_uploaded(ga_key: str, gb_key: str) -> None:
    """The Import button's callback: official generators -> a checkpoint in this session's folder,
    chosen in the picker (callbacks run before the page, so the picker already lists it)."""
    ga, gb = st.session_state.get(ga_key), st.session_state.get(gb_key)
    if ga is None:
        return
    wanted = safe_stem(st.session_state.get("ug_own_name") or "", "")
    folder = session_folder("ug")
    written = []
    try:
        uploads = [(ga, "a")] + ([(gb, "b")] if gb is not None else [])
        for f, side in uploads:
            data = f.getvalue()
            if not data:
                raise CheckpointError(t("unpaired.empty_file", name=f.name))
            src = folder / "upload" / side / (Path(f.name).name or "weights.pth")
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(data)
            written.append(src)
        taken = set(translators()) | {p.stem for p in folder.glob("*.safetensors")}
        name = import_name(f"{wanted}.pth" if wanted else ga.name, taken)
        import_official_cyclegan(written[0], folder / name, written[1] if len(written) > 1 else None, name=name)
    except (CheckpointError, ValueError, KeyError, RuntimeError, OSError) as e:
        st.session_state["ug_own_msg"] = ("error", str(e))
    else:
        st.session_state["ug_own_msg"] = ("success", name)
        st.session_state["ug_model"] = name
        st.session_state["ug_source"] = "upload"
    finally:
        for src in written:
            src.unlink(missing_ok=True)
        # fresh, empty uploaders: the uploads (official generators are ~45 MB each) are not kept
        st.session_state["ug_own_n"] = st.session_state.get("ug_own_n", 0) + 1


def decoded(upload, key: str) -> Image.Image | None:
    """An uploaded picture, decoded once per file (kept in session state under `key`); a bad file is an
    error message and None."""
    memo = st.session_state.get(key)
    if memo is None or memo[0] != upload.file_id:
        try:
            data = upload.getvalue()
            if not data:
                raise ImageError(t("unpaired.empty_file", name=upload.name))
            memo = (upload.file_id, decode_image(data, name=upload.name, min_side=8), None)
        except ImageError as e:
            memo = (upload.file_id, None, str(e))
        st.session_state[key] = memo
    if memo[2]:
        st.error(memo[2])
    return memo[1]


def show(col, img: Image.Image, caption: str, digits: bool) -> None:
    """A picture of the cycle: digits enlarged with sharp pixels, photos at the column's width."""
    if digits:
        big = enlarge(img, SHOW)
        if np.asarray(img).mean() > 127:   # strokes on white: framed, so a blank result still shows where it is
            big = ImageOps.expand(big.crop((1, 1, big.width - 1, big.height - 1)), 1, fill=200)
        col.image(big, width=SHOW, caption=caption, output_format="PNG")
    else:
        col.image(img, width="stretch", caption=caption, output_format="PNG")


def digit_row(title: str, imgs: list[Image.Image], captions: list[str] | None = None) -> None:
    """One row of small digits with a title in front."""
    cols = st.columns([2] + [1] * ROW, vertical_alignment="center")
    cols[0].markdown(title)
    for i, (col, img) in enumerate(zip(cols[1:], imgs)):
        col.image(enlarge(img, THUMB), width=THUMB, output_format="PNG",
                  caption=captions[i] if captions else None)


def read_captions(read, labels) -> list[str]:
    return [t("unpaired.read_ok", d=int(r)) if r == lab else t("unpaired.read_wrong", d=int(r))
            for r, lab in zip(read, labels)]


def own_weights() -> None:
    """The official generators' uploaders (at the bottom of the page, and alone when there is no model)."""
    with st.expander(t("unpaired.own_title"), icon=":material/upload_file:"):
        st.markdown(t("unpaired.own_intro"))
        n = st.session_state.get("ug_own_n", 0)
        c1, c2 = st.columns(2)
        ga = c1.file_uploader(t("unpaired.own_ga"), type=["pth", "pt"], key=f"ug_ga_{n}", max_upload_size=300)
        c2.file_uploader(t("unpaired.own_gb"), type=["pth", "pt"], key=f"ug_gb_{n}", max_upload_size=300)
        st.text_input(t("unpaired.own_name"), key="ug_own_name", placeholder="horse2zebra",
                      help=t("unpaired.own_name_help"))
        st.button(t("unpaired.own_import"), key="ug_import", icon=":material/upload:", disabled=ga is None,
                  on_click=import_uploaded, args=(f"ug_ga_{n}", f"ug_gb_{n}"))
        kind, text = st.session_state.get("ug_own_msg", (None, ""))
        if kind == "error":
            st.error(t("unpaired.own_failed", message=text))
        elif kind == "success":
            st.success(t("unpaired.own_done", name=text))
        st.caption(t("unpaired.own_permanent"))
        st.code(IMPORT_CLI, language="bash")


# ---------------------------------------------------------------- the model and the direction

found = translators()
if not found:
    st.warning(t("unpaired.none", folder=str(checkpoints_dir())))
    own_weights()
    st.stop()

top = st.container()
with top:
    c1, c2 = st.columns([1, 2], gap="large")
    names = list(found)
    with c1:
        name = localized_choice(st.selectbox, t("unpaired.model"), names, "ug_model",
                                "cyclegan_digits" if "cyclegan_digits" in found else names[0],
                                lambda m: t("unpaired.yours", name=m) if found[m].source == "imported" else m,
                                in_url=True)
    model = found[name]
    try:
        tr = load(model)
    except (CheckpointError, OSError) as e:
        st.error(t("errors.checkpoint", message=str(e)))
        st.stop()
    c2.caption(about(tr, model.card))
    with c2:
        direction = localized_choice(st.radio, t("unpaired.direction"), list(tr.directions), "ug_dir", "a2b",
                                     lambda d: t("unpaired.direction_label", x=sides(d)[0].upper(),
                                                 y=sides(d)[1].upper(), a=side_label(tr, sides(d)[0]),
                                                 b=side_label(tr, sides(d)[1])),
                                     in_url=True, horizontal=True)

src, dst = sides(direction)
X, Y = side_label(tr, src), side_label(tr, dst)
built_in = tr.source(src) is not None          # a digit set: examples, drawing, held-out rows
live = tr.is_digits                            # small nets on 32-px pictures: results as you choose

# ---------------------------------------------------------------- the input

left, right = st.columns([1, 2], gap="large")
with left:
    st.subheader(t("unpaired.input_title"))
    sources = ["example", "upload"] + (["draw"] if built_in else [])
    source = localized_choice(st.radio, t("unpaired.source"), sources, "ug_source", "example",
                              lambda s: t(f"unpaired.source_{s}"), horizontal=True)
    size = None
    if not built_in:
        size = localized_choice(st.selectbox, t("unpaired.size"), SIZES, "ug_size", SIZES[0],
                                lambda s: t("unpaired.size_px", n=s), help=t("unpaired.size_help", tile=TILE))
    img, input_id, input_caption = None, None, None
    if source == "example":
        if built_in:
            st.button(t("unpaired.another_example"), icon=":material/casino:", key="ug_example", on_click=new_example)
            seed = int(st.session_state.get("ug_seed", 0))
            img, digit = held_out_picture(held_out(tr.source(src)), seed)
            input_id, input_caption = ("example", tr.source(src), seed), t("unpaired.example_digit", label=digit,
                                                                           side=X)
        else:
            chosen = localized_choice(st.selectbox, t("unpaired.example"), list(EXAMPLE_PHOTOS), "ug_photo",
                                      EXAMPLE_PHOTOS[0], lambda p: t(f"unpaired.photo_{p}"))
            img, input_id = photo(chosen), ("photo", chosen)
            input_caption = t("unpaired.example_photo", photo=t(f"unpaired.photo_{chosen}"))
    elif source == "upload":
        f = st.file_uploader(t("unpaired.upload", side=X), type=PICTURE_TYPES, key="ug_upload")
        if f is None:
            st.caption(t("unpaired.upload_hint_digits" if built_in else "unpaired.upload_hint_photo", side=X))
        else:
            img = decoded(f, "ug_decoded")
            if img is not None:
                input_id, input_caption = ("upload", f.file_id), t("unpaired.your_picture", file=f.name)
    else:
        strokes = tr.source(src) == STROKES
        brush = int(st.slider(t("unpaired.brush"), 1, 40, 6 if strokes else 22, key=f"ug_brush_{tr.source(src)}",
                              help=t("unpaired.brush_help_strokes" if strokes else "unpaired.brush_help_digits")))
        st.space("small")   # room for the toolbar the canvas shows above itself
        # importing it outside a running page raises
        from streamlit_drawable_canvas import st_canvas
        drawn = st_canvas(stroke_width=brush, stroke_color="#000000", background_color="#ffffff",
                          update_streamlit=True, height=CANVAS, width=CANVAS, drawing_mode="freedraw",
                          return_image_data=True, key="ug_canvas")
        st.caption(t("unpaired.canvas_hint"))
        data = drawn.image_data
        if data is not None and data.ndim == 3 and data.shape[-1] == 4 and data[..., 3].any():
            picture = canvas_picture(data, None)
            if has_lines(np.asarray(picture)):
                img = picture
                input_id = ("draw", hashlib.sha1(np.asarray(picture).tobytes()).hexdigest())
    if img is not None and input_caption:          # (a drawing is on the canvas already)
        thumb = img.copy()
        thumb.thumbnail((2 * 160, 2 * 160), Image.Resampling.LANCZOS)
        st.image(enlarge(thumb, 160) if built_in else thumb, width=160, caption=input_caption, output_format="PNG")

# ---------------------------------------------------------------- the cycle and the identity

# The target side's picture y for the identity mapping: a held-out one of a digit set, else uploaded.
y_img, y_id, y_caption = None, None, None
if tr.source(dst) is not None:
    y_img, y_label = held_out_picture(held_out(tr.source(dst)), int(st.session_state.get("ug_seed", 0)) + 1)
    y_id, y_caption = ("held_out", tr.source(dst), int(st.session_state.get("ug_seed", 0))), \
        t("unpaired.identity_y_digit", label=y_label, side=Y)

with right:
    st.subheader(t("unpaired.cycle_title"))
    st.caption(t("unpaired.cycle_intro", x=X, y=Y))
    cycle_box = st.container()
    st.subheader(t("unpaired.identity_title"))
    st.caption(t("unpaired.identity_intro", x=X, y=Y))
    if y_img is None:
        fy = st.file_uploader(t("unpaired.identity_upload", side=Y), type=PICTURE_TYPES, key="ug_id_upload")
        if fy is not None:
            y_img = decoded(fy, "ug_id_decoded")
            if y_img is not None:
                y_id, y_caption = ("upload", fy.file_id), t("unpaired.your_picture", file=fy.name)
    identity_box = st.container()

try:
    mtime = model.path.stat().st_mtime_ns
except OSError:
    mtime = 0
# Results live in this session for this input: a rerun (a slider, the other tab) never runs a model again.
results = st.session_state.setdefault("ug_results", {"input": None, "out": {}})
if results["input"] != input_id:
    results.update(input=input_id, out={})
out = results["out"]
cycle_key = ("cycle", str(model.path), mtime, direction, size)
identity_key = ("identity", str(model.path), mtime, direction, size, y_id)
wanted = ([cycle_key] if img is not None else []) + ([identity_key] if y_img is not None else [])
missing = [k for k in wanted if k not in out]

with cycle_box:
    run = live
    if missing and not live:
        slot = st.empty()
        run = slot.button(t("unpaired.run", x=X, y=Y), key="ug_run", type="primary", icon=":material/swap_horiz:")
        if run:
            slot.empty()
    if missing and run:
        bar = None if live else st.progress(0.0, text=t("unpaired.working"))

        def progress(step: int, done: int, total: int) -> None:
            bar.progress(done / total, text=t("unpaired.tiles", step=step, done=done, total=total))
        try:
            with heavy_work() if not live else nullcontext():
                if cycle_key in missing:
                    if tr.source(src) is None and tr.source(dst) is None:
                        out[cycle_key] = photo_cycle(tr, img, direction, size, TILE, OVERLAP, progress)
                    else:
                        out[cycle_key] = tr.cycle(img, direction, size)
                if identity_key in missing:
                    try:
                        out[identity_key] = tr.identity(y_img, direction, size)
                    except ValueError:
                        out[identity_key] = None           # sides of different channels: no identity
        except (RuntimeError, ValueError, MemoryError) as e:
            st.error(t("unpaired.failed", message=str(e)))
        finally:
            if bar is not None:
                bar.empty()
    if img is None:
        st.info(t("unpaired.waiting_draw" if source == "draw" else "unpaired.waiting"))
    elif cycle_key in out:
        c = out[cycle_key]
        cols = st.columns(3)
        show(cols[0], c.x, t("unpaired.cap_x", side=X, w=c.x.width, h=c.x.height), live)
        show(cols[1], c.y, t("unpaired.cap_y", side=Y, w=c.y.width, h=c.y.height), live)
        if c.rec is not None:
            show(cols[2], c.rec, t("unpaired.cap_rec", side=X), live)
            st.caption(t("unpaired.cycle_error", err=f"{c.error:.3f}"))
            measured, way_back = model.card.get("metrics") or {}, back(direction)
            if tr.source(src) == STROKES and f"{way_back}_ink" in measured:  # strokes drawn back: any ink?
                st.caption(t("unpaired.ink", drawn=f"{100 * measured[f'{way_back}_ink']:.1f}%",
                             real=f"{100 * measured.get(f'real_ink_{src}', 0):.1f}%", side=X))
        else:
            cols[2].info(t("unpaired.no_way_back", x=X))
        st.download_button(t("unpaired.download", side=Y), png_bytes(c.y), f"{name}_{direction}.png", "image/png",
                           key="ug_download", icon=":material/download:", on_click="ignore")
    elif not live:
        st.info(t("unpaired.press_run", x=X, y=Y))

with identity_box:
    if y_img is None:
        st.caption(t("unpaired.identity_hint", side=Y))
    elif identity_key in out:
        if out[identity_key] is None:
            st.caption(t("unpaired.identity_channels"))
        else:
            y, gy, err = out[identity_key]
            cols = st.columns(3)
            show(cols[0], y, y_caption, live)
            show(cols[1], gy, t("unpaired.cap_identity", side=Y), live)
            trained = model.card.get("train") or {}
            # the cycle that starts on this side (lambda_A for a2b, lambda_B for b2a), and the identity
            # term of the generator mapping into Y, weighted by Y's lambda (as the official code)
            lam_a = cycle_weight(model.card)
            lam_b = lam_a if trained.get("cycle_weight_b") is None else float(trained["cycle_weight_b"])
            lam_x, lam_y = (lam_a, lam_b) if direction == "a2b" else (lam_b, lam_a)
            st.caption(t("unpaired.identity_error", err=f"{err:.3f}") + (gap() + t(
                "unpaired.identity_weights", w=f"{lam_x:g}",
                wid=f"{lam_y * trained.get('identity_weight', 0.5):g}") if trained else ""))

# ---------------------------------------------------------------- does a 3 stay a 3? (digit sets)

if built_in:
    st.divider()
    shipped = {n: m.card for n, m in page_models(archs_of("unpaired")).items()}
    pair = ablation(shipped, name) if name in shipped else None
    strokes_a2b = tr.source(src) == STROKES and tr.source(dst) is not None
    sketch_name = strokes_sketcher({n: m.card for n, m in page_models(archs_of("paired")).items()}) \
        if strokes_a2b else None
    st.subheader(t("unpaired.pairs_title" if strokes_a2b else "unpaired.keep_title"))
    st.caption(t("unpaired.pairs_intro" if strokes_a2b else "unpaired.keep_intro", x=X, y=Y, n=ROW))
    yours = st.container()
    st.button(t("unpaired.new_draw"), icon=":material/casino:", key="ug_new_draw", on_click=new_draw)
    seed = int(st.session_state.get("ug_draw", 0))

    def rows_of(label: str, m: PageModel):
        """Readings of a model (this session's, per model version, direction and draw)."""
        memo = st.session_state.setdefault("ug_readings", {})
        key = (str(m.path), m.path.stat().st_mtime_ns, direction, seed)
        if key not in memo:
            t_ = tr if label == name else cached_model("translator", m.path)
            if len(memo) > 8:
                memo.clear()
            memo[key] = readings(t_, direction, ROW, seed, classifier=reader(t_, dst))
        return memo[key]

    try:
        sk = cached_model("sketcher", page_models(archs_of("paired"))[sketch_name].path) if sketch_name else None
        if sk is not None and cycle_key in out:
            # the picture above, through both: does the paired model see the digit the unpaired one misses?
            c = out[cycle_key]
            painted, _ = paint_strokes(sk, to_tensor(c.x))
            reads = read_pictures(reader(tr, dst), [painted[0], c.y])
            with yours:
                cols = st.columns([2, 2, 2, 2, 3], vertical_alignment="center")
                cols[0].markdown(t("unpaired.row_yours"))
                for col, img, cap in zip(cols[1:], [c.x, painted[0], c.y], [t("unpaired.cap_strokes")] + [
                        t("unpaired.read_by", name=n, d=d) if d is not None else n
                        for n, d in zip((sketch_name, name), reads)]):
                    col.image(enlarge(img, 2 * THUMB), width=2 * THUMB, caption=cap, output_format="PNG")
        r = rows_of(name, model)
        digit_row(t("unpaired.row_inputs", side=X), pictures(r.inputs),
                  [t("unpaired.label", d=int(lab)) for lab in r.labels])
        lines = [(name, r)]
        if pair is not None:
            other = pair[1] if pair[0] == name else pair[0]
            lines.append((other, rows_of(other, found[other])))
        sketch_reads = None
        if sk is not None:
            painted, sketch_reads = paint_strokes(sk, r.inputs, reader(tr, dst))
            digit_row(t("unpaired.row_paired", name=sketch_name), painted,
                      read_captions(sketch_reads, r.labels) if sketch_reads is not None else None)
        for label, rr in lines:
            kind = t("unpaired.with_cycle") if cycle_weight(found[label].card) > 0 else t("unpaired.without_cycle")
            digit_row(t("unpaired.row_model", name=label, kind=kind), pictures(rr.outputs),
                      read_captions(rr.read, rr.labels) if rr.read is not None else None)
        if r.read is None:
            st.caption(t("unpaired.no_reader", side=Y))
            ink = (model.card.get("metrics") or {})
            if f"{direction}_ink" in ink and f"real_ink_{dst}" in ink:  # strokes: are any drawn at all?
                st.caption(t("unpaired.ink", drawn=f"{100 * ink[f'{direction}_ink']:.1f}%",
                             real=f"{100 * ink[f'real_ink_{dst}']:.1f}%", side=Y))
        else:
            kept = [t("unpaired.kept_of", name=label, k=int((rr.read == rr.labels).sum()), n=ROW)
                    for label, rr in lines]
            if sketch_reads is not None:
                kept.insert(0, t("unpaired.kept_of", name=sketch_name, k=int((sketch_reads == r.labels).sum()), n=ROW))
            st.caption(" · ".join(kept))
    except (CheckpointError, OSError) as e:
        st.error(t("errors.checkpoint", message=str(e)))
    except DataError as e:
        st.error(str(e))

    # the measured rates, from the cards (eval --update-card on every held-out digit)
    table = []
    if sketch_name is not None:
        m = page_models(archs_of("paired"))[sketch_name].card.get("metrics") or {}
        table.append({t("unpaired.col_model"): sketch_name, t("unpaired.col_trained"): t("unpaired.trained_pairs"),
                      t("unpaired.col_kept", x=X, y=Y): pct(m.get("recognised")),
                      t("unpaired.col_cycle_error", x=X): "—"})
    for label in ([name] if pair is None else list(pair)):
        m = found[label].card.get("metrics") or {}
        row = {t("unpaired.col_model"): label,
               t("unpaired.col_trained"): t("unpaired.trained_cycle", w=f"{cycle_weight(found[label].card):g}")
               if cycle_weight(found[label].card) > 0 else t("unpaired.trained_nocycle"),
               t("unpaired.col_kept", x=X, y=Y): pct(m.get(f"{direction}_preserved"))}
        if not strokes_a2b and back(direction) in tr.directions and tr.source(dst) is not None:
            row[t("unpaired.col_kept", x=Y, y=X)] = pct(m.get(f"{back(direction)}_preserved"))
        row[t("unpaired.col_cycle_error", x=X)] = "—" if m.get(f"cycle_error_{src}") is None \
            else f"{m[f'cycle_error_{src}']:.3f}"
        table.append(row)
    measured = model.card.get("metrics") or {}
    if f"{direction}_resampled" in measured:  # the same digits with no network: only the layout changed
        row = {t("unpaired.col_model"): t("unpaired.resampled"), t("unpaired.col_trained"): t("unpaired.trained_none"),
               t("unpaired.col_kept", x=X, y=Y): pct(measured[f"{direction}_resampled"])}
        if t("unpaired.col_kept", x=Y, y=X) in table[-1]:
            row[t("unpaired.col_kept", x=Y, y=X)] = pct(measured.get(f"{back(direction)}_resampled"))
        row[t("unpaired.col_cycle_error", x=X)] = "—"
        table.append(row)
    st.markdown(t("unpaired.rates_title"))
    st.dataframe(table, hide_index=True, key="ug_rates")
    ceiling = (model.card.get("metrics") or {}).get(f"classifier_{dst}_on_real")
    if ceiling is not None:
        st.caption(t("unpaired.rates_caption", pct=pct(ceiling), side=Y,
                     n=(model.card.get("metrics") or {}).get(f"test_{src}", "?")))
    elif not (model.card.get("metrics") or {}):
        st.caption(t("unpaired.not_measured", path=str(model.path)))

model_card.details(model.card)

# ---------------------------------------------------------------- your own weights

st.divider()
own_weights()
