"""The heavy libraries, imported once, by app.py, before any page.

A first visitor who opens another page while the first run is still importing torchvision (a few
seconds on a cold laptop) starts a second script run while the first is still importing. Two threads
importing one package at once can hand one of them a half-initialised module ("cannot import name
'InterpolationMode' from partially initialized module"). Here the second run waits on this module's
import lock until the first has imported everything.
"""
import ot  # noqa: F401
import plotly.graph_objects  # noqa: F401
import scipy.optimize  # noqa: F401
import torch  # noqa: F401
import torchvision  # noqa: F401
import torchvision.transforms.v2  # noqa: F401
import torchvision.utils  # noqa: F401
