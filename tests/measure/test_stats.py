"""Summary statistics against numbers computed by hand."""

import math

import pytest

from bench.measure.stats import percentile, summarize, throughput
from bench.records.schema import latency_info


def test_summary_of_one_to_ten_matches_hand_computation():
    # Linear interpolation at rank (n-1)·q: p50 -> 4.5 -> 5.5, p90 -> 8.1 -> 9.1, p99 -> 8.91 -> 9.91,
    # p25 -> 2.25 -> 3.25, p75 -> 6.75 -> 7.75; std = sqrt(82.5 / 9).
    s = summarize([float(x) for x in range(10, 0, -1)])
    assert s.count == 10
    assert s.mean == 5.5
    assert s.min == 1.0 and s.max == 10.0
    assert s.p50 == pytest.approx(5.5)
    assert s.p90 == pytest.approx(9.1)
    assert s.p99 == pytest.approx(9.91)
    assert s.iqr == pytest.approx(4.5)
    assert s.std == pytest.approx(math.sqrt(82.5 / 9))


def test_summary_of_four_unsorted_samples():
    # sorted 1,2,3,4: p50 at rank 1.5 -> 2.5; p90 at 2.7 -> 3.7; p25 at 0.75 -> 1.75; p75 at 2.25 -> 3.25.
    s = summarize([4.0, 1.0, 3.0, 2.0])
    assert (s.p50, s.p90, s.iqr) == pytest.approx((2.5, 3.7, 1.5))
    assert s.std == pytest.approx(math.sqrt(5 / 3))


def test_single_sample_has_zero_spread():
    s = summarize([0.25])
    assert (s.p50, s.p99, s.std, s.iqr) == (0.25, 0.25, 0.0, 0.0)


def test_percentile_bounds_and_empty_input():
    assert percentile([3.0, 1.0, 2.0], 0) == 1.0
    assert percentile([3.0, 1.0, 2.0], 100) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        summarize([])


def test_throughput_and_latency_info_units():
    assert throughput(64, 0.032) == pytest.approx(2000.0)
    info = latency_info([0.001, 0.002, 0.003], items=64, iterations=1)
    assert info["p50_ms"] == pytest.approx(2.0)
    assert info["p99_ms"] == pytest.approx(2.98)
    assert info["throughput_per_s"] == pytest.approx(32000.0)  # 64 samples / 2 ms
    assert info["rounds"] == 3
