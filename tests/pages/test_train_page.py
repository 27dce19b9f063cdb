"""The Training page in AppTest: start a real (tiny) background run, watch it end, resume, clone; a
CycleGAN on a built-in pair or on two uploaded zips (its process start stubbed: queued, never run)."""
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from apptest_helpers import app, open_page
from PIL import Image

from gan_core import jobs
from gan_core.runs import RunDir, RunIndex, runs_root
from ui import train_form

INPUTS = ("text_input", "number_input", "selectbox", "radio", "toggle", "slider", "segmented_control",
          "file_uploader", "checkbox", "multiselect", "text_area", "select_slider")


def unlabelled(at) -> list[str]:
    """The inputs on the page whose label is empty or not shown (key: label)."""
    bad = []
    for kind in INPUTS:
        for w in at.get(kind):
            visible = w.proto.label_visibility.value == w.proto.label_visibility.VISIBLE
            if not str(w.proto.label).strip() or not visible:
                bad.append(f"{w.proto.id[-40:]}: {w.proto.label!r}")
    return bad


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
    model = at.radio(key=f"tr_model__{lang}")
    assert model.value == "dcgan" and ("CycleGAN (unpaired)" if lang == "en" else "CycleGAN（非配对）") in model.options


def test_estimate_start_watch_resume_and_clone():
    at = open_page("views/train.py")
    at.number_input(key="tr_model_ngf").set_value(8)
    at.number_input(key="tr_model_ndf").set_value(8).run()
    at.button(key="tr_estimate").click().run()
    assert any(i.value.startswith("About ") and "per 1,000 steps" in i.value for i in at.info)
    assert unlabelled(at) == []

    at.number_input(key="tr_model_n_codes").set_value(4)
    at.selectbox(key="tr_train_diffaugment").set_value("[translation,cutout]")
    run = tiny_run(at)
    assert run.status()["state"] in ("starting", "running", "finished")
    cfg = (run.path / "config.yaml").read_text()
    assert "ngf: 8" in cfg and "batch_size: 16" in cfg and "steps: 6" in cfg
    assert "texture: brick" in cfg  # the stored recipe is complete; the page shows it trimmed
    assert "n_codes: 4" in cfg and "diffaugment:\n  - translation\n  - cutout" in cfg
    assert wait_state(run, ("finished",))["step"] == 6

    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Run id"]) == [run.id] and table["State"][0] == "finished"
    assert any("finished" in m.value for m in at.markdown)
    assert at.button(key=f"resume_{run.id}")
    shown = [c.value for c in at.code if "loss: nonsaturating" in c.value]  # the form's preview, the run's recipe
    assert len(shown) == 2 and not any("texture" in c or "edges" in c for c in shown)
    assert unlabelled(at) == []  # the step box beside Resume included
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


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_one_step_estimate_and_the_cpu_read_as_words(lang, monkeypatch):
    monkeypatch.setattr("gan_core.apps.training.time_per_step", lambda cfg, device, data=None: 0.025)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a training job's process computes on one thread then
    at = open_page("views/train.py", lang)
    at.number_input(key="tr_steps").set_value(1).run()
    at.button(key="tr_estimate").click().run()
    cores = train_form.usable_cpus()
    if lang == "en":
        assert at.info[0].value == "About 25 s per 1,000 steps on this device, so under a second for 1 step."
        assert at.selectbox(key="tr_device").options[0] == f"CPU, {cores} cores (1 training thread)"
    else:
        assert at.info[0].value == "在此设备上每 1,000 步约 25 秒，1 步用时 不到 1 秒。"
        assert at.selectbox(key="tr_device").options[0] == f"CPU，{cores} 核（训练用 1 个线程）"


def machine_commands(at) -> list[str]:
    """The code blocks of "Several machines" (GAN_STUDIO_RUNS, then the command)."""
    return [c.value for c in at.code if "-m gan_core train" in c.value]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_several_machines_give_the_command_each_runs(lang):
    at = open_page("views/train.py", lang)
    assert ("Several machines" if lang == "en" else "多台机器") in [e.label for e in at.expander]
    at.number_input(key="tr_mm_nproc").set_value(4).run()  # 2 machines by default
    assert machine_commands(at) == [] and any("node1:29500" in i.value for i in at.info)  # the endpoint first
    at.text_input(key="tr_mm_endpoint").set_value("10.0.0.1:29500").run()
    assert not at.exception and unlabelled(at) == []
    first, second = machine_commands(at)
    assert first == second  # c10d: the same command on every machine
    runs, line = first.splitlines()
    assert runs == f"export GAN_STUDIO_RUNS={runs_root().resolve()}"
    assert line == ("python -m torch.distributed.run --nnodes=2 --nproc_per_node=4 --rdzv_backend=c10d "
                    "--rdzv_endpoint=10.0.0.1:29500 --rdzv_id=my-gan -m gan_core train recipes/my-gan.yaml "
                    "--device cuda")
    assert any("10.0.0.1" in c.value for c in at.caption)
    assert any("recipes/my-gan.yaml" in m.value for m in at.markdown)

    # the form's batch (64) over 2 x 3 processes: refused with the reason, no command to copy
    at.number_input(key="tr_mm_nproc").set_value(3).run()
    assert machine_commands(at) == [] and any("cannot be shared by 6 processes" in e.value for e in at.error)
    at.number_input(key="tr_mm_nproc").set_value(2)
    at.text_input(key="tr_mm_endpoint").set_value("node1:99999").run()
    assert machine_commands(at) == [] and any("the port '99999'" in e.value for e in at.error)

    # on CPUs, 3 machines, a recipe on shared storage (a path with a space stays one word)
    at.text_input(key="tr_mm_endpoint").set_value("node1:29500")
    at.number_input(key="tr_mm_nodes").set_value(4)
    at.text_input(key="tr_mm_recipe").set_value("/shared/my recipes/gan.yaml")
    at.radio(key=f"tr_mm_device__{lang}").set_value("cpu").run()
    commands = machine_commands(at)
    assert len(commands) == 2 and len(set(commands)) == 1
    assert commands[0].splitlines()[1].endswith("--nnodes=4 --nproc_per_node=2 --rdzv_backend=c10d "
                                                "--rdzv_endpoint=node1:29500 --rdzv_id=my-gan -m gan_core train "
                                                "'/shared/my recipes/gan.yaml' --device cpu")
    assert any(("2 to 4" if lang == "en" else "2 到 4") in c.value for c in at.caption)

    # one machine: torchrun's own local rendezvous, no endpoint asked
    at.number_input(key="tr_mm_nodes").set_value(1)
    at.text_input(key="tr_mm_endpoint").set_value("").run()
    (alone,) = machine_commands(at)
    assert "--standalone --nproc_per_node=2 -m gan_core train" in alone


def test_several_machines_name_the_folders_the_recipe_reads(monkeypatch, tmp_path):
    """A torchvision set (or an upload) is a folder on this server: each machine needs it at that path."""
    monkeypatch.setenv("GAN_STUDIO_DATA_ROOT", str(tmp_path / "data"))
    at = open_page("views/train.py")
    at.radio(key="tr_data__en").set_value("torchvision").run()
    at.text_input(key="tr_mm_endpoint").set_value("node1:29500").run()
    assert len(machine_commands(at)) == 2
    needs = f"The recipe also reads `{tmp_path / 'data'}`: every machine needs it at that path."
    assert [w.value for w in at.warning] == [needs]
    assert [d.proto.label for d in at.get("download_button")] == ["Download the recipe (my-gan.yaml)"]


def test_the_runs_table_agrees_with_the_live_panel(queued_only):
    """Issue 20: the table said 'starting 0/2,000' while the panel said step 270, one FD point drew no
    chart, figures read 'fd 4.37e+04'. A run whose process works on another machine (so refresh()
    leaves its status alone) at step 270, with one measurement."""
    cfg = train_form.recipe({**train_form.DEFAULTS, **dict.fromkeys(train_form.ADVANCED)},
                            train_form.data_overrides("mnist5k"))
    run = jobs.submit(cfg)
    run.set_status("starting", step=0)
    RunIndex().update(run)  # what the index held when the process started
    run.set_status("running", step=270, total_steps=2000, it_s=3.0, host="elsewhere")
    for step in range(10, 271, 10):
        run.append_metrics({"step": step, "loss_d": 1.2, "loss_g": 0.8})
    run.append_metrics({"step": 200, "fd": 43712.3, "kid": 61400000.0, "precision": 0.12, "recall": 0.03})
    dead = jobs.submit(cfg)  # its process was killed here without a word: the table must not poll it for ever
    dead.set_status("running", step=40, total_steps=2000, pid=2**22 + 1, host=jobs.this_host())

    at = open_page("views/train.py", run=run.id)
    table = at.dataframe[0].value.set_index("Run id")
    assert table.loc[dead.id, "State"] == "failed"
    table = table.loc[[run.id]].reset_index()
    progress = at.get("progress")[0].proto.text
    assert table["State"][0] == "running" and table["Step"][0] == "270 / 2,000"
    assert progress.startswith("step 270 of 2,000 · 3.0 steps/s · 9 min 37 s left")
    assert (table["Best FD"][0], table["Best precision"][0], table["Best recall"][0]) == ("43,712", "12.0%", "3.0%")
    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    fd = next(c for c in charts.values() if c["data"][0]["name"].startswith("Fréchet distance"))
    assert fd["data"][0]["mode"] == "lines+markers" and list(fd["data"][0]["x"]) == [200]
    pr = next(c for c in charts.values() if c["data"][0]["name"].startswith("precision"))
    assert [d["mode"] for d in pr["data"]] == ["lines+markers"] * 2 and pr["layout"]["yaxis"]["tickformat"] == ".0%"

    run.set_status("stopped", step=270, message="stopped at step 270")  # ended: Resume and its step box
    at.run()
    until = at.number_input(key=f"until_{run.id}")
    assert until.label == "Train until step" and until.value == 2000
    assert at.dataframe[0].value.set_index("Run id").loc[run.id, "State"] == "stopped" and unlabelled(at) == []


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
    at.radio(key="tr_model__en").set_value("conditional")
    at.number_input(key="tr_model_n_codes").set_value(10).run()
    assert not at.exception
    assert any("n_codes" in e.value and "unconditional" in e.value for e in at.error)


def test_torchvision_without_a_data_root_says_how_to_get_one(monkeypatch):
    monkeypatch.delenv("GAN_STUDIO_DATA_ROOT", raising=False)
    at = open_page("views/train.py")
    at.radio(key="tr_data__en").set_value("torchvision").run()
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


# ---------------------------------------------------------------- CycleGAN


@pytest.fixture
def queued_only(monkeypatch):
    """jobs.submit queues the run but starts no process (the page test needs no training)."""
    monkeypatch.setattr("gan_core.jobs.schedule", lambda root=None: [])


def picture_zip(pictures: dict[str, tuple[int, int, str]] | None = None, extra: dict[str, bytes] | None = None
                ) -> bytes:
    """A zip of random pictures {name: (width, height, PIL mode)} and any other members."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, (w, h, mode) in (pictures or {}).items():
            shape = (h, w) if mode == "L" else (h, w, 3)
            png = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(png, "PNG")  # L or RGB by shape
            zf.writestr(name, png.getvalue())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def cyclegan(at):
    at.radio(key="tr_model__en").set_value("cyclegan").run()
    assert not at.exception, [e.value for e in at.exception]


def test_cyclegan_on_a_built_in_pair_queues_a_job_and_clones(queued_only):
    at = open_page("views/train.py")
    cyclegan(at)
    assert [u.key for u in at.file_uploader] == []  # nothing to upload for a built-in pair
    assert at.session_state["tr_cg_size"] == 32 and at.session_state["tr_cg_batch"] == 32
    at.radio(key="tr_cg_pair__en").set_value("strokes").run()
    assert unlabelled(at) == []
    at.text_input(key="tr_name").set_value("strokes")
    at.number_input(key="tr_cg_steps").set_value(40)
    at.number_input(key="tr_cg_cycle").set_value(0.0).run()
    assert any("turns the cycle off" in w.value for w in at.warning)
    at.number_input(key="tr_cg_cycle").set_value(5.0).run()
    at.button(key="tr_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = RunDir(runs_root() / at.query_params["run"])
    cfg = yaml.safe_load((run.path / "config.yaml").read_text())
    assert cfg["model"]["arch"] == "cyclegan" and cfg["data"]["name"] == "unpaired"
    assert (cfg["data"]["a"]["name"], cfg["data"]["a"]["half"]) == ("mnist5k_strokes", "even")
    assert (cfg["data"]["b"]["name"], cfg["data"]["b"]["half"]) == ("mnist5k", "odd")
    assert (cfg["train"]["cycle_weight"], cfg["train"]["steps"], cfg["train"]["lr_decay_start"]) == (5.0, 40, 20)
    assert run.status()["state"] == "queued"

    table = at.dataframe[0].value  # the index says "unpaired"; the page names the two domains
    assert table["Data"][0] == "mnist5k_strokes (even) ↔ mnist5k (odd)" and table["Model"][0] == "cyclegan 32px"
    assert any("back to A" in c.value for c in at.caption)  # what the rows of the sample sheet are
    assert at.button(key=f"stop_{run.id}")

    at.radio(key="tr_model__en").set_value("dcgan").run()  # the form moved on; Clone brings the CycleGAN back
    at.button(key=f"clone_{run.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    state = at.session_state
    assert (state["tr_model"], state["tr_cg_pair"], state["tr_cg_cycle"], state["tr_cg_steps"]) == \
        ("cyclegan", "strokes", 5.0, 40)
    assert state["tr_name"] == "strokes-copy" and at.radio(key="tr_cg_pair__en").value == "strokes"
    assert not at.info or not any("except these" in i.value for i in at.info)  # made by the form: all kept


def test_two_uploaded_domains_are_checked_previewed_and_trained_on(queued_only, monkeypatch):
    # the estimate times float32 steps: under CPU bf16 autocast these 4-filter nets took 3.4 s a step, not 0.3
    monkeypatch.setattr("gan_core.train.trainer.native_bf16", lambda device: False)
    at = open_page("views/train.py")
    cyclegan(at)
    at.radio(key="tr_cg_data__en").set_value("upload").run()
    assert [u.key for u in at.file_uploader] == ["tr_cg_zip_a", "tr_cg_zip_b"]
    assert at.session_state["tr_cg_size"] == 128 and at.session_state["tr_cg_batch"] == 4  # upload defaults (CPU)
    assert "tr_start" not in [b.key for b in at.button]  # nothing to train on yet

    # colour pictures of different sizes in folders, and a file that is not a picture
    a = picture_zip({"horses/h1.png": (40, 30, "RGB"), "horses/h2.png": (64, 64, "RGB"),
                     "more/h3.png": (100, 50, "RGB")}, {"readme.txt": b"hello"})
    b = picture_zip({"z1.png": (20, 20, "L"), "z2.png": (33, 47, "L"), "z3.png": (90, 60, "L"), "z4.png": (16, 16, "L")})
    at.file_uploader(key="tr_cg_zip_a").set_value(("horses.zip", a, "application/zip"))
    at.file_uploader(key="tr_cg_zip_b").set_value(("zebras.zip", b, "application/zip")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    ok = [s.value for s in at.success]
    assert ok == ["Domain A: 3 pictures ready, colour (3 channels).", "Domain B: 4 pictures ready, greyscale (1 channel)."]
    assert any("readme.txt" in w.value for w in at.warning)  # the skipped file is named
    assert len(at.image) == 2  # a preview of each domain
    assert any("both are used in colour" in c.value for c in at.caption)  # grey B beside colour A

    # small enough to time a step here: the estimate runs on stand-ins for the uploads
    at.segmented_control(key="tr_cg_size").set_value(32)
    at.segmented_control(key="tr_cg_blocks").set_value(4)
    at.selectbox(key="tr_cg_batch").set_value(1)
    at.number_input(key="tr_model_ngf").set_value(4)
    at.number_input(key="tr_model_ndf").set_value(4).run()
    at.button(key="tr_estimate").click().run()
    assert not at.error and any(i.value.startswith("About ") for i in at.info), [e.value for e in at.error]

    at.number_input(key="tr_cg_identity").set_value(0.0)
    at.button(key="tr_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = RunDir(runs_root() / at.query_params["run"])
    cfg = yaml.safe_load((run.path / "config.yaml").read_text())
    assert cfg["model"]["arch"] == "cyclegan" and cfg["data"]["flip"] is True
    assert (cfg["model"]["channels_a"], cfg["model"]["channels_b"], cfg["model"]["img_size"]) == (3, 1, 32)
    paths = [cfg["data"][side]["path"] for side in "ab"]
    assert [p.rsplit("-", 1)[-1] for p in paths] == ["horses.zip", "zebras.zip"]
    assert all(Path(q).parent == (runs_root() / "uploads").resolve() for q in paths)  # stored by save_upload
    assert at.dataframe[0].value["Data"][0] == "horses.zip ↔ zebras.zip"

    # Clone keeps the stored zips: with the uploaders empty, the form trains on the run's own
    at.button(key=f"clone_{run.id}").click().run()
    assert [at.session_state[f"tr_cg_kept_{side}"] for side in "ab"] == paths
    for side in "ab":
        at.file_uploader(key=f"tr_cg_zip_{side}").set_value(None)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert sum(c.value.startswith("Using horses.zip, stored with the cloned run") for c in at.caption) == 1
    assert len(at.success) == 2 and at.button(key="tr_start")


def test_a_bad_domain_zip_says_what_is_wrong_with_it(queued_only):
    at = open_page("views/train.py")
    cyclegan(at)
    at.radio(key="tr_cg_data__en").set_value("upload").run()
    good = picture_zip({"a.png": (30, 30, "RGB"), "b.png": (20, 40, "RGB")})
    at.file_uploader(key="tr_cg_zip_a").set_value(("good.zip", good, "application/zip"))

    def domain_b(name: str, data: bytes) -> str:
        at.file_uploader(key="tr_cg_zip_b").set_value((name, data, "application/zip")).run()
        assert not at.exception, [e.value for e in at.exception]
        assert "tr_start" not in [b.key for b in at.button]
        return " ".join(e.value for e in at.error)

    assert domain_b("empty.zip", picture_zip()).startswith("Domain B is empty: empty.zip holds no pictures")
    text_only = domain_b("notes.zip", picture_zip(extra={"notes.txt": b"hi", "data.csv": b"1,2"}))
    assert text_only.startswith("Domain B is empty: notes.zip") and "notes.txt" in text_only
    fake = domain_b("fake.zip", picture_zip({"ok.png": (30, 30, "L")}, {"fake.png": b"not a picture"}))
    assert fake.startswith("Domain B: this zip cannot be used") and "fake.png" in fake and "not an image" in fake
    assert "not a readable .zip" in domain_b("broken.zip", b"PK\x03\x04 this is no zip")
    assert "at least 2 pictures" in domain_b("one.zip", picture_zip({"one.png": (30, 30, "L")}))
    assert sum("Domain A: 2 pictures ready" in s.value for s in at.success) == 1  # A stays fine throughout


# ---------------------------------------------------------------- MLflow


def test_tracking_in_mlflow_is_offered_only_where_the_operator_set_up_a_server(queued_only, monkeypatch):
    for var in ("MLFLOW_TRACKING_URI", "GAN_STUDIO_MLFLOW_URI"):
        monkeypatch.delenv(var, raising=False)
    at = open_page("views/train.py")
    assert [w.key for w in at.toggle if w.key == "tr_track"] == []  # no server: the page as it was
    monkeypatch.setenv("GAN_STUDIO_MLFLOW_URI", "https://bob:secret@mlflow.lab:8443/team")
    for lang, label, where in (("zh", "在 MLflow 中记录", "记录到 mlflow.lab:8443 上的 MLflow 服务器"),
                               ("en", "Track in MLflow", "Logged to the MLflow server at mlflow.lab:8443,")):
        at = open_page("views/train.py", lang)
        toggle = at.toggle(key="tr_track")
        assert toggle.label == label and toggle.value is False
        assert any(c.value.startswith(where) for c in at.caption)  # the host, never the credentials or path
        assert not any("secret" in c.value or "bob" in c.value or "/team" in c.value for c in at.caption)
    assert unlabelled(at) == []
    at.text_input(key="tr_name").set_value("tracked")
    at.toggle(key="tr_track").set_value(True).run()
    at.button(key="tr_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = RunDir(runs_root() / at.query_params["run"])
    stored = yaml.safe_load((run.path / "config.yaml").read_text())["train"]
    assert stored["track"] == "mlflow" and stored["tracking_uri"] is None  # the operator's server, when it runs
    assert run.status()["state"] == "queued"
