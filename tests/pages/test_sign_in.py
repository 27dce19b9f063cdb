"""A team server in AppTest: sessions signed in as different people (alice, bob, an admin) see and
manage only what the owner rule lets them; a visitor who has not signed in sees only the login;
without sign-in configured, everyone manages everything, as before.

How st.user is supplied: apptest_helpers.app(user=...) sets at.secrets to a team server's secrets
([auth] and [gan_studio] admins) and at.user to {"is_logged_in": True, "email": ...}; see its docstring.
"""
import json
import shutil

from apptest_helpers import TEAM_SECRETS, app, open_page
from test_train_page import tiny_run, wait_state
from gan_core import jobs
from gan_core.recipes import load_recipe
from gan_core.runs import RunDir, RunIndex, runs_root
from gan_core.share import export_run
from ui.models import checkpoints_dir

ALICE, BOB, ADMIN = "alice@lab", "bob@lab", "root@lab"


def queued_run(owner: str) -> RunDir:
    """A run that waits in the queue (no process), as `owner` submitted it."""
    cfg = load_recipe(None, ["name=queued", "model.ngf=8", "model.ndf=8", "train.steps=5"])
    return jobs.submit(cfg, owner=owner, start=False)


def buttons(at) -> list[str]:
    return [b.key for b in at.button]


def test_a_visitor_who_has_not_signed_in_sees_only_the_login():
    at = app()
    at.secrets = dict(TEAM_SECRETS)
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert buttons(at) == ["auth_login"] and [t.value for t in at.title] == ["GAN Studio"]
    assert "who you are" in at.info[0].value and not at.tabs and not at.dataframe
    at.button(key="auth_login").click().run()  # Authlib is not installed here: a message, not a traceback
    assert not at.exception


def test_a_signed_in_visitor_sees_who_they_are_and_can_log_out():
    at = open_page("views/home.py", user=ADMIN)
    assert any("root@lab" in c.value and "admin" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="auth_logout").click().run()
    assert not at.exception and at.user == {"is_logged_in": False}
    assert buttons(at) == ["auth_login"]


def test_the_run_is_its_owners_until_shared_and_then_read_only_for_the_team():
    alice = open_page("views/train.py", user=ALICE)
    assert alice.text_input(key="tr_owner_signed_in").value == ALICE  # no free-text owner
    assert "tr_owner" not in [w.key for w in alice.text_input]
    run = tiny_run(alice, steps=4)
    assert run.owner() == ALICE
    wait_state(run, ("finished",))

    bob = open_page("views/train.py", user=BOB)
    assert not bob.dataframe  # no runs of his own: the table is not even drawn
    bob = open_page("views/train.py", user=BOB, run=run.id)
    assert any(run.id in w.value and "belongs to someone else" in w.value for w in bob.warning)
    assert not any(k.startswith(("resume_", "delete_", "clone_")) for k in buttons(bob))
    gallery = open_page("views/gallery.py", user=BOB)
    assert f"run:{run.id}" not in gallery.selectbox(key="gal_src__en").options

    alice.run()
    alice.toggle(key=f"shared_{run.id}").set_value(True).run()
    assert not alice.exception and run.job()["shared"] is True

    gallery = open_page("views/gallery.py", user=BOB, gal_src=f"run:{run.id}")
    assert gallery.selectbox(key="gal_src__en").value == f"run:{run.id}"
    assert "shared by alice@lab" in gallery.selectbox(key="gal_src__en").format_func(f"run:{run.id}")
    assert "gal_export" not in [b.key for b in gallery.get("download_button")]
    assert any("only its owner (or an admin) can export" in i.value for i in gallery.info)
    # a bundle bob imports is his: he may export it
    bob_copy = open_page("views/gallery.py", user=BOB)
    bob_copy.file_uploader(key="gal_import").set_value(("a.zip", export_run(run), "application/zip")).run()
    imported = RunDir(runs_root() / bob_copy.session_state["gal_import_done"])
    assert imported.owner() == BOB and "gal_export" in [b.key for b in bob_copy.get("download_button")]


def test_only_the_owner_or_an_admin_manages_a_run_and_a_live_one_is_not_deleted():
    run = queued_run(ALICE)
    bob = open_page("views/train.py", user=BOB, run=run.id)
    assert f"stop_{run.id}" not in buttons(bob) and any("belongs to someone else" in w.value for w in bob.warning)

    alice = open_page("views/train.py", user=ALICE, run=run.id)
    assert list(alice.dataframe[0].value["Run id"]) == [run.id]
    alice.button(key=f"delete_{run.id}").click().run()  # queued: Delete refuses, with why
    assert any("stop it before deleting it" in e.value for e in alice.error) and run.path.is_dir()

    admin = open_page("views/train.py", user=ADMIN, run=run.id)
    admin.button(key=f"stop_{run.id}").click().run()
    assert not admin.exception and run.status()["state"] == "stopped"
    admin.button(key=f"delete_{run.id}").click().run()
    assert not admin.exception and not run.path.exists() and "run" not in admin.query_params
    assert not RunIndex().rows()


def test_detectors_of_others_are_listed_only_when_shared_and_a_new_one_is_mine(monkeypatch):
    shipped = checkpoints_dir()
    run = RunDir.create("zeros", root=runs_root())
    shutil.copy(shipped / "anomaly_mnist_0.safetensors", run.path / "detector.safetensors")
    card = json.loads((shipped / "anomaly_mnist_0.json").read_text()) | {"name": "alices_zeros"}
    (run.path / "detector.json").write_text(json.dumps(card))
    (run.path / "job.json").write_text(json.dumps({"owner": ALICE}))
    def detectors(user: str) -> list[str]:   # the picker's options read "name · how good it is"
        picker = open_page("views/anomaly.py", user=user).selectbox(key="a_detector__en")
        return [o.split(" · ")[0] for o in picker.options]

    assert "alices_zeros" in detectors(ALICE)
    assert "alices_zeros" not in detectors(BOB)
    jobs.share(run, True, user=ALICE)
    assert "alices_zeros" in detectors(BOB)

    monkeypatch.setattr("gan_core.apps.anomaly.jobs.schedule", lambda root: [])  # queued, never started
    bob = open_page("views/anomaly.py", user=BOB)
    bob.button(key="a_new_start").click().run()
    mine = RunDir(bob.session_state["a_job"])
    assert mine.owner() == BOB and f"stop_{mine.id}" in buttons(bob)


def test_without_sign_in_anyone_manages_any_run_as_before():
    run = queued_run("typed in the form")
    at = open_page("views/train.py", run=run.id)
    assert not at.sidebar.caption and "auth_logout" not in buttons(at)
    assert at.text_input(key="tr_owner") and list(at.dataframe[0].value["Run id"]) == [run.id]
    assert {f"stop_{run.id}", f"delete_{run.id}"} <= set(buttons(at)) and at.toggle(key=f"shared_{run.id}")
