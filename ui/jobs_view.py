"""A training run's live panel: progress, losses, the latest samples, the log; stop, resume, clone.
And a run a page started for its own use (a detector), in a line or two: `job_summary`.

The page wraps `run_panel` in a fragment that reruns every couple of seconds while the run is
live, so watching a job costs a file read or two, never the page.
"""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from gan_core import jobs
from gan_core.runs import RunDir

from .i18n import t
from .plots import curves

LIVE_STATES = ("queued", "starting", "running")
POLL_S = 2.0


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


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


def stop_button(run: RunDir, where=st) -> None:
    """Stop, for a live run (it checkpoints and ends)."""
    if where.button(t("jobs.stop"), key=f"stop_{run.id}", icon=":material/stop_circle:"):
        jobs.stop(run)
        st.toast(t("jobs.stop_asked"))


def resume_button(run: RunDir, where=st, steps: int | None = None) -> bool:
    """Resume, for a run that ended: from its last checkpoint, up to `steps` if given. Whether it was pressed."""
    if not where.button(t("jobs.resume"), key=f"resume_{run.id}", icon=":material/play_circle:",
                        help=t("jobs.resume_help") if steps is not None else None):
        return False
    jobs.resume(run, steps=steps)
    return True


def job_summary(run: RunDir, total_steps: int, makes: str) -> bool:
    """A run a page started, in a line or two: while it is live, a progress bar (state, step, message)
    and Stop; once it ended without making what it makes (status[makes]), why, and Resume. Whether it is
    ready (what it made is the page's to show)."""
    status = jobs.refresh(run)
    state, step = status.get("state", "queued"), int(status.get("step") or 0)
    total = status.get("total_steps") or total_steps
    if state in LIVE_STATES:
        st.progress(min(step / total, 1.0) if total else 0.0,
                    text=t("jobs.summary", state=state_label(state), step=step, total=total,
                           message=status.get("message", "")))
        stop_button(run)
        return False
    if state == "finished" and status.get(makes):
        return True
    st.warning(t("jobs.ended", state=state_label(state), message=status.get("message", "")))
    resume_button(run)
    return False


def run_panel(run: RunDir, on_clone=None) -> str:
    """Draw the run; returns its state (the caller decides whether to keep polling)."""
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
            text += " · " + t("jobs.rate", it_s=f"{it_s:.1f}", eta=duration((total - step) / it_s))
        st.progress(min(1.0, step / total), text=text)
    if status.get("gpu_mem_gb") is not None:
        st.caption(t("jobs.gpu_memory", gb=status["gpu_mem_gb"]))
    if state == "failed":
        st.error(t("jobs.failed", message=status.get("message", "")))
    elif state == "queued":
        st.info(t("jobs.queued", limit=jobs.max_jobs()))
    elif status.get("message"):  # stopped where, what a detector's run is doing after its GAN, ...
        st.caption(status["message"])

    b1, b2, b3, b4 = st.columns([1, 1.4, 1, 1])
    if state in LIVE_STATES:
        stop_button(run, b1)
    else:
        until = b2.number_input(t("jobs.until"), min_value=step + 1, value=max(total, step + 1), step=500,
                                key=f"until_{run.id}", label_visibility="collapsed")
        if resume_button(run, b1, steps=int(until)):
            st.rerun(scope="app")
    if on_clone is not None:
        b3.button(t("jobs.clone"), key=f"clone_{run.id}", icon=":material/content_copy:", on_click=on_clone,
                  args=(run,), help=t("jobs.clone_help"))

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
        tracked = [r for r in metrics if "fd" in r]
        if tracked:
            m1, m2 = st.columns(2)
            m1.plotly_chart(curves({"FD": [(r["step"], r["fd"]) for r in tracked]}, t("jobs.fd"), "FD", height=220),
                            width="stretch", key=f"fd_{run.id}")
            m2.plotly_chart(curves({k: [(r["step"], r[k]) for r in tracked] for k in ("precision", "recall")},
                                   t("jobs.pr"), "", height=220), width="stretch", key=f"pr_{run.id}")
            st.caption(t("jobs.metrics_note"))
    with right:
        grid = latest_sample(run)
        if grid is not None:
            st.image(str(grid), caption=t("jobs.samples_at", step=int(grid.stem.split("_")[-1])), width="stretch")
    with st.expander(t("jobs.log")):
        st.code(tail(run.path / "log.txt") or "—", language=None)
        out = tail(run.path / "stdout.log", 25)
        if out:
            st.caption(t("jobs.stdout"))
            st.code(out, language=None)
    st.caption(t("jobs.updated", ago=duration(time.time() - float(status.get("updated_at") or time.time()))))
    return state
