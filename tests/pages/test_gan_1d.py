"""The GAN in 1D page through AppTest, in English and Chinese."""
import json

import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import open_page

from ui.i18n import catalog

PAGE = "views/gan_1d.py"


def open_gan_1d(lang: str) -> AppTest:
    return open_page(PAGE, lang)


def next_phase(at) -> int:
    """Press the stepper, then let the live view run (a) or (d) to its end, a frame per run;
    returns how many more runs that took."""
    at.button(key="gan_1d_next_phase").click().run()
    for runs in range(40):
        if not at.session_state["gan_1d_lab"].phase_running:
            return runs
        assert at.button(key="gan_1d_next_phase").disabled
        assert at.caption[-1].value == catalog(at.session_state["lang"])["gan_1d.phase_running"]
        at.run()
    raise AssertionError("the phase did not finish")


def counters(at) -> tuple[int, int]:
    """(G-steps, D-steps) as the page shows them."""
    return int(at.metric[3].value), int(at.metric[4].value)


def figure(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def traces(at) -> dict[str, dict]:
    return {tr["name"]: tr for tr in figure(at)["data"] if tr.get("name")}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_buttons_step_the_networks(lang):
    cat = catalog(lang)
    at = open_gan_1d(lang)
    assert at.title[0].value == cat["gan_1d.title"]
    assert counters(at) == (0, 0)
    assert set(traces(at)) >= {cat["gan_1d.plot_pdata"], cat["gan_1d.plot_pg"], cat["gan_1d.plot_d"],
                               cat["gan_1d.plot_d_star"]}
    d_before = traces(at)[cat["gan_1d.plot_d"]]["y"]

    at.button(key="gan_1d_d").click().run()
    assert counters(at) == (0, 1)
    assert traces(at)[cat["gan_1d.plot_d"]]["y"] != d_before  # D moved

    g_before = traces(at)[cat["gan_1d.plot_pg"]]["y"]
    at.button(key="gan_1d_g").click().run()
    assert counters(at) == (1, 1)
    assert traces(at)[cat["gan_1d.plot_pg"]]["y"] != g_before  # p_g moved

    history = at.get("plotly_chart")[1]
    at.button(key="gan_1d_alg1").click().run()
    assert counters(at) == (2, 2)
    assert at.get("plotly_chart")[1].proto.spec != history.proto.spec
    assert not at.exception

    at.slider(key="gan_1d_k").set_value(3).run()
    assert at.button(key="gan_1d_d").label == cat["gan_1d.d_steps"].format(k=3)
    at.button(key="gan_1d_d").click().run()
    assert counters(at) == (2, 5)

    at.button(key="gan_1d_reset").click().run()
    assert counters(at) == (0, 0)
    assert traces(at)[cat["gan_1d.plot_d"]]["y"] == d_before


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_phase_stepper_goes_from_a_to_d(lang):
    cat = catalog(lang)
    at = open_gan_1d(lang)
    assert at.button(key="gan_1d_next_phase").label == cat["gan_1d.phase_start"]
    frames = 0
    for phase, follows in zip("abcd", ["b", "c", "d", None]):
        frames += next_phase(at)
        assert not at.exception
        texts = [m.value for m in at.markdown]
        assert cat[f"gan_1d.phase_{phase}_caption"] in texts
        assert any(f":blue-badge[({phase})" in m for m in texts)
        expected = cat["gan_1d.phase_next"].format(phase=follows) if follows else cat["gan_1d.phase_start"]
        assert at.button(key="gan_1d_next_phase").label == expected
        # only (c) draws G as it was before its update, in grey
        assert (cat["gan_1d.plot_pg_before"] in traces(at)) == (phase == "c")
    assert frames > 0  # (a) and (d) ran live, over several runs of the page
    g_steps, d_steps = counters(at)
    assert g_steps > 100 and d_steps > g_steps + 250  # (b) trained D alone for hundreds of steps
    facts = at.caption[-1].value
    assert facts.startswith(cat["gan_1d.phase_d_facts"].split("{")[0]) or \
        facts.startswith(cat["gan_1d.phase_d_unfinished"].split("{")[0])

    at.button(key="gan_1d_g").click().run()  # a step of one's own leaves the stepper
    texts = [m.value for m in at.markdown]
    assert cat["gan_1d.phase_none"] in texts and not any(":blue-badge[" in m for m in texts)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_invalid_p_data_gets_a_clear_message(lang):
    cat = catalog(lang)
    at = open_gan_1d(lang)
    at.number_input(key="gan_1d_std0").set_value(0.0).run()
    assert not at.exception
    assert [e.value for e in at.error] == [cat["gan_1d.invalid_std"].format(k=1)]
    assert not at.get("plotly_chart")  # nothing is trained on it

    at.number_input(key="gan_1d_std0").set_value(0.5).run()
    at.number_input(key="gan_1d_weight0").set_value(0.0).run()
    assert [e.value for e in at.error] == [cat["gan_1d.invalid_weights_zero"]]

    at.number_input(key="gan_1d_weight0").set_value(1.0).run()
    assert not at.error and len(at.get("plotly_chart")) == 2


def test_a_second_component_changes_p_data_not_the_networks():
    at = open_gan_1d("en")
    at.button(key="gan_1d_alg1").click().run()
    pdata = traces(at)["p_data (data)"]["y"]
    at.button_group(key="gan_1d_n").set_value(2).run()
    assert [n.key for n in at.number_input][:6] == ["gan_1d_mean0", "gan_1d_std0", "gan_1d_weight0",
                                                    "gan_1d_mean1", "gan_1d_std1", "gan_1d_weight1"]
    assert traces(at)["p_data (data)"]["y"] != pdata
    assert counters(at) == (1, 1)


def test_play_trains_and_pause_stops():
    at = open_gan_1d("en")
    next_phase(at)
    start = counters(at)
    at.slider(key="gan_1d_speed").set_value(5).run()
    at.button(key="gan_1d_play").click().run()
    assert at.session_state["gan_1d_playing"] is True
    assert at.button(key="gan_1d_play").label == "Pause"
    # the live view ran one frame of Algorithm 1 with this run, outside the stepper's phases
    assert counters(at) == (start[0] + 5, start[1] + 5)
    assert catalog("en")["gan_1d.phase_none"] in [m.value for m in at.markdown]
    at.button(key="gan_1d_play").click().run()
    assert at.button(key="gan_1d_play").label == "Play"
    at.run()
    assert counters(at) == (start[0] + 5, start[1] + 5)


def test_a_new_seed_starts_over_and_a_learning_rate_does_not():
    at = open_gan_1d("en")
    at.button(key="gan_1d_alg1").click().run()
    at.select_slider(key="gan_1d_lr_d").set_value(5e-4).run()
    assert counters(at) == (1, 1)
    at.number_input(key="gan_1d_seed").set_value(7).run()
    assert counters(at) == (0, 0)
    assert not at.exception


def test_coming_back_to_the_page_keeps_the_model_and_its_settings():
    at = open_gan_1d("en")
    at.number_input(key="gan_1d_seed").set_value(7).run()
    at.button_group(key="gan_1d_n").set_value(2).run()
    at.number_input(key="gan_1d_mean1").set_value(-2.0).run()
    at.button(key="gan_1d_alg1").click().run()
    at.switch_page("views/home.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert counters(at) == (1, 1)
    assert at.number_input(key="gan_1d_seed").value == 7
    assert at.number_input(key="gan_1d_mean1").value == -2.0
