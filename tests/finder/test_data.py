"""The range test's data and devices: any iterable of batches, dict batches with
``batch_loss``, batches moved to the model's device, first-day mistakes refused by name,
and a horizon too short to race warned about."""

from __future__ import annotations

import collections
import itertools
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lrlab.errors import LrlabWarning, UsageError
from lrlab.finder import find_lr
from lrlab.finder._data import describe, to_device

FAST = {"num_steps": 20, "confirm": 0, "min_lr": 1e-4, "max_lr": 1.0}


def _problem(n: int = 64) -> tuple[torch.nn.Module, torch.optim.Optimizer, list[Any]]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(n, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]])
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, n, 16)]
    return model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), batches


def _state(model: torch.nn.Module, opt: torch.optim.Optimizer) -> tuple[Any, ...]:
    return ([t.clone() for t in model.state_dict().values()], repr(opt.state_dict()))


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return all(torch.equal(u, v) for u, v in zip(a[0], b[0])) and a[1] == b[1]


def test_a_generator_holding_enough_batches_gives_the_lists_curve() -> None:
    model, opt, batches = _problem()
    want = find_lr(model, torch.nn.MSELoss(), batches, opt, **FAST)
    gen = (b for b in itertools.islice(itertools.cycle(batches), 20))
    got = find_lr(model, torch.nn.MSELoss(), gen, opt, **FAST)
    assert got.losses.tolist() == want.losses.tolist() and len(got.losses) == 20


def test_a_generator_that_ends_early_says_how_many_it_held_and_needed() -> None:
    model, opt, batches = _problem()
    before = _state(model, opt)
    gen = (b for b in batches * 2)  # 8 batches for a 20-step sweep
    with pytest.raises(UsageError, match=r"ended after 8 batches, but .* needs up to 20 "):
        find_lr(model, torch.nn.MSELoss(), gen, opt, **FAST)
    assert _same(before, _state(model, opt))  # restored after the partial sweep


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], r"at least one batch\. Received: an empty list$"),
        (iter([]), r"Received: an empty list_iterator \(a generator or iterator already used"),
    ],
)
def test_an_empty_iterable_is_refused(data: Any, message: str) -> None:
    model, opt, _ = _problem()
    with pytest.raises(UsageError, match=message):
        find_lr(model, torch.nn.MSELoss(), data, opt, **FAST)


def test_dict_batches_with_batch_loss_give_the_pairs_curve() -> None:
    model, opt, batches = _problem()
    want = find_lr(model, torch.nn.MSELoss(), batches, opt, **FAST)
    dicts = [{"input": x, "labels": y} for x, y in batches]
    seen: list[str] = []

    def batch_loss(m: torch.nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        seen.append(type(b).__name__)
        return torch.nn.functional.mse_loss(m(b["input"]), b["labels"])

    got = find_lr(model, None, dicts, opt, batch_loss=batch_loss, **FAST)
    assert got.losses.tolist() == want.losses.tolist()
    assert set(seen) == {"dict"} and len(seen) == 20


class _OwnLoss(torch.nn.Module):
    """A model that computes its own loss, as an HF model given ``labels`` does."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def forward(self, input: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": torch.nn.functional.mse_loss(self.net(input), labels)}


def test_a_model_that_computes_its_own_loss_over_a_user_dict() -> None:
    _, _, batches = _problem()
    own = _OwnLoss()
    opt = torch.optim.Adam(own.parameters(), lr=1e-3)
    before = _state(own, opt)
    data = [collections.UserDict(input=x, labels=y) for x, y in batches]  # as BatchEncoding
    res = find_lr(own, None, data, opt, batch_loss=lambda m, b: m(**b)["loss"], num_steps=30)
    assert res.confirmed and res.suggestion is not None and 0 < res.suggestion.lr < 10
    assert _same(before, _state(own, opt))


def test_dict_batches_without_batch_loss_name_it() -> None:
    model, opt, batches = _problem()
    dicts = [{"input": x, "labels": y} for x, y in batches]
    with pytest.raises(UsageError, match=r"type dict; for a dict batch pass `batch_loss=fn`"):
        find_lr(model, torch.nn.MSELoss(), dicts, opt, **FAST)


def test_nested_batches_move_to_the_device_keeping_their_types() -> None:
    pair = collections.namedtuple("pair", "x y")
    batch = (pair(torch.ones(2), [torch.zeros(3)]), {"m": torch.ones(1, dtype=torch.long)}, 7)
    moved = to_device(batch, torch.device("meta"))
    assert isinstance(moved[0], pair) and isinstance(moved[0].y, list) and moved[2] == 7
    assert moved[0].x.is_meta and moved[0].y[0].is_meta and moved[1]["m"].is_meta
    assert describe(moved) == "((float32[2], [float32[3]]), {'m': int64[1]}, int)"


def test_a_dataloader_with_pinned_memory_and_an_explicit_device() -> None:
    model, opt, batches = _problem()
    want = find_lr(model, torch.nn.MSELoss(), batches, opt, **FAST)
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    loader = DataLoader(TensorDataset(x, y), batch_size=16, pin_memory=torch.cuda.is_available())
    got = find_lr(model, torch.nn.MSELoss(), loader, opt, device="cpu", **FAST)
    assert got.losses.tolist() == want.losses.tolist()
    with pytest.raises(UsageError, match=r"^Argument `device` must be .*device='gpu9'$"):
        find_lr(model, torch.nn.MSELoss(), loader, opt, device="gpu9", **FAST)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_batches_reach_a_cuda_model() -> None:
    model, _, batches = _problem()
    model = model.cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = _state(model, opt)
    pinned = [(x.pin_memory(), y.pin_memory()) for x, y in batches]
    res = find_lr(model, torch.nn.MSELoss(), pinned, opt, **FAST)
    assert len(res.losses) == 20 and _same(before, _state(model, opt))


def test_an_optimizer_over_another_models_parameters_is_refused() -> None:
    model, _, batches = _problem()
    other = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(other.parameters(), lr=0.1)
    with pytest.raises(UsageError) as info:
        find_lr(model, torch.nn.MSELoss(), batches, opt, **FAST)
    text = str(info.value)
    assert text.startswith(
        "Argument `optimizer` must be a torch optimizer over `model`'s parameters. Received: "
        "SGD over 2 tensors (float32[1, 4], float32[1]), none of them a parameter of `model` "
        "(Sequential, 4 parameters); build it as SGD(model.parameters(), ...)"
    )
    assert opt.state_dict()["state"] == {}  # nothing trained


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"loss_fn": torch.nn.MSELoss},
            r"^Argument `loss_fn` must be .* Received: the class MSELoss itself; pass an "
            r"instance, loss_fn=MSELoss\(\)$",
        ),
        (
            {"model": torch.nn.Linear},
            r"^Argument `model` must be a torch.nn.Module\. Received: model=type \(the class "
            r"itself; pass an instance, Linear\(\.\.\.\)\)$",
        ),
        (
            {"model": lambda: torch.nn.Linear(4, 1)},
            r"^Argument `model` .*model=function \(a factory\? find_lr takes the model itself",
        ),
        ({"batch_loss": lambda m, b: m(b[0]).sum()}, r"^Arguments `loss_fn` and `batch_loss`"),
    ],
)
def test_a_class_or_factory_in_place_of_an_instance_is_refused(
    args: dict[str, Any], message: str
) -> None:
    model, opt, batches = _problem()
    call: dict[str, Any] = {"model": model, "loss_fn": torch.nn.MSELoss(), "data": batches}
    with pytest.raises(UsageError, match=message):
        find_lr(**{**call, **args}, optimizer=opt, **FAST)


def _classifier() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("loss_fn", "x", "y", "message"),
    [
        (  # float targets of another shape: "expected scalar type Long" deep in torch
            torch.nn.CrossEntropyLoss(),
            torch.randn(8, 4),
            torch.rand(8, 5),
            r"^Argument `loss_fn` must take the model's outputs and `data`'s targets\. "
            r"Received: outputs float32\[8, 3\], targets float32\[8, 5\]: ",
        ),
        (  # a class index out of range: IndexError on CPU
            torch.nn.CrossEntropyLoss(),
            torch.randn(8, 4),
            torch.full((8,), 7),
            r"Received: outputs float32\[8, 3\], targets int64\[8\]: IndexError",
        ),
        (  # MSELoss broadcasts [8, 3] against [8, 1] with a warning only
            torch.nn.MSELoss(),
            torch.randn(8, 4),
            torch.randn(8, 1),
            r"targets float32\[8, 1\]: Using a target size .* different to the input size",
        ),
        (
            torch.nn.MSELoss(reduction="none"),
            torch.randn(8, 4),
            torch.randn(8, 3),
            r"^Argument `loss_fn` must return the batch's loss as a scalar tensor\. "
            r"Received: float32\[8, 3\]",
        ),
        (
            torch.nn.MSELoss(),
            torch.randn(8, 5),
            torch.randn(8, 3),
            r"^Argument `data`'s inputs must fit `model`\. Received: inputs float32\[8, 5\] "
            r"for Linear: RuntimeError",
        ),
    ],
)
def test_a_first_batch_that_cannot_fit_the_loss_is_refused_before_training(
    loss_fn: Any, x: torch.Tensor, y: torch.Tensor, message: str
) -> None:
    model, opt = _classifier()
    before = _state(model, opt)
    with pytest.raises(UsageError, match=message):
        find_lr(model, loss_fn, [(x, y)], opt, **FAST)
    assert _same(before, _state(model, opt))


def test_a_bad_validation_batch_is_refused_by_name_before_training() -> None:
    model, opt = _classifier()
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    with pytest.raises(UsageError, match=r"`val_data`'s targets\. Received: .*float32\[8\]"):
        find_lr(model, torch.nn.CrossEntropyLoss(), [(x, y)], opt, val_data=(x, y.float()))


def _warned(**options: Any) -> tuple[Any, list[warnings.WarningMessage]]:
    model, opt, batches = _problem()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = find_lr(model, torch.nn.MSELoss(), batches, opt, num_steps=100, **options)
    return res, [w for w in caught if issubclass(w.category, LrlabWarning)]


def test_a_horizon_too_short_to_race_warns_and_says_unconfirmed() -> None:
    res, caught = _warned(horizon=80)
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "budget=0.25 of a 80-step run (horizon=80) is 20 steps" in text
    assert "need at least 102 (100 sweep, 2 race)" in text
    assert "a larger `budget` (at least 1.28)" in text and "confirm=0" in text
    assert caught[0].filename == __file__  # points at the caller's line
    assert not res.confirmed and res.advice is None and res.suggestion is not None
    assert res.why.startswith("unconfirmed (no race): budget=0.25")
    assert "why: unconfirmed" in res.summary()


def test_a_horizon_long_enough_or_confirm_0_does_not_warn() -> None:
    res, caught = _warned()
    assert caught == [] and res.confirmed and res.why == res.advice.reason
    res, caught = _warned(horizon=80, confirm=0)
    assert caught == [] and not res.confirmed and "confirm=0" in res.why


def test_a_larger_budget_is_the_way_out_the_warning_names() -> None:
    res, caught = _warned(horizon=80, budget=1.28)
    assert caught == [] and res.confirmed


def _gen(batches: list[Any]) -> Iterator[Any]:
    yield from itertools.cycle(batches)


def test_an_endless_generator_is_drawn_from_for_the_sweep_and_race() -> None:
    model, opt, batches = _problem()
    res = find_lr(model, torch.nn.MSELoss(), _gen(batches), opt, num_steps=40)
    assert res.confirmed and res.steps > 40


def test_accumulated_half_batches_give_the_full_batches_curve() -> None:
    model, opt, batches = _problem(128)
    halves = [(x[i : i + 8], y[i : i + 8]) for x, y in batches for i in (0, 8)]
    want = find_lr(model, torch.nn.MSELoss(), batches, opt, **FAST)
    before = _state(model, opt)
    got = find_lr(model, torch.nn.MSELoss(), halves, opt, accumulation_steps=2, **FAST)
    assert len(got.losses) == len(want.losses) == 20
    torch.testing.assert_close(
        torch.tensor(got.losses), torch.tensor(want.losses), rtol=1e-5, atol=1e-6
    )
    assert _same(before, _state(model, opt))
    gen = (b for b in halves[:10])
    with pytest.raises(UsageError, match=r"ended after 10 batches, .* needs up to 40 "):
        find_lr(model, torch.nn.MSELoss(), gen, opt, accumulation_steps=2, **FAST)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mixed_precision_on_cpu_restores_the_scaler_too(dtype: torch.dtype) -> None:
    model, opt, batches = _problem()
    full = find_lr(model, torch.nn.MSELoss(), batches, opt, num_steps=30)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
    before, scale0 = _state(model, opt), scaler.state_dict()
    res = find_lr(model, torch.nn.MSELoss(), batches, opt, num_steps=30, amp=dtype, scaler=scaler)
    assert _same(before, _state(model, opt))
    assert scaler.state_dict() == scale0 and scaler._scale is None  # as found: never used
    assert res.confirmed and res.suggestion is not None
    # autocast rounds the forward pass: the curve differs from full precision, but little
    assert res.losses.tolist() != full.losses.tolist()
    assert abs(res.losses[0] - full.losses[0]) < 0.05 * full.losses[0]


def test_a_used_scaler_gets_its_scale_back() -> None:
    model, opt, batches = _problem()
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=1)
    with torch.autocast("cpu", dtype=torch.float16):
        loss = torch.nn.functional.mse_loss(model(batches[0][0]), batches[0][1])
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    before, state = _state(model, opt), scaler.state_dict()
    find_lr(model, torch.nn.MSELoss(), batches, opt, amp=True, scaler=scaler, **FAST)
    assert scaler.state_dict() == state and scaler.get_scale() == 8.0
    assert _same(before, _state(model, opt))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"accumulation_steps": 0}, r"^Argument `accumulation_steps` must be a positive"),
        ({"amp": torch.float32}, r"^Argument `amp` must be True, False, .*amp=torch.float32$"),
        ({"scaler": 2.0}, r"^Argument `scaler` must be a torch.amp.GradScaler .*=float$"),
    ],
)
def test_bad_accumulation_or_precision_options_are_refused(
    options: dict[str, Any], message: str
) -> None:
    model, opt, batches = _problem()
    with pytest.raises(UsageError, match=message):
        find_lr(model, torch.nn.MSELoss(), batches, opt, **options)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mixed_precision_and_accumulation_on_cuda() -> None:
    model, _, batches = _problem()
    model = model.cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = _state(model, opt)
    res = find_lr(model, torch.nn.MSELoss(), batches, opt, amp=True, accumulation_steps=2)
    assert res.suggestion is not None and _same(before, _state(model, opt))


def test_hf_batch_encodings_keep_their_type_and_train_through_batch_loss() -> None:
    transformers = pytest.importorskip("transformers")
    _, _, batches = _problem()
    data = [transformers.BatchEncoding({"input": x, "labels": y}) for x, y in batches]
    moved = to_device(data[0], torch.device("meta"))
    assert isinstance(moved, transformers.BatchEncoding) and moved["input"].is_meta
    own = _OwnLoss()
    opt = torch.optim.SGD(own.parameters(), lr=0.1)
    before = _state(own, opt)
    res = find_lr(own, None, data, opt, batch_loss=lambda m, b: m(**b)["loss"], **FAST)
    assert len(res.losses) == 20 and res.losses[0] > res.losses.min()
    assert _same(before, _state(own, opt))
