"""A training run's live panel: progress, losses, the latest samples, the log; stop, resume, clone,
delete and share it. And a run a page started for its own use (a detector), in a line or two: `job_summary`.

With sign-in (ui/auth.py), the buttons that change a run are drawn only for its owner and the admins,
and gan_core checks again: a refusal is a message, never a traceback.

The page wraps `run_panel` in a fragment that reruns every couple of seconds while the run is
live, so watching a job costs a file read or two, never the page.
"""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st
import yaml

from gan_core import jobs
from gan_core.recipes import essential_recipe
from gan_core.runs import NotAllowed, RunDir

from .auth import may_manage, rights
from .i18n import t
from .metric_names import metric_label
from .plots import curves

LIVE_STATES = ("queued", "starting", "running")
POLL_S = 2.0


def duration(seconds: float) -> str:
    """A clock reading, 1:05:09 or 4:12 (for an ETA that counts down)."""
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def duration_words(seconds: float) -> str:
    """A length of time in words: "under a second", "45 s", "3 min 20 s", "2 h 05 min". A clock's
    "0:00" read as nothing at all for a run of one step that takes a fraction of a second."""
    if seconds < 1:
        return t("jobs.time_under_1s")
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return t("jobs.time_h", h=f"{h:,}", m=f"{m:02d}")
    return t("jobs.time_m", m=m, s=f"{s:02d}") if m else t("jobs.time_s", s=s)


def steps_text(n: int) -> str:
    """"1 step", "2,000 steps" (中文: "1 步", "2,000 步")."""
    return t("jobs.steps_one") if n == 1 else t("jobs.steps_many", n=f"{n:,}")


def rate_text(it_s: float) -> str:
    """Steps per second with the digits that say something: 12, 3.4, 0.25."""
    return f"{it_s:.0f}" if it_s >= 10 else f"{it_s:.1f}" if it_s >= 1 else f"{it_s:.2g}"


def tail(path: Path, lines: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16_000))
            return "\n".join(f.read().decode("utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def latest_sample(run: RunDir) -> Path | None:
    grids = sorted(run.samples.glob("step_*.png"))
    return grids[-1] if grids else None


def state_label(state: str) -> str:
    return t(f"jobs.state_{state}") if state in ("queued", "starting", "running", "finished", "failed",
                                                 "stopped", "broken") else state


def act(action, run: RunDir, **kwargs) -> bool:
    """jobs.stop, resume, delete or share on `run`, as the signed-in visitor; a refusal (not theirs,
    or still live) is an error message. Whether it was done."""
    try:
        action(run, **kwargs, **rights())
    except (NotAllowed, jobs.RunBusy) as e:
        st.error(t("jobs.refused", message=str(e)))
        return False
    return True


def stop_button(run: RunDir, where=st) -> None:
    """Stop, for a live run (it checkpoints and ends)."""
    if where.button(t("jobs.stop"), key=f"stop_{run.id}", icon=":material/stop_circle:") and act(jobs.stop, run):
        st.toast(t("jobs.stop_asked"))


def resume_button(run: RunDir, where=st, steps: int | None = None) -> bool:
    """Resume, for a run that ended: from its last checkpoint, up to `steps` if given. Whether it was resumed."""
    return where.button(t("jobs.resume"), key=f"resume_{run.id}", icon=":material/play_circle:",
                        help=t("jobs.resume_help") if steps is not None else None) \
        and act(jobs.resume, run, steps=steps)


def delete_button(run: RunDir, where=st) -> bool:
    """Delete, behind a confirmation (a popover with the button that does it). Whether it was deleted."""
    with where.popover(t("jobs.delete"), icon=":material/delete:"):
        st.markdown(t("jobs.delete_confirm", run=run.id))
        return st.button(t("jobs.delete_for_good"), key=f"delete_{run.id}", type="primary") and act(jobs.delete, run)


def share_toggle(run: RunDir, where=st) -> None:
    """"Shared with the team": the run's job.json says, and a change is written at once (a callback)."""
    key = f"shared_{run.id}"
    st.session_state[key] = bool(run.job().get("shared"))  # as the file says now: another session may have changed it
    where.toggle(t("jobs.shared"), key=key, help=t("jobs.shared_help"),
                 on_change=lambda: act(jobs.share, run, shared=st.session_state[key]))


def job_summary(run: RunDir, total_steps: int, makes: str) -> bool:
    """A run a page started, in a line or two: while it is live, a progress bar (state, step, message)
    and Stop; once it ended without making what it makes (status[makes]), why, and Resume. Whether it is
    ready (what it made is the page's to show)."""
    status = jobs.refresh(run)
    state, step = status.get("state", "queued"), int(status.get("step") or 0)
    total = status.get("total_steps") or total_steps
    if state in LIVE_STATES:
        st.progress(min(step / total, 1.0) if total else 0.0,
                    text=t("jobs.summary", state=state_label(state), step=f"{step:,}", total=f"{int(total):,}",
                           message=status.get("message", "")))
        if may_manage(run):
            stop_button(run)
        return False
    if state == "finished" and status.get(makes):
        return True
    st.warning(t("jobs.ended", state=state_label(state), message=status.get("message", "")))
    if may_manage(run):
        resume_button(run)
    return False


def manage_buttons(run: RunDir, state: str, step: int, total: int, on_clone=None, on_delete=None) -> None:
    """Stop or Resume (until a step), Clone settings, Delete, and the Shared switch."""
    # the step box has its label above it (a bare number beside Resume said nothing): buttons sit at its foot
    b1, b2, b3, b4, b5 = st.columns([1, 1.4, 1, 1, 1.4], vertical_alignment="bottom")
    if state in LIVE_STATES:
        stop_button(run, b1)
    else:
        until = b2.number_input(t("jobs.until"), min_value=step + 1, value=max(total, step + 1), step=500,
                                key=f"until_{run.id}", help=t("jobs.until_help"))
        if resume_button(run, b1, steps=int(until)):
            st.rerun(scope="app")
    if on_clone is not None:
        b3.button(t("jobs.clone"), key=f"clone_{run.id}", icon=":material/content_copy:", on_click=on_clone,
                  args=(run,), help=t("jobs.clone_help"))
    if delete_button(run, b4):
        if on_delete is not None:
            on_delete(run)
        st.rerun(scope="app")
    share_toggle(run, b5)


def run_panel(run: RunDir, on_clone=None, on_delete=None) -> str:
    """Draw the run; returns its state (the caller decides whether to keep polling). on_clone(run) is
    Clone's callback; on_delete(run) is called once Delete has removed it, and the whole page runs again."""
    status = jobs.refresh(run)
    state = status.get("state", "unknown")
    step, total = int(status.get("step") or 0), int(status.get("total_steps") or 0)
    it_s = float(status.get("it_s") or 0.0)
    head = f"**{run.id}** · {state_label(state)}"
    if status.get("device"):
        head += f" · {status['device']}"
    st.markdown(head)
    if total:
        text = t("jobs.progress", step=f"{step:,}", total=f"{total:,}")
        if state == "running" and it_s > 0:
            text += " · " + t("jobs.rate", it_s=rate_text(it_s), eta=duration_words((total - step) / it_s))
        st.progress(min(1.0, step / total), text=text)
    if status.get("gpu_mem_gb") is not None:
        st.caption(t("jobs.gpu_memory", gb=status["gpu_mem_gb"]))
    if state == "failed":
        st.error(t("jobs.failed", message=status.get("message", "")))
    elif state == "queued":
        st.info(t("jobs.queued", limit=jobs.max_jobs()))
    elif status.get("message"):  # stopped where, what a detector's run is doing after its GAN, ...
        st.caption(status["message"])

    if may_manage(run):
        manage_buttons(run, state, step, total, on_clone, on_delete)

    metrics = run.read_metrics()
    left, right = st.columns([3, 2])
    with left:
        every = max(1, len(metrics) // 500)
        rows = metrics[::every]
        series = {name: [(r["step"], r[key]) for r in rows if key in r]
                  for name, key in ((t("jobs.loss_d"), "loss_d"), (t("jobs.loss_g"), "loss_g"))}
        if any(series.values()):
            st.plotly_chart(curves(series, t("jobs.losses"), t("jobs.value")), width="stretch",
                            key=f"curves_{run.id}")
        else:
            st.caption(t("jobs.no_metrics"))
        terms = {name: [(r["step"], r[key]) for r in rows if key in r]
                 for name, key in ((t("jobs.cycle"), "cycle"), (t("jobs.identity"), "identity"))}
        if any(terms.values()):  # CycleGAN: the reconstruction terms, the cycle's own measure
            st.plotly_chart(curves({k: v for k, v in terms.items() if v}, t("jobs.cycle_terms"), "L1", height=220),
                            width="stretch", key=f"cycle_{run.id}")
        tracked = [r for r in metrics if "fd" in r]
        if tracked:  # measured every eval_every steps: each point is a measurement, marked from the first
            m1, m2 = st.columns(2)
            m1.plotly_chart(curves({metric_label("fd"): [(r["step"], r["fd"]) for r in tracked]}, t("jobs.fd"), "FD",
                                   height=220, markers=True), width="stretch", key=f"fd_{run.id}")
            m2.plotly_chart(curves({metric_label(k): [(r["step"], r[k]) for r in tracked if k in r]
                                    for k in ("precision", "recall")}, t("jobs.pr"), "", height=220, markers=True,
                                   y_format=".0%"), width="stretch", key=f"pr_{run.id}")
            st.caption(t("jobs.metrics_note"))
    with right:
        grid = latest_sample(run)
        if grid is not None:
            st.image(str(grid), caption=t("jobs.samples_at", step=int(grid.stem.split("_")[-1])), width="stretch")
    with st.expander(t("jobs.recipe")):
        st.caption(t("jobs.recipe_help"))
        st.code(shown_recipe(run.path / "config.yaml"), language="yaml")
    with st.expander(t("jobs.log")):
        st.code(tail(run.path / "log.txt") or "—", language=None)
        out = tail(run.path / "stdout.log", 25)
        if out:
            st.caption(t("jobs.stdout"))
            st.code(out, language=None)
    st.caption(t("jobs.updated", ago=duration_words(time.time() - float(status.get("updated_at") or time.time()))))
    return state


def shown_recipe(path: Path) -> str:
    """A recipe file as the pages show it: without the fields that sit at defaults nothing in it reads
    (an MNIST run's texture, a DCGAN's edge detector). The file itself stays complete; the text as
    stored is shown when it is not a recipe mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return "—"
    try:
        return essential_yaml(yaml.safe_load(text))
    except (yaml.YAMLError, AttributeError, TypeError, ValueError):
        return text


def essential_yaml(recipe: dict) -> str:
    """essential_recipe as YAML in the order it was written, Chinese descriptions as text, not escapes."""
    return yaml.safe_dump(essential_recipe(recipe), sort_keys=False, allow_unicode=True)
