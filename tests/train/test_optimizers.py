"""Optimizers by name: the classes built, presets, defaults and option errors."""

from __future__ import annotations

import dadaptation
import numpy as np
import prodigyopt
import pytest
import schedulefree
import torch

from lrlab.errors import UsageError
from lrlab.train import DEFAULT_LR, OPTIMIZERS, is_schedule_free, make_optimizer

_CLASSES = {
    "sgd": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "prodigy": prodigyopt.Prodigy,
    "dadapt_adam": dadaptation.DAdaptAdam,
    "schedulefree_adamw": schedulefree.AdamWScheduleFree,
    "schedulefree_sgd": schedulefree.SGDScheduleFree,
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_each_name_builds_its_class_with_the_default_lr(name: str) -> None:
    p = [torch.nn.Parameter(torch.zeros(2))]
    opt = make_optimizer(name, p)
    assert type(opt) is _CLASSES[name]
    assert opt.param_groups[0]["lr"] == DEFAULT_LR[name]
    assert is_schedule_free(name) == name.startswith("schedulefree")


def test_momentum_presets_and_overrides() -> None:
    p = [torch.nn.Parameter(torch.zeros(2))]
    g = make_optimizer("momentum", p, 0.1).param_groups[0]
    assert (g["momentum"], g["nesterov"]) == (0.9, False)
    g = make_optimizer("nesterov", p, 0.1, momentum=0.5).param_groups[0]
    assert (g["momentum"], g["nesterov"]) == (0.5, True)
    assert make_optimizer("sgd", p, 0.1).param_groups[0]["momentum"] == 0


def test_nesterov_update_matches_the_formula() -> None:
    # torch's Nesterov: b = mu*b + g; theta -= lr * (g + mu*b); b starts as g.
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = make_optimizer("nesterov", [w], 0.1)
    ref, buf = w.detach().clone(), None
    for _ in range(3):
        opt.zero_grad()
        loss = (w**4).sum()
        loss.backward()
        g = 4 * ref**3
        buf = g.clone() if buf is None else 0.9 * buf + g
        ref = ref - 0.1 * (g + 0.9 * buf)
        opt.step()
        assert torch.allclose(w.detach(), ref, rtol=1e-12, atol=0)


def test_bad_names_and_options() -> None:
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(UsageError, match=r"Unknown optimizer 'lion'\. Available: sgd, momentum"):
        make_optimizer("lion", p)
    with pytest.raises(UsageError, match=r"Unknown option `beta` for optimizer 'adam'\. Allowed"):
        make_optimizer("adam", p, 1e-3, beta=0.9)
    with pytest.raises(UsageError, match=r"Received: lr=-1"):
        make_optimizer("sgd", p, -1)
    with pytest.raises(UsageError, match=r"Invalid options for optimizer 'adam'.*betas=\(2\.0"):
        make_optimizer("adam", p, 1e-3, betas=(2.0, 0.999))


@pytest.mark.parametrize(
    ("name", "key", "value", "what"),
    [
        ("sgd", "momentum", float("nan"), r"a number \(not NaN\)"),  # trained to NaN, silently
        ("sgd", "weight_decay", float("nan"), r"a number \(not NaN\)"),
        ("prodigy", "d_coef", float("nan"), r"a number \(not NaN\)"),
        ("adam", "amsgrad", "x", "True or False"),  # read as True, silently
        ("adam", "betas", (0.9,), r"a tuple of 2 numbers \(not NaN\)"),  # torch's IndexError
        ("schedulefree_adamw", "warmup_steps", "a", r"a number \(not NaN\)"),  # at step()
        ("prodigy", "growth_rate", "x", r"a number \(not NaN\)"),  # at step()
    ],
)
def test_an_option_of_the_wrong_kind_is_refused_by_name(
    name: str, key: str, value: object, what: str
) -> None:
    p = [torch.nn.Parameter(torch.zeros(3))]
    with pytest.raises(
        UsageError,
        match=rf"^Argument `{key}` of optimizer '{name}' must be {what}\. Received: {key}=",
    ):
        make_optimizer(name, p, **{key: value})


def test_options_may_be_numpy_numbers_and_keep_none_and_inf() -> None:
    """A 0-d array momentum was passed on to torch, which raised a TypeError at step()."""
    w = torch.nn.Parameter(torch.ones(3))
    opt = make_optimizer("sgd", [w], 0.1, momentum=np.array(0.5), foreach=None)
    w.grad = torch.ones(3)
    opt.step()
    assert opt.param_groups[0]["momentum"] == 0.5 and type(opt.param_groups[0]["momentum"]) is float
    adam = make_optimizer(
        "adam", [w], betas=[np.float32(0.5), np.array(0.9)], amsgrad=np.bool_(True)
    )
    assert adam.param_groups[0]["betas"] == (0.5, 0.9) and adam.param_groups[0]["amsgrad"] is True
    assert make_optimizer("prodigy", [w], growth_rate=float("inf")).param_groups[0][
        "growth_rate"
    ] == float("inf")


@pytest.mark.parametrize("name", [None, "lion"])
def test_is_schedule_free_of_an_unknown_optimizer_is_refused(name: object) -> None:
    """None raised "'NoneType' object has no attribute 'startswith'"; 'lion' was False."""
    with pytest.raises(UsageError, match=r"^Unknown optimizer .*Available: sgd"):
        is_schedule_free(name)  # type: ignore[arg-type]
