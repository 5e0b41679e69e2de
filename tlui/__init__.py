"""Helpers shared by the TransferLab pages: session state, option widgets, charts, formatting.

Only Streamlit, plotly and tlcore's light facade are used here: no torch, transformers or peft (models run in
the worker processes that tlcore starts). Pages stay thin: they lay out widgets, call tlcore and these helpers,
always through this package (``import tlui``; ``tlui.loss_figure(...)``).

| module | job |
| --- | --- |
| ``state`` | page paths, session-state keys, widgets that keep their value across pages |
| ``options`` | method option widgets built from the registry; filling the Train page from a run |
| ``fmt`` | durations, counts, run labels |
| ``run_view`` | a run's status badge, progress line, headline metrics and live charts (``run_charts``) |
| ``charts`` | plotly figures of a run: loss (raw and smoothed, steps or epochs), learning rate, throughput |
| ``data_view`` | a validation report on the Data page |
| ``compare_view`` | the Compare page's tabs: tables, figures, per-example browser, learning curve, report |
| ``checks_view`` | the Compare page's transfer checks: out-of-domain, slices, counterfactual probe, footprint |
| ``use_view`` | the Use page: playground, batch prediction, export and import |
| ``auth`` | the optional password / single sign-on gate for a team server |
"""
from .charts import *  # noqa: F401,F403
from .data_view import *  # noqa: F401,F403
from .fmt import *  # noqa: F401,F403
from .options import *  # noqa: F401,F403
from .run_view import *  # noqa: F401,F403
from .state import *  # noqa: F401,F403
from .use_view import *  # noqa: F401,F403  (the Use page: playground, batch prediction, export, import)
from . import compare_view  # noqa: F401  (the Compare page: tables, charts, examples, learning curves, report)
from .checks_view import render_checks  # noqa: F401  (the Compare page: out-of-domain, slices, probe, footprint)
