"""The Toy Lab page through AppTest: settings from a link, the classic comparison, steps, NaN."""

import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import open_page

from gan_core.lab.toy2d import LabSpec, ModelSpec

PAGE = "views/toy_lab.py"
TINY = {"g_width": 8, "d_width": 8}


def open_lab(query: str | None = None, lang: str = "en") -> AppTest:
    return open_page(PAGE, lang, **({} if query is None else {"lab": query}))


def tiny_link(*losses: str, **spec) -> str:
    return LabSpec(models=[ModelSpec.default(loss).model_copy(update=TINY) for loss in losses], **spec).to_url()


def test_a_link_restores_the_experiment():
    at = open_lab(tiny_link("wgan", "hinge", data="grid25", seed=7, batch=64))
    assert at.session_state["tl_data"] == "grid25" and at.session_state["tl_seed"] == 7
    assert [at.session_state[f"tl{i}_loss"] for i in range(2)] == ["wgan", "hinge"]
    assert at.session_state["tl0_optimizer"] == "rmsprop" and at.session_state["tl0_clip"] == 0.01
    assert at.number_input(key="tl0_clip")  # the clipping field shows for WGAN only
    assert len(at.get("plotly_chart")) >= 2
    assert LabSpec.from_url(at.query_params["lab"][0] if isinstance(at.query_params["lab"], list)
                            else at.query_params["lab"]).models[1].loss == "hinge"


def test_a_damaged_link_falls_back_to_the_defaults_and_says_so():
    at = open_lab("not-a-lab")
    assert "could not be used" in at.warning[0].value
    assert at.session_state["tl0_loss"] == "nonsaturating"


def test_steps_and_the_classic_comparison():
    at = open_lab(tiny_link("nonsaturating"))
    at.button(key="tl_step_d").click().run()
    assert "Step 0" in " ".join(m.value for m in at.markdown)  # a D step does not count as an iteration
    at.button(key="tl_step").click().run()
    assert "Step 1" in " ".join(m.value for m in at.markdown)
    at.button(key="tl_classic").click().run()
    assert not at.exception
    assert [at.session_state[f"tl{i}_loss"] for i in range(4)] == ["minimax", "nonsaturating", "wgan", "wgan-gp"]
    assert at.session_state["tl3_k_d"] == 5 and at.session_state["tl2_lr_d"] == 5e-5
    assert len(at.session_state["tl_panels"]) == 4  # one view per configuration
    assert len(at.get("plotly_chart")) >= 2  # D and G loss curves


def test_changing_the_loss_brings_its_defaults():
    at = open_lab(tiny_link("nonsaturating"))
    at.selectbox(key="tl0_loss").set_value("wgan-gp").run()
    assert at.session_state["tl0_k_d"] == 5 and at.session_state["tl0_beta2"] == 0.9
    assert at.number_input(key="tl0_gp").value == 10.0


def test_an_absurd_learning_rate_is_explained_not_crashed():
    spec = LabSpec(models=[ModelSpec.default("lsgan").model_copy(update={**TINY, "lr_d": 1e9, "lr_g": 1e9,
                                                                          "optimizer": "sgd"})])
    at = open_lab(spec.to_url())
    for _ in range(3):
        at.button(key="tl_step").click().run()
    for _ in range(25):
        if at.error:
            break
        at.button(key="tl_step").click().run()
    assert not at.exception
    assert "became unstable" in at.error[0].value


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_blank_canvas_asks_for_a_drawing(lang):
    at = open_lab(tiny_link("nonsaturating", data="draw"), lang=lang)
    assert not at.exception
    assert at.info and ("canvas is empty" in at.info[0].value or "画布是空的" in at.info[0].value)


def test_settings_survive_a_data_source_that_waits_for_input():
    """Choosing 'CSV' shows an uploader and no lab yet; the configurations drawn meanwhile keep their values."""
    spec = LabSpec(models=[ModelSpec.default("hinge").model_copy(update={**TINY, "lr_g": 3e-3})])
    at = open_lab(spec.to_url())
    at.selectbox(key="tl_data__en").set_value("csv").run()
    assert not at.exception
    assert "first two numeric columns" in at.info[0].value
    at.selectbox(key="tl_data__en").set_value("ring8").run()
    assert at.session_state["tl0_loss"] == "hinge" and at.session_state["tl0_lr_g"] == 3e-3
    assert len(at.session_state["tl_panels"]) == 1


def test_views_of_a_diverging_generator_skip_non_finite_points():
    """G thrown to 1e7 or NaN: the picture is still drawn, finite points where they belong. (PIL walks
    a line pixel by pixel; render_view clips coordinates near the canvas so such lines stay short.)"""
    import numpy as np

    from ui.toylab_plots import render_view, snapshot_png
    far = np.array([[0.0, 0.0], [1e7, -1e7], [np.nan, 1.0]])
    pixels = np.asarray(render_view(3.0, fake=far))
    assert (pixels[180:182, 180:182] == [91, 60, 196]).all()  # the fake at the origin, in its colour
    assert (pixels == [91, 60, 196]).all(-1).sum() == 4  # and no other
    grid = np.stack([np.linspace(-1e7, 1e7, 40), np.linspace(1e7, -1e7, 40)], 1)[None].repeat(30, 0)
    grid[0, 3] = np.nan
    img = render_view(3.0, manifold=grid, push=(far, np.array([[1.0, 0.0], [np.nan, 0.0], [1e9, 1e9]])))
    assert img.size == (360, 360)
    with pytest.raises(ValueError, match="no views"):
        snapshot_png([])


def test_a_setting_shown_for_one_loss_only_survives_a_loss_change():
    """WGAN shows 'clip'; switching to hinge hides it, and reruns must not miss its state."""
    at = open_lab(tiny_link("wgan"))
    at.selectbox(key="tl0_loss").set_value("hinge").run()
    at.button(key="tl_step").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["tl0_optimizer"] == "adam" and "Step 1" in " ".join(m.value for m in at.markdown)


def test_settings_survive_a_visit_to_another_page():
    at = open_lab(tiny_link("wgan-gp", "lsgan", data="grid25", batch=64))
    at.switch_page("views/home.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.session_state["tl_n"] == 2 and at.session_state["tl_batch"] == 64
    assert [at.session_state[f"tl{i}_loss"] for i in range(2)] == ["wgan-gp", "lsgan"]
    assert at.session_state["tl0_k_d"] == 5 and at.session_state["tl_data"] == "grid25"


def test_packing_trains_and_a_pack_that_does_not_divide_the_batch_is_explained():
    at = open_lab(tiny_link("hinge", batch=64))
    at.number_input(key="tl0_pack").set_value(4).run()
    assert not at.exception and not at.error
    assert at.session_state["tl_lab"].cfgs[0].model.pack == 4
    at.button(key="tl_step").click().run()
    assert "Step 1" in " ".join(m.value for m in at.markdown)
    link = at.query_params["lab"]
    assert LabSpec.from_url(link[0] if isinstance(link, list) else link).models[0].pack == 4
    at.number_input(key="tl0_pack").set_value(3).run()
    assert not at.exception
    assert "cannot be trained" in at.error[0].value and "multiple" in at.error[0].value


def test_play_trains_in_the_background_and_charts_every_measurement():
    """Play starts the session's training thread, the picture says how far and how fast it is, Pause
    stops it; the Metrics tab marks every measurement, so the first ones show before there is a line."""
    import json
    import time

    at = open_lab(tiny_link("nonsaturating", "hinge"))
    at.button(key="tl_play").click().run()
    live = at.session_state["tl_live"]
    try:
        assert live.running
        deadline = time.monotonic() + 30
        while live.lab.step < 30 or not live.rate:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        at.run()  # a rerun while playing (AppTest does not tick the live view's timer)
        assert not at.exception
        status = next(m.value for m in at.markdown if m.value.startswith("**Step"))
        assert int(status.split()[1].strip("*")) >= 30 and "steps per second" in status
    finally:
        at.button(key="tl_play").click().run()  # pause
    assert not live.running and at.button(key="tl_play").label == "Play"
    step = live.lab.step
    time.sleep(0.05)
    assert live.lab.step == step
    deadline = time.monotonic() + 30
    while at.session_state["tl_pending"] is not None:  # the measurement taken at the pause
        assert time.monotonic() < deadline
        time.sleep(0.05)
        at.run()
    measured = at.session_state["tl_metrics"]
    assert [m["step"] for m in measured][-1] == step and len(measured) <= 3  # at play (and at the pause)
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    metric = [f for f in figures if "Modes captured" in json.dumps(f["layout"].get("title"))]
    assert metric, [f["layout"].get("title") for f in figures]
    traces = metric[0]["data"]
    assert [tr["name"] for tr in traces] == ["1. nonsaturating", "2. hinge"]
    assert all(tr["mode"] == "lines+markers" and len(tr["x"]) == len(measured) for tr in traces)
