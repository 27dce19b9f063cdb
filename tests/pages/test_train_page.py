"""The Training page in AppTest: start a real (tiny) background run, watch it end, resume, clone."""
import time

import pytest

from apptest_helpers import app, open_page
from gan_core import jobs
from gan_core.runs import RunDir, runs_root


def tiny_run(at, steps: int = 6):
    at.text_input(key="tr_name").set_value("tiny").run()
    at.number_input(key="tr_steps").set_value(steps)
    at.selectbox(key="tr_batch").set_value(16)
    at.number_input(key="tr_model_ngf").set_value(8)
    at.number_input(key="tr_model_ndf").set_value(8)
    at.run()
    at.button(key="tr_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return RunDir(runs_root() / at.query_params["run"])


def wait_state(run: RunDir, states, timeout=120.0) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        status = jobs.refresh(run)
        if status.get("state") in states:
            return status
        time.sleep(0.3)
    raise AssertionError(f"{run.id}: {run.status()}\n{(run.path / 'stdout.log').read_text(errors='replace')}")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_opens_with_the_form_and_no_runs(lang):
    at = open_page("views/train.py", lang)
    assert at.title[0].value == ("Training" if lang == "en" else "训练任务")
    assert at.button(key="tr_start") and at.button(key="tr_estimate")
    assert any("runs" in i.value or "运行记录" in i.value for i in at.info)


def test_estimate_start_watch_resume_and_clone():
    at = open_page("views/train.py")
    at.number_input(key="tr_model_ngf").set_value(8)
    at.number_input(key="tr_model_ndf").set_value(8).run()
    at.button(key="tr_estimate").click().run()
    assert any(i.value.startswith("About ") and "per 1,000 steps" in i.value for i in at.info)

    at.number_input(key="tr_model_n_codes").set_value(4)
    at.selectbox(key="tr_train_diffaugment").set_value("[translation,cutout]")
    run = tiny_run(at)
    assert run.status()["state"] in ("starting", "running", "finished")
    cfg = (run.path / "config.yaml").read_text()
    assert "ngf: 8" in cfg and "batch_size: 16" in cfg and "steps: 6" in cfg
    assert "n_codes: 4" in cfg and "diffaugment:\n  - translation\n  - cutout" in cfg
    assert wait_state(run, ("finished",))["step"] == 6

    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Run id"]) == [run.id] and table["State"][0] == "finished"
    assert any("finished" in m.value for m in at.markdown)
    assert at.button(key=f"resume_{run.id}")
    # train on to step 9 from the last checkpoint
    at.number_input(key=f"until_{run.id}").set_value(9)
    at.button(key=f"resume_{run.id}").click().run()
    assert wait_state(run, ("finished",))["step"] == 9
    assert [r["step"] for r in run.read_metrics()][-1] == 9

    at.run()
    at.button(key=f"clone_{run.id}").click().run()
    assert at.session_state["tr_name"] == "tiny-copy" and at.session_state["tr_steps"] == 9
    assert at.session_state["tr_model_ngf"] == 8 and "run" not in at.query_params
    assert at.session_state["tr_model_n_codes"] == 4
    assert at.session_state["tr_train_diffaugment"] == "[translation,cutout]"


def test_a_cloned_policy_the_form_does_not_offer_is_kept():
    at = app("en")  # as Clone leaves it: the state set before the form is drawn
    at.session_state["tr_train_diffaugment"] = "[cutout]"
    at.run()
    at.switch_page("views/train.py").run()
    box = at.selectbox(key="tr_train_diffaugment")
    assert box.value == "[cutout]" and "cutout" in box.options
    assert any("diffaugment:\n  - cutout" in c.value for c in at.code)


def test_a_code_on_a_conditional_model_is_explained():
    at = open_page("views/train.py")
    at.toggle(key="tr_conditional").set_value(True)
    at.number_input(key="tr_model_n_codes").set_value(10).run()
    assert not at.exception
    assert any("n_codes" in e.value and "unconditional" in e.value for e in at.error)


def test_torchvision_without_a_data_root_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("GAN_STUDIO_DATA_ROOT", raising=False)
    at = open_page("views/train.py")
    at.radio(key="tr_data").set_value("torchvision").run()
    assert any("GAN_STUDIO_DATA_ROOT" in i.value for i in at.info)
    assert "tr_start" not in [b.key for b in at.button]  # nothing to train on yet


def test_a_damaged_index_and_a_broken_run_are_reported():
    root = runs_root()
    broken = RunDir.create("broken", root=root)
    (broken.path / "config.yaml").write_text(": : not yaml [")
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.sqlite").write_bytes(b"garbage" * 200)
    at = open_page("views/train.py")
    warnings = " ".join(w.value for w in at.warning)
    assert "damaged" in warnings and broken.id in warnings
    assert at.dataframe[0].value["State"][0] == "broken"
