"""The Divergences page through AppTest: the numbers follow θ, the live experiment runs, both languages."""
import math
import re

import pytest
from streamlit.testing.v1 import AppTest

from apptest_helpers import app, open_page

from gan_core import theory

PAGE = "views/divergences.py"
METRICS = ("js", "kl_pq", "kl_qp", "tv", "w1")


def open_divergences(lang: str = "en") -> AppTest:
    return open_page(PAGE, lang)


def shown(at: AppTest) -> dict[str, float]:
    return {key: math.inf if m.value == "∞" else float(m.value) for key, m in zip(METRICS, at.metric)}


@pytest.fixture(scope="module")
def page() -> AppTest:
    return open_divergences()


def test_renders_in_english(page):
    assert page.title[0].value == "Divergences"
    assert [m.label for m in page.metric] == ["JS divergence", r"$\mathrm{KL}(P_0 \Vert P_\theta)$",
                                              r"$\mathrm{KL}(P_\theta \Vert P_0)$", "Total variation", "W₁ distance"]
    assert page.slider(key="div_theta").value == 0.5
    assert len(page.get("plotly_chart")) == 3  # the lines, the curves over θ, the Gaussian fits
    assert "Train" in [b.label for b in page.button] and page.info  # nothing trains until asked


@pytest.mark.parametrize("theta", [0.5, -0.35, 1.0, 0.05])
def test_shown_numbers_are_the_closed_forms(page, theta):
    page.slider(key="div_theta").set_value(theta).run()
    assert not page.exception
    expected = theory.parallel_lines(theta)
    for key, value in shown(page).items():
        assert value == pytest.approx(expected[key], abs=5e-4), key
    assert page.metric[4].value == f"{abs(theta):.3f}"  # W1 = |θ|
    assert page.metric[1].value == page.metric[2].value == "∞"


def test_theta_zero_shows_zeros(page):
    page.slider(key="div_theta").set_value(0.0).run()
    assert [m.value for m in page.metric] == ["0.000"] * 5


def test_a_bad_link_falls_back_to_the_defaults():
    at = app("en")
    at.run()
    at.query_params.update({"div_theta": "abc", "div_sep": "-3", "div_gan_loss": "hinge"})
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="div_theta").value == 0.5 and at.slider(key="div_sep").value == 6.0
    assert at.selectbox(key="div_gan_loss__en").value == "minimax"


def test_gradient_experiment_runs_with_tiny_settings():
    at = open_divergences()
    at.select_slider(key="div_grid").set_value(5)
    at.select_slider(key="div_steps").set_value(50)
    at.button(key="div_start").click().run()
    for _ in range(40):  # the live fragment trains a chunk per run; AppTest does not tick its timer
        if any(c.value.startswith("Trained 50 steps") for c in at.caption):
            break
        assert not at.exception, [e.value for e in at.exception]
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.value.startswith("Trained 50 steps of D and of the critic for 5 values of θ") for c in at.caption)
    assert len(at.get("plotly_chart")) == 5  # + the gradient over θ and the training curves
    assert "**At θ = 0.50**" in " ".join(m.value for m in at.markdown)
    assert [b.label for b in at.button if b.key == "div_start"] == ["Train again"]
    (lab,) = at.session_state["div_labs"].values()
    assert lab.done and lab.history.read_at[-1] == 50


def test_clipping_shows_its_bound():
    at = open_divergences()
    assert not any(s.key == "div_clip" for s in at.select_slider)
    at.selectbox(key="div_lipschitz__en").set_value("clip").run()
    assert not at.exception
    assert at.select_slider(key="div_clip").value == 0.1
    assert at.selectbox(key="div_lipschitz__en").value == "clip"


def test_fits_table(page):
    rows = page.dataframe[0].value
    assert list(rows.iloc[:, 0]) == ["KL(p ‖ q)", "KL(q ‖ p)", "JS(p, q)"]
    # default mixture: modes at ±3 with widths 0.7 and 1.0; KL(p||q) matches p's moments
    assert float(rows.iloc[0, 1]) == pytest.approx(0.0, abs=0.01)
    assert float(rows.iloc[0, 2]) == pytest.approx(math.sqrt(0.5 * (0.49 + 1.0) + 9.0), abs=0.01)
    assert abs(float(rows.iloc[1, 1])) == pytest.approx(3.0, abs=0.05)
    assert float(rows.iloc[1, 3]) == pytest.approx(math.log(2), abs=0.005)


def test_renders_in_chinese():
    at = open_divergences("zh")
    assert at.title[0].value == "散度"
    assert at.metric[0].label == "JS 散度" and at.metric[3].label == "总变差距离"
    assert at.selectbox(key="div_gan_loss__zh").value == "minimax"
    text = " ".join(m.value for m in at.markdown)
    assert "为什么 θ ≠ 0 时 JS 恒为 log 2" in text
    assert not re.search(r"\b(the|and|of)\b", text)  # no English left in the prose
    assert "开始训练" in [b.label for b in at.button]
