"""Statistics over eval results: confidence intervals, leaderboards, paired comparisons, gates.

Everything here works on plain in-memory rows, one per ``(run_id, case_id, target, repeat,
scorer)`` (see :data:`COLUMNS`), given as a pandas DataFrame, a list of dicts, or
:class:`~evals.types.CaseResult` objects (:func:`results_frame`). It never touches the store.

Statistical choices, and why:

- **Cases are the unit of analysis.** A case's repeats are averaged first (per group, case and
  scorer); intervals are then computed over cases. Repeats of one case are not independent
  draws, so treating them as extra samples would make intervals too narrow.
- **Scorer failures** (``value`` missing) are excluded from means and counted in ``n_errors``.
  A case whose every repeat failed drops out of ``n_cases``.
- **Intervals of a mean** (:func:`mean_ci`): the Wilson score interval when every value is 0 or 1
  (it stays inside [0, 1] and behaves at 0/n and n/n, where the normal interval collapses);
  otherwise a Student t interval, clipped to [0, 1] when all values lie there. The t quantile is
  computed without scipy: exactly, from the closed-form t distribution function for integer
  degrees of freedom (Abramowitz & Stegun 26.7.3-4) inverted by bisection, and by the
  Cornish-Fisher expansion (A&S 26.7.5, error below 1e-9) beyond 200 degrees of freedom.
- **Comparisons** (:func:`compare`, :func:`gate`) are paired by case: only cases scored on both
  sides count; the difference is ``b - a`` per case; its mean gets a percentile bootstrap
  interval (seeded, vectorised numpy, so deterministic). The bootstrap assumes nothing about
  the shape of the differences, which for [0, 1] scores are often lumpy (-1, 0, +1).
- **The overall score** of a group is, per case, the mean over its scorers (each averaged over
  repeats), then averaged over cases. That keeps cases as the unit (so it gets an interval and
  pairs like any scorer) and equals the mean of per-scorer means whenever every case has the
  same scorers and none failed. Pass ``overall_scorer`` to use one scorer instead.
- **By tag** (:func:`by_tag`): the same per-case scores, grouped by the tags cases carry (a
  dataset's categories); a case with several tags counts in each, so tags may overlap.

Modules: :mod:`~evals.stats.frames` (result frames, per-case scores, operations),
:mod:`~evals.stats.intervals` (:func:`mean_ci`, :func:`t_quantile`),
:mod:`~evals.stats.leaderboard`, :mod:`~evals.stats.tags` (:func:`by_tag`, per category),
:mod:`~evals.stats.compare` (paired bootstrap, :func:`compare`) and :mod:`~evals.stats.gate`;
every public name is re-exported here.
"""

from evals.stats._common import PASS_THRESHOLD
from evals.stats.compare import Comparison, PairedBootstrap, Selector, compare, paired_bootstrap
from evals.stats.frames import COLUMNS, Ops, as_frame, case_scores, operations, results_frame
from evals.stats.gate import GateLine, GateResult, gate
from evals.stats.intervals import Estimate, mean_ci, t_quantile
from evals.stats.leaderboard import OVERALL, leaderboard
from evals.stats.tags import by_tag

__all__ = [
    "COLUMNS",
    "OVERALL",
    "PASS_THRESHOLD",
    "Comparison",
    "Estimate",
    "GateLine",
    "GateResult",
    "Ops",
    "PairedBootstrap",
    "Selector",
    "as_frame",
    "by_tag",
    "case_scores",
    "compare",
    "gate",
    "leaderboard",
    "mean_ci",
    "operations",
    "paired_bootstrap",
    "results_frame",
    "t_quantile",
]
