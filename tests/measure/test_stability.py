"""Warm-up until stable and extension of noisy sample sets, driven by a fake clock."""

import pytest

from bench.measure.stability import extend_until_stable, iqr_over_median, warm_until_stable


class FakeClock:
    """A clock that only moves when a fake call runs (each call costs the next of `costs`)."""

    def __init__(self, costs):
        self.costs = list(costs)
        self.now = 0.0
        self.calls = 0

    def __call__(self) -> float:
        return self.now

    def call(self) -> None:
        self.calls += 1
        self.now += self.costs.pop(0) if self.costs else 1.0


def test_warmup_runs_until_the_windowed_median_settles():
    # Slow first calls (JIT, allocation), then steady at 1.0: after 8 calls the median of [5, 1, 1]
    # and of [1, 1, 1] agree (the median shrugs off one slow call).
    clock = FakeClock([50.0, 20.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    outcome = warm_until_stable(clock.call, window=3, budget_s=1e6, clock=clock)
    assert outcome.settled and outcome.calls == 8 == clock.calls
    assert outcome.seconds == pytest.approx(80.0)


def test_warmup_stops_at_its_budget_when_times_never_settle():
    clock = FakeClock([float(2 ** (i % 7)) for i in range(1000)])  # keeps changing by far more than 5 %
    outcome = warm_until_stable(clock.call, window=2, budget_s=100.0, clock=clock)
    assert not outcome.settled and outcome.seconds >= 100.0 and outcome.calls == clock.calls


def test_iqr_over_median_by_hand():
    # p25 = 2, p50 = 3, p75 = 4 for 1..5 (linear interpolation): IQR/median = 2/3.
    assert iqr_over_median([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2 / 3)
    assert iqr_over_median([2.0] * 5) == 0.0


def test_noisy_samples_get_more_rounds_until_stable():
    samples = [1.0, 1.0, 2.0, 3.0, 1.0]  # IQR/median = 1.0: unstable
    clock = FakeClock([])

    def take_round() -> float:
        clock.call()
        return 1.0  # steady from now on

    added = extend_until_stable(take_round, samples, budget_s=1e6, clock=clock)
    assert added == 5 and len(samples) == 10  # one batch (the current count) was enough
    assert iqr_over_median(samples) <= 0.10


def test_extension_stops_at_its_budget_and_stable_samples_get_none():
    noisy = [1.0, 3.0] * 3
    clock = FakeClock([])
    alternating = iter([1.0, 3.0] * 100)

    def take_round() -> float:
        clock.call()
        return next(alternating)

    added = extend_until_stable(take_round, noisy, budget_s=4.0, clock=clock)
    assert added == 4 and iqr_over_median(noisy) > 0.10
    assert extend_until_stable(take_round, [1.0] * 5, budget_s=4.0, clock=clock) == 0
