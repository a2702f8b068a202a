"""One configuration to copy: the rule that picks it from the measured runs, and its code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lrlab.report.sections._shared import ties
from lrlab.schedules import parse_rule

if TYPE_CHECKING:
    from lrlab.compare import CompareRow, Comparison

__all__ = ["RULE", "Choice", "as_shown", "choose", "code", "peak"]

#: Schedule kinds, fewest settings to choose first (the page's names).
SIMPLER = {"constant": "fixed", "cosine": "cosine", "step": "step", "exponential": "exponential",
           "inverse_time": "1/t", "wsd": "warmup-stable-decay", "one_cycle": "one-cycle",
           "reduce_on_plateau": "reduce-on-plateau"}  # fmt: skip
#: Optimizers, simplest first: name -> (page name, PyTorch class, Optax function or None);
#: the Keras class is PyTorch's name for ``torch.optim``'s, and there is none for the others.
OPTIMIZERS: dict[str, tuple[str, str, str | None]] = {
    "sgd": ("SGD", "torch.optim.SGD", "sgd"),
    "momentum": ("SGD + momentum", "torch.optim.SGD", "sgd"),
    "nesterov": ("SGD + Nesterov momentum", "torch.optim.SGD", "sgd"),
    "adagrad": ("Adagrad", "torch.optim.Adagrad", "adagrad"),
    "adadelta": ("Adadelta", "torch.optim.Adadelta", "adadelta"),
    "rmsprop": ("RMSprop", "torch.optim.RMSprop", "rmsprop"),
    "adam": ("Adam", "torch.optim.Adam", "adam"),
    "adamw": ("AdamW", "torch.optim.AdamW", "adamw"),
    "prodigy": ("Prodigy", "prodigyopt.Prodigy", "contrib.prodigy"),
    "dadapt_adam": ("D-Adapt Adam", "dadaptation.DAdaptAdam", None),
    "schedulefree_adamw": ("Schedule-Free AdamW", "schedulefree.AdamWScheduleFree",
                           "contrib.schedule_free_adamw"),
    "schedulefree_sgd": ("Schedule-Free SGD", "schedulefree.SGDScheduleFree", None),
}  # fmt: skip
_OPTIONS = {"momentum": ", momentum=0.9", "nesterov": ", momentum=0.9, nesterov=True"}

RULE = (
    "of every configuration trained for the whole run on every seed (section 4's schedules "
    "with SGD + momentum, section 5's optimizers at their own rates), take the lowest mean "
    "final validation loss; those within its seed spread are tied with it, and of the tied "
    "the simplest wins: the schedule with the fewest settings to choose (fixed, cosine, "
    "step, exponential, 1/t, warmup-stable-decay, one-cycle, reduce-on-plateau), then the "
    "simpler optimizer (SGD, momentum, then the adaptive ones)."
)


@dataclass(frozen=True)
class Choice:
    """The configuration the rule picked: its optimizer (lrlab's name), its schedule as
    lrlab text (``parse_rule`` reads it back), peak rate, what it measured and how many
    configurations were tied with it (itself included)."""

    optimizer: str
    schedule: str
    lr: float
    mean: float
    std: float
    seeds: int
    tied: int

    @property
    def kind(self) -> str:
        return self.schedule.split("(")[0]

    def describe(self) -> str:
        name = OPTIMIZERS.get(self.optimizer, (self.optimizer,))[0]
        return f"{name}, {SIMPLER.get(self.kind, self.kind)} schedule, lr {self.lr:.3g}"


def peak(text: str) -> float:
    """The peak rate of a schedule's text."""
    rule = parse_rule(text)
    return float(getattr(rule, "lr", None) or rule.max_lr)


def as_shown(rule: Any) -> str:
    """The text of a schedule (or plateau rule) with its peak rate to 3 digits, as the
    page shows it."""
    peak = "lr" if hasattr(rule, "lr") else "max_lr"
    return str(replace(rule, **{peak: float(f"{getattr(rule, peak):.3g}")}))


def choose(*comparisons: Comparison) -> Choice | None:
    """The configuration of :data:`RULE` among the rows of ``comparisons``."""
    rows: list[CompareRow] = [r for c in comparisons for r in c.table]
    unique = {(r.optimizer, r.schedule): r for r in reversed(rows)}  # one row per config
    level = ties(list(unique.values()))
    if not level:
        return None
    order, names = list(SIMPLER), list(OPTIMIZERS)

    def rank(r: CompareRow) -> tuple[int, int]:
        kind = r.schedule.split("(")[0]
        return (order.index(kind) if kind in order else len(order),
                names.index(r.optimizer) if r.optimizer in names else len(names))  # fmt: skip

    r = min(level, key=rank)
    text = as_shown(parse_rule(r.schedule))
    return Choice(r.optimizer, text, peak(text), r.final_val_loss_mean,
                  r.final_val_loss_std, r.seeds - r.diverged, len(level))  # fmt: skip


def code(choice: Choice) -> list[str]:
    """The lines that train with ``choice`` in PyTorch, and in Keras and Optax where the
    optimizer (and, for reduce-on-plateau, a step of the metric) is there too."""
    _, cls, optax_fn = OPTIMIZERS[choice.optimizer]
    text, extra = choice.schedule, _OPTIONS.get(choice.optimizer, "")
    plateau = choice.kind == "reduce_on_plateau"
    torch = [
        f"# PyTorch\nimport {cls.rsplit('.', 1)[0]}, lrlab.torch",
        f"opt = {cls}(model.parameters(), lr={choice.lr:.6g}{extra})",
        f'sched = lrlab.torch.{"plateau" if plateau else "scheduler"}(opt, "{text}")',
        "# after each evaluation: sched.step(val_loss)" if plateau
        else "# each step: opt.step(); sched.step()",
    ]  # fmt: skip
    if choice.optimizer.startswith("schedulefree"):
        torch.append("# opt.train() before training, opt.eval() before evaluating")
    out = ["\n".join(torch)]
    if cls.startswith("torch.optim.") and not plateau:
        out.append(
            f"# Keras\nimport keras, lrlab.keras\nopt = keras.optimizers.{cls[12:]}("
            f'learning_rate=lrlab.keras.schedule("{text}"){extra})'
        )
    if optax_fn is not None and not plateau:
        out.append(
            f"# Optax\nimport optax, lrlab.optax\n"
            f'opt = optax.{optax_fn}(lrlab.optax.schedule("{text}"){extra})'
        )
    return out
