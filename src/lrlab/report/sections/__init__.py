"""The report's sections, one module each, every one a function of typed inputs.

Every section takes the :class:`Context` (task, seed, budget) and, when it builds
on an earlier section, that section's typed output as an argument: the range
test's :class:`RangeTest`, the schedules' and optimizers'
:class:`~lrlab.compare.Comparison`, the search's :class:`SearchBest`.  Nothing is
shared through a dict, so a missing upstream result is a call that cannot be
made rather than a silent default.  Every section runs real training through
the public lrlab API and returns a :class:`~lrlab.report._page.Section`: prose
built from the measured numbers, figures, tables, and the raw numbers for
``results.json``.
"""

from lrlab.report.sections._shared import Context, RangeTest, SearchBest
from lrlab.report.sections.decay import decay_strategies
from lrlab.report.sections.factor import decay_factor
from lrlab.report.sections.landscape import landscape
from lrlab.report.sections.optimizers import optimizers
from lrlab.report.sections.range_test import range_test
from lrlab.report.sections.recommendation import recommendation
from lrlab.report.sections.schedules import schedule_family, schedules_on_training
from lrlab.report.sections.search import search
from lrlab.report.sections.study import study_sections

__all__ = ["Context", "RangeTest", "SearchBest", "decay_factor", "decay_strategies", "landscape",
           "optimizers", "range_test", "recommendation", "schedule_family",
           "schedules_on_training", "search", "study_sections"]  # fmt: skip
