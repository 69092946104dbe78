"""The statistics behind `bench compare`'s gate: the bootstrap interval of after ÷ before from per-round
samples (exact, seeded), and when a row falls back to the threshold alone, on copies of a real run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.records.compare import (
    FASTER,
    MIN_SAMPLES,
    OK,
    REGRESSED,
    SLOWER_NOISY,
    _bootstrap_percentile,
    compare,
    ratio_interval,
    run_samples,
)
from bench.records.reader import parse_run
from tests.records.noisy_runs import jittered, real_run, samples, scaled, with_samples

BIG_ROW = ("mnist-mlp", "onnxruntime")
BIG_KEY = (*BIG_ROW, "cpu", 1)


def row_of(result, key=BIG_KEY):
    return next(r for r in result.rows if r.key == key)


def big_entry(doc: dict) -> dict:
    return next(e for e in doc["benchmarks"] if e["extra_info"]["model"] == "mnist-mlp" and
                e["extra_info"]["runtime"] == "onnxruntime")


def judge(before: dict, after: dict, **kwargs):
    return compare(parse_run(before), parse_run(after), **kwargs)


def test_the_percentile_replicates_follow_the_exact_bootstrap_distribution():
    # The median of a resample of 7 values is at most the k-th smallest exactly when at least 4 of the 7
    # draws fall on the k smallest: P = P(Binomial(7, k/7) >= 4).
    ordered = np.sort(np.random.default_rng(5).lognormal(0, 0.3, 7))
    draws = _bootstrap_percentile(ordered, 50, np.random.default_rng(0), 50_000)
    for k in range(1, 7):
        exact = sum(math.comb(7, j) * (k / 7) ** j * (1 - k / 7) ** (7 - j) for j in range(4, 8))
        assert np.mean(draws <= ordered[k - 1]) == pytest.approx(exact, abs=0.01)


@pytest.mark.parametrize("n, q", [(6, 50), (60, 90), (150, 99)])
def test_interpolated_percentiles_match_resampling_outright(n, q):
    values = np.random.default_rng(n).lognormal(0, 0.3, n)
    fast = _bootstrap_percentile(np.sort(values), q, np.random.default_rng(0), 40_000)
    brute = np.percentile(values[np.random.default_rng(1).integers(0, n, size=(40_000, n))], q, axis=1)
    for level in (2.5, 50, 97.5):
        assert np.percentile(fast, level) == pytest.approx(np.percentile(brute, level), rel=0.01)


def test_the_interval_is_seeded_and_brackets_the_true_ratio():
    base = samples(real_run(), *BIG_ROW)
    same = ratio_interval(base, base)
    assert same == ratio_interval(base, base)  # seeded: the same samples, the same interval
    assert same[0] < 1 < same[1]
    low, high = ratio_interval(base, base * 1.25)
    assert 1 < low < 1.25 < high
    mean_low, mean_high = ratio_interval(base, base * 1.25, "mean")
    assert 1 < mean_low < 1.25 < mean_high


def test_the_verdicts_of_a_real_pair_are_deterministic():
    before, after = real_run(), scaled(real_run(), *BIG_ROW, 1.25)
    assert judge(before, after).rows == judge(before, after).rows


def test_a_significant_speed_up_is_faster_and_never_fails():
    result = judge(real_run(), scaled(real_run(), *BIG_ROW, 0.8))
    assert row_of(result).verdict == FASTER and result.passed


def test_samples_are_read_from_the_run_document():
    run = parse_run(real_run())
    found = run_samples(run)
    assert len(found) == 6 and len(found[BIG_KEY]) == run.get(BIG_KEY).rounds


def test_without_samples_the_threshold_alone_decides_and_the_note_says_so():
    after = scaled(real_run(), *BIG_ROW, 1.25)
    big_entry(after)["stats"].pop("data")
    row = row_of(judge(real_run(), after))
    assert row.verdict == REGRESSED and row.ratio_ci is None
    assert "no per-round samples in after" in row.note and "threshold alone" in row.note


def test_samples_that_do_not_give_the_rows_figure_are_not_trusted():
    after = scaled(real_run(), *BIG_ROW, 1.25)
    big_entry(after)["extra_info"]["p50_ms"] *= 1.01  # edited: the rounds kept no longer give it
    row = row_of(judge(real_run(), after))
    assert row.ratio_ci is None and "do not reproduce its p50" in row.note


def test_too_few_rounds_fall_back_to_the_threshold():
    base = real_run()
    few = with_samples(base, *BIG_ROW, samples(base, *BIG_ROW)[: MIN_SAMPLES - 1])
    row = row_of(judge(few, scaled(few, *BIG_ROW, 1.25)))
    assert row.verdict == REGRESSED and row.ratio_ci is None
    assert f"too few rounds for a significance test ({MIN_SAMPLES - 1} and {MIN_SAMPLES - 1}" in row.note


def test_min_is_judged_by_the_threshold_alone():
    row = row_of(judge(real_run(), scaled(real_run(), *BIG_ROW, 1.25), metric="min"))
    assert row.verdict == REGRESSED and "no significance test for min" in row.note


def test_a_file_without_the_unstable_flag_is_judged_from_its_samples():
    base = real_run()
    spread = np.random.default_rng(0).lognormal(0, 0.3, len(samples(base, *BIG_ROW)))
    noisy = with_samples(base, *BIG_ROW, samples(base, *BIG_ROW) * spread)
    slow = jittered(noisy, *BIG_ROW, 0.3, 1, 1.13)  # significant, but its interval reaches below +10 %
    for doc in (noisy, slow):
        for entry in doc["benchmarks"]:
            entry["extra_info"].pop("unstable")
    row = row_of(judge(noisy, slow))
    assert row.verdict == SLOWER_NOISY and "unstable in before" in row.note
    assert row_of(judge(real_run(), real_run())).verdict == OK
