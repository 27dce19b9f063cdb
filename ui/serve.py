"""Serve the studio: `python -m ui.serve [streamlit options]` (what `make run` does).

The same as `streamlit run app.py [options]`, except that the heavy libraries (torch, torchvision,
plotly, POT, SciPy, music21, torchmetrics: 5 to 8 s on a laptop CPU) are imported before the port opens, so the first
visitor does not wait for them, and the shipped models every page opens on are read into the
model cache in the background once the server is up. `streamlit run app.py` still works; its first
visit is just slower.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"


def _warm() -> None:
    """Load the models the pages open on into st.cache_resource (the same cache the pages use),
    after the server is up. Best effort: a missing or damaged checkpoint is the page's to report."""
    time.sleep(1.0)  # let the server bind first: warming is for later visitors, not before the port opens
    # No script run is active in this thread: Streamlit says so once per call; the cache works the same.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
    try:
        from ui.models import warm_models
        warm_models()
    except Exception as e:  # noqa: BLE001  (warming must never take the server down)
        logging.getLogger(__name__).warning("model cache not warmed: %s", e)


# Imported before the port opens, in this thread: what pages import lazily, so that no visitor
# waits for it and no two threads import one package at once (see ui/preload.py).
HEAVY = ("ui.preload", "ui.models", "gan_core.metrics.images", "gan_core.data.music", "music21", "skimage.feature",
         "sklearn.datasets")


def main() -> None:
    import importlib

    from streamlit.web import cli

    for name in HEAVY:
        importlib.import_module(name)

    threading.Thread(target=_warm, name="gan-studio-warm", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
