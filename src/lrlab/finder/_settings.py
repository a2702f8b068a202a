"""The range test's options: checked once before anything trains (:class:`SweepSettings`),
and what they leave room for: whether the race fits the budget at the horizon
(:func:`too_short`, warned as an :class:`~lrlab.errors.LrlabWarning`) and the one line
on how lrlab's suggestion came about (:func:`why`)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from lrlab._checks import int_at_least, number_in, positive_int, positive_number
from lrlab.errors import UsageError, warn
from lrlab.finder.advice import Advice, AdviceRule, checkpoint_every, default_rule

__all__ = ["BUDGET_RULE", "HORIZON_RULE", "SweepSettings", "too_short", "why"]

#: What ``horizon`` must be, in every message that refuses one.
HORIZON_RULE = "a positive integer (the run's steps) or None"
BUDGET_RULE = "a number in (0, 10] (the fraction of one run's steps the advice may spend)"


@dataclasses.dataclass(frozen=True)
class SweepSettings:
    """The range test's options, checked when made (:meth:`of`), then never changed;
    ``dataclasses.asdict`` of it is ``FinderResult.settings``.

    ``horizon`` is the length of the run the advice is for, resolved; ``rule`` the rule
    to run: the budget's default (or the one given), with ``confirm`` candidates and a
    fixed exponent if given.
    """

    min_lr: float
    max_lr: float
    num_steps: int
    mode: str
    beta: float
    debias: bool
    diverge: float
    budget: float
    horizon: int
    horizon_exponent: float | None
    rule: AdviceRule

    @classmethod
    def of(
        cls,
        *,
        min_lr: Any,
        max_lr: Any,
        num_steps: Any,
        mode: Any,
        beta: Any,
        debias: bool,
        diverge: Any,
        confirm: Any,
        budget: Any,
        horizon: Any,
        horizon_exponent: Any,
        rule: Any,
    ) -> SweepSettings:
        """Refuse a bad option before anything trains (one message form, option named)."""
        for name, value in (("min_lr", min_lr), ("max_lr", max_lr), ("diverge", diverge)):
            positive_number(name, value)
        positive_int("num_steps", num_steps)
        if num_steps < 5:
            raise UsageError(
                f"Argument `num_steps` must be at least 5. Received: num_steps={num_steps}"
            )
        if min_lr >= max_lr:
            raise UsageError(
                f"Argument `min_lr` must be smaller than `max_lr`. Received: min_lr={min_lr}, "
                f"max_lr={max_lr}"
            )
        if mode not in ("exponential", "linear"):
            raise UsageError(
                f"Argument `mode` must be 'exponential' or 'linear'. Received: mode={mode!r}"
            )
        beta = number_in("beta", beta, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")
        if confirm is not None:
            confirm = int_at_least("confirm", confirm, 0, "a non-negative integer")
        number_in("budget", budget, lambda v: 0 < v <= 10, BUDGET_RULE)
        if horizon is not None:
            int_at_least("horizon", horizon, 1, HORIZON_RULE)
        if horizon_exponent is not None:
            horizon_exponent = number_in(
                "horizon_exponent", horizon_exponent, lambda v: 0 <= v <= 2, "a number in [0, 2]"
            )
        if rule is not None and not isinstance(rule, AdviceRule):
            raise UsageError(
                "Argument `rule` must be an AdviceRule or None. "
                f"Received: rule={type(rule).__name__}"
            )
        rule = default_rule(budget) if rule is None else rule
        if confirm is not None:
            rule = dataclasses.replace(
                rule, candidates=confirm, keep=min(rule.keep, max(confirm - 1, 0))
            )
        if horizon_exponent is not None:
            rule = dataclasses.replace(
                rule,
                alpha_weight=0.0,
                alpha_prior=float(horizon_exponent),
                alpha_max=max(2.0, horizon_exponent),
            )
        return cls(
            float(min_lr), float(max_lr), int(num_steps), mode, beta, debias, float(diverge),
            float(budget), 10 * int(num_steps) if horizon is None else int(horizon),
            horizon_exponent, rule,
        )  # fmt: skip

    @property
    def room(self) -> int:
        """The steps the probes may spend: the budget's share of the run less the sweep."""
        return int(self.budget * self.horizon) - self.num_steps

    @property
    def draws(self) -> int:
        """The most steps' batches the test may draw: the sweep's, and the race's when it runs
        (:func:`too_short` says it does not)."""
        every = checkpoint_every(self.horizon)
        race = self.rule.candidates > 0 and self.room >= 2 * every
        return self.num_steps + (self.room if race else 0)


def too_short(s: SweepSettings, every: int) -> str:
    """Why the race cannot run at this budget and horizon, warned as an LrlabWarning
    (``""``: it can, or ``confirm=0`` asked for no race)."""
    if s.rule.candidates == 0 or s.room >= 2 * every:
        return ""
    need = (s.num_steps + 2 * every) / s.horizon
    ways = (
        f"a larger `budget` (at least {math.ceil(need * 100) / 100:.2f})"
        if need <= 10
        else f"fewer `num_steps` (the sweep alone is {s.num_steps} steps)"
    )
    text = (
        f"budget={s.budget:g} of a {s.horizon}-step run (horizon={s.horizon}) is "
        f"{int(s.budget * s.horizon)} steps, but the sweep and race need at least "
        f"{s.num_steps + 2 * every} ({s.num_steps} sweep, {2 * every} race): lrlab's "
        f"suggestion is the unconfirmed sweep proposal. Ask for {ways}, or pass confirm=0 "
        "for the unconfirmed proposal without this warning"
    )
    warn(text)
    return text


def why(s: SweepSettings, anchor: float | None, advice: Advice | None, short: str) -> str:
    """One line on how lrlab's suggestion came about, saying when it is unconfirmed."""
    if advice is not None:
        return advice.reason
    if anchor is None:
        return "no suggestion: the sweep was too short for an anchor"
    if short:
        return f"unconfirmed (no race): {short}"
    if s.rule.candidates == 0:
        return "unconfirmed (no race, confirm=0): the sweep's proposal, one step below its anchor"
    return "unconfirmed (no race): the sweep's proposal, one step below its anchor"
