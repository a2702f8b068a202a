"""Optimizers by name: the classes built, presets, defaults and option errors."""

from __future__ import annotations

import dadaptation
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
