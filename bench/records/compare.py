"""Compare two benchmark runs row by row and decide the CI gate: deltas, speedups over eager, verdicts.

How a slowdown is judged (the gate's statistics, data only, never prints):

- A matched row REGRESSES when the candidate ("after") is slower than the baseline ("before") on the metric
  by more than the threshold AND the slowdown is significant: the 95 % percentile-bootstrap interval of the
  ratio after ÷ before of the metric lies wholly above 1. The interval comes from the raw per-round samples
  both files keep (pytest-benchmark's `stats.data`, saved by `bench run` with --benchmark-save-data): each
  side is resampled with replacement on its own (the runs are independent), the metric (p50, p90, p99 or
  mean) is taken of each resample, and the 2.5th/97.5th percentiles of the 2000 ratios bound it (a
  percentile's replicates are drawn exactly from the order statistics, so 50 000 rounds cost no more). The
  bootstrap is used rather than Mann–Whitney U because it tests the very figure the threshold is about (a
  p50 shift, or a p99 one) rather than a shift of the whole distribution, and it gives an interval to
  print. Its generator is seeded per row (SEED), so the same files always give the same verdicts.
- Without samples on both sides (files written before they were kept, or hand-made ones), with fewer than
  MIN_SAMPLES rounds, with samples that do not reproduce the row's figure, or for `min` (an extreme has no
  useful bootstrap), the threshold alone decides, and the row's note says so.
- The bootstrap assumes rounds are independent; a run that other processes contended for (foreign CPU
  share above measure.contention.CONTENDED_SHARE) or a row whose IQR/median stayed above
  measure.stability.UNSTABLE_IQR (the run table's *unstable*) breaks that: a significant slowdown there is
  "slower (noisy)" and fails the gate only under `strict`.
- A gate without holes also fails on what it cannot compare: a baseline row missing from the candidate, a
  matched row without a valid figure (NaN, absent, or fewer rounds than the percentile needs), and an
  interrupted candidate; each has its own opt-out (GatePolicy), named in the failure line. A row that failed
  in the candidate (e.g. parity) always fails.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.measure.contention import CONTENDED_SHARE
from bench.measure.stability import UNSTABLE_IQR, iqr_over_median
from bench.records.reader import RunResults, read_run
from bench.records.schema import LATENCY_METRICS, MIN_ROUNDS, REFERENCE_RUNTIME, ResultRow, RowKey, row_key

CONFIDENCE = 0.95  # of the interval of after ÷ before
RESAMPLES = 2000  # bootstrap replicates per side
SEED = 0  # every row's generator starts here: a row's verdict does not depend on which other rows exist
MIN_SAMPLES = 5  # fewer rounds give a bootstrap interval that means little: the threshold alone decides
_CHUNK = 2**21  # resampled values held at once (16 MiB of float64), whatever the row's round count
# The samples' statistic for each metric the bootstrap handles (a percentile, or None: the mean).
_PERCENTILE = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "mean": None}
_SAME = 1e-6  # relative: samples whose statistic differs more from the row's figure are not its samples

# Verdicts, in the table and in ComparedRow.verdict.
OK = "ok"
FASTER = "faster"
REGRESSED = "REGRESSED"
SLOWER_NOISY = "slower (noisy)"
SLOWER_NOT_SIGNIFICANT = "slower (not significant)"
FAILED = "FAILED"
NO_FIGURE = "NO FIGURE"
MISSING = "only in before"  # in the baseline, not measured in the candidate: fails unless allowed
NEW = "only in after"

NOT_RECORDED = "not recorded (torch's defaults)"


@dataclass(frozen=True)
class GatePolicy:
    """What may pass the gate that otherwise fails it (each an explicit command-line flag)."""

    strict: bool = False  # --strict: a significant slowdown fails even on an unstable row or contended run
    allow_missing: bool = False  # --allow-missing: baseline rows the candidate lacks (dropped, skipped)
    allow_no_figure: bool = False  # --allow-no-figure: matched rows without a valid figure on either side
    allow_interrupted: bool = False  # --allow-interrupted: a candidate run stopped by Ctrl-C or a signal


@dataclass(frozen=True)
class ComparedRow:
    """One row: the metric in ms in each file, delta %, its interval, speedups over eager, the verdict."""

    key: RowKey
    before_ms: float | None
    after_ms: float | None
    delta_pct: float | None  # (after - before) / before, in %
    before_speedup: float | None  # eager's metric ÷ this row's, same model/device/batch, before file
    after_speedup: float | None  # the same in the after file (above 1: faster than eager)
    verdict: str
    fails: bool  # counts against the gate under the policy the comparison was made with
    ratio_ci: tuple[float, float] | None = None  # 95 % interval of after ÷ before (None: no samples test)
    note: str = ""
    failed: str = ""  # why the row failed in the candidate run (e.g. parity)

    @property
    def regressed(self) -> bool:
        return self.verdict == REGRESSED

    @property
    def matched(self) -> bool:
        """In both files (with or without figures); unmatched rows are MISSING or NEW."""
        return self.verdict not in (MISSING, NEW)


@dataclass(frozen=True)
class Comparison:
    """All rows, the warnings a reader must see before trusting the deltas, and why the gate fails."""

    metric: str
    threshold_pct: float
    rows: list[ComparedRow]
    warnings: list[str]
    failures: list[str] = field(default_factory=list)  # one line per reason, naming its opt-out flag
    policy: GatePolicy = GatePolicy()
    foreign_cpu_share: tuple[float | None, float | None] = (None, None)  # (before, after), 0-1

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def regressions(self) -> list[ComparedRow]:
        """Rows slower than the threshold (significantly, or by the threshold alone without samples), or
        failed in the candidate run."""
        return [r for r in self.rows if r.regressed or r.failed]

    @property
    def matched(self) -> list[ComparedRow]:
        return [r for r in self.rows if r.matched]

    @property
    def only_before(self) -> list[ComparedRow]:
        return [r for r in self.rows if r.verdict == MISSING]

    @property
    def only_after(self) -> list[ComparedRow]:
        return [r for r in self.rows if r.verdict == NEW]


def load_results(path: Path) -> RunResults:
    """A run file to compare (any schema version the reader migrates); BenchError otherwise."""
    return read_run(Path(path))


def parse_percent(text: str) -> float:
    """'10%' or '10' -> 10.0; BenchError for anything but a finite percentage >= 0."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise BenchError(f"--fail-above takes a percentage like 10% , got {text!r}") from None
    check_threshold(value)
    return value


def check_threshold(threshold_pct: float) -> None:
    """BenchError unless finite and >= 0: NaN compares false with every delta, so it would pass anything."""
    if not math.isfinite(threshold_pct) or threshold_pct < 0:
        raise BenchError(f"--fail-above must be a finite percentage >= 0 (e.g. 10%), got {threshold_pct:g}")


# --- reading what the rows do not expose -----------------------------------------------------------------


def run_samples(run: RunResults) -> dict[RowKey, np.ndarray]:
    """Each measured row's per-round seconds per call (pytest-benchmark `stats.data`), by key; rows whose
    file kept none (older files, hand-made ones) or kept non-finite or non-positive values are absent.
    ResultRow carries extra_info only, so these are read from the run's document here."""
    found = {}
    for entry in run.data.get("benchmarks", []):
        info, data = entry.get("extra_info") or {}, (entry.get("stats") or {}).get("data")
        if not isinstance(data, list) or not data or "p50_ms" not in info:
            continue
        try:
            values = np.asarray(data, dtype=float)
            key = row_key(info)
        except (KeyError, TypeError, ValueError):
            continue
        if values.ndim == 1 and np.all(np.isfinite(values)) and np.all(values > 0):
            found[key] = values
    return found


def _valid(value: float | None) -> bool:
    """A latency figure that can be compared: present, finite and positive."""
    return value is not None and math.isfinite(value) and value > 0


def _metric_by_key(run: RunResults, metric: str) -> dict[RowKey, float | None]:
    """Every measured ("ok") row's metric in ms, by key; None where it has none or too few rounds."""
    return {row.key: row.backed_ms(metric) for row in run.rows if row.status == "ok"}


def _speedup(rows: Mapping[RowKey, float | None], key: RowKey) -> float | None:
    """Eager's metric ÷ this row's on the same model/device/batch in the same file (machine-independent;
    the run table's direction: above 1 is faster than eager)."""
    eager, value = rows.get(key._replace(runtime=REFERENCE_RUNTIME)), rows.get(key)
    if not _valid(eager) or not _valid(value):
        return None
    return eager / value


def _unstable(row: ResultRow | None, samples: np.ndarray | None) -> float | None:
    """IQR/median of an unstable row (the run table's rule), None for a stable or unknown one. The flag the
    run recorded decides; a file without it is judged from its samples by the same rule."""
    if row is None:
        return None
    if row.unstable is not None:
        return (row.iqr_over_median or 0.0) if row.unstable else None
    if samples is not None:
        ratio = iqr_over_median(samples.tolist())
        return ratio if ratio > UNSTABLE_IQR else None
    return None


# --- the statistics ----------------------------------------------------------------------------------------


def _statistic(samples: np.ndarray, metric: str) -> float:
    """The metric of `samples`, in their unit (as the run computed it: numpy's linear percentile)."""
    q = _PERCENTILE[metric]
    return float(samples.mean() if q is None else np.percentile(samples, q))


def _bootstrap(samples: np.ndarray, metric: str, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """`resamples` bootstrap replicates of the metric of `samples` (percentiles: _bootstrap_percentile;
    the mean: resampled outright, in chunks of bounded memory)."""
    q = _PERCENTILE[metric]
    if q is not None:
        return _bootstrap_percentile(np.sort(samples), q, rng, resamples)
    n, out = len(samples), []
    step = max(1, _CHUNK // n)
    for start in range(0, resamples, step):
        count = min(step, resamples - start)
        out.append(samples[rng.integers(0, n, size=(count, n))].mean(axis=-1))
    return np.concatenate(out)


def _bootstrap_percentile(ordered: np.ndarray, q: float, rng: np.random.Generator,
                          resamples: int) -> np.ndarray:
    """Bootstrap replicates of the q-th percentile (numpy's linear interpolation) of sorted samples, drawn
    exactly in O(resamples) instead of O(resamples × rounds): a row can hold 50 000 rounds.

    Resampling n values with replacement is drawing indices floor(n·U) for n uniforms U, so the resample's
    j-th smallest value (1-based) is ordered[floor(n·U₍ⱼ₎)], with U₍ⱼ₎ ~ Beta(j, n + 1 - j) the j-th order
    statistic of n uniforms; given it, U₍ⱼ₊₁₎ = U₍ⱼ₎ + (1 - U₍ⱼ₎)·Beta(1, n - j). The percentile interpolates
    between the two order statistics around rank (n - 1)·q/100, as numpy.percentile does.
    """
    n = len(ordered)
    rank = (n - 1) * q / 100
    low = int(np.floor(rank))
    frac = rank - low
    u_low = rng.beta(low + 1, n - low, size=resamples)
    value_low = ordered[np.minimum((n * u_low).astype(np.int64), n - 1)]
    if frac == 0 or low + 1 >= n:
        return value_low
    u_high = u_low + (1 - u_low) * rng.beta(1, n - low - 1, size=resamples)
    value_high = ordered[np.minimum((n * u_high).astype(np.int64), n - 1)]
    return value_low + frac * (value_high - value_low)


def ratio_interval(before_s: Sequence[float], after_s: Sequence[float], metric: str = "p50", *,
                   resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of metric(after) ÷ metric(before) from two independent sets of
    per-round times (any one unit); each side resampled on its own, the generator seeded (deterministic)."""
    if metric not in _PERCENTILE:
        raise ValueError(f"no bootstrap for metric {metric!r}; choose one of {', '.join(_PERCENTILE)}")
    rng = np.random.default_rng(seed)
    before = _bootstrap(np.asarray(before_s, dtype=float), metric, rng, resamples)
    after = _bootstrap(np.asarray(after_s, dtype=float), metric, rng, resamples)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(after / before, [tail, 100 - tail])
    return float(low), float(high)


def _why_no_test(metric: str, before: np.ndarray | None, after: np.ndarray | None,
                 before_ms: float, after_ms: float) -> str:
    """Why the threshold alone judges this row ('' when the samples can be tested)."""
    if metric not in _PERCENTILE:
        return f"no significance test for {metric} (an extreme has no useful bootstrap): threshold alone"
    lacking = [name for name, s in (("before", before), ("after", after)) if s is None]
    if lacking:
        return (f"no per-round samples in {' and '.join(lacking)} (an older or hand-made file): threshold "
                "alone, no significance test")
    if min(len(before), len(after)) < MIN_SAMPLES:
        return (f"too few rounds for a significance test ({len(before)} and {len(after)}, need "
                f"{MIN_SAMPLES}): threshold alone")
    for name, samples, figure in (("before", before, before_ms), ("after", after, after_ms)):
        if abs(_statistic(samples, metric) * 1e3 - figure) > _SAME * figure:
            return (f"the samples in {name} do not reproduce its {metric} (file edited?): threshold alone, "
                    "no significance test")
    return ""


# --- the comparison ----------------------------------------------------------------------------------------


def environment_warnings(before: RunResults, after: RunResults) -> list[str]:
    """Differences in machine or versions that make absolute deltas unreliable."""
    warnings = []
    env_a, env_b = before.environment or {}, after.environment or {}
    for name in ("cpu", "threads_used", "os"):
        if env_a.get(name) != env_b.get(name):
            warnings.append(f"different {name}: {env_a.get(name)!r} vs {env_b.get(name)!r}")
    packages_a, packages_b = env_a.get("packages", {}), env_b.get("packages", {})
    for name in sorted(set(packages_a) | set(packages_b)):
        if packages_a.get(name) != packages_b.get(name):
            warnings.append(f"different {name}: {packages_a.get(name)} vs {packages_b.get(name)}")
    if warnings:
        warnings.append("absolute deltas compare machines, not code; "
                        "the speedup-vs-eager columns stay meaningful")
    # Settings that change what is computed or timed: a delta across them may be the setting, not the code.
    # TF32 and cuDNN autotuning exist on CUDA only; a file too old to record them ran torch's defaults.
    # The allocator changes every torch runtime's CPU-side time (page faults per call); files older than
    # the setting ran glibc's defaults but did not say so.
    cuda = any(str(run.config.get("device", "")).startswith("cuda") for run in (before, after))
    keys = ("precision", "cudnn_benchmark", "include_transfer") if cuda else ("include_transfer",)
    for key in (*keys, "allocator"):
        missing = "not recorded (glibc defaults)" if key == "allocator" else NOT_RECORDED
        value_a = before.config.get(key, missing)
        value_b = after.config.get(key, missing)
        if value_a != value_b:
            warnings.append(f"different {key}: {value_a!r} vs {value_b!r}; a delta may be the setting, "
                            "not the code")
    # What was in effect: a preloaded jemalloc/tcmalloc runs under the same setting as glibc.
    effective_a, effective_b = before.allocator_in_effect, after.allocator_in_effect
    if effective_a and effective_b and effective_a != effective_b and \
            before.config.get("allocator") == after.config.get("allocator"):
        warnings.append(f"different host memory: {effective_a!r} vs {effective_b!r}; a delta may be the "
                        "allocator, not the code")
    for name, run in (("before", before), ("after", after)):
        if run.interrupted:
            warnings.append(f"the {name} run was {run.interruption}: it holds only the cases that finished")
    return warnings


def foreign_share(run: RunResults) -> float | None:
    """0-1: the CPU other processes took while the run was timing (`bench.foreign_cpu_share`), if recorded."""
    share = run.data.get("bench", {}).get("foreign_cpu_share")
    return float(share) if isinstance(share, (int, float)) and math.isfinite(share) else None


def percent(share: float, digits: int = 0) -> str:
    """0.346 -> '35 %' (the project writes a space before %)."""
    return f"{share * 100:.{digits}f} %"


def share_text(share: float | None) -> str:
    """A run's foreign CPU share for a message: '34.6 %', or 'not recorded'."""
    return "not recorded" if share is None else percent(share, 1)


def contention_warning(before: float | None, after: float | None) -> str:
    """The warning for a contended pair of runs, naming both figures ('' when neither was contended)."""
    if not any(s is not None and s > CONTENDED_SHARE for s in (before, after)):
        return ""
    return (f"contended: other processes used {share_text(before)} of the CPUs while before was timed and "
            f"{share_text(after)} while after was (contended above {percent(CONTENDED_SHARE)}); slowdowns "
            "are 'slower (noisy)' and fail the gate only with --strict")


def compare(before: RunResults, after: RunResults, *, metric: str = "p50", threshold_pct: float = 10.0,
            policy: GatePolicy = GatePolicy()) -> Comparison:
    """Match rows by (model, runtime, device, batch), judge each (module docstring) and say why the gate
    fails under `policy` (Comparison.failures; empty: it passes)."""
    if metric not in LATENCY_METRICS:
        raise BenchError(f"unknown metric {metric!r}; choose one of: {', '.join(LATENCY_METRICS)}")
    check_threshold(threshold_pct)
    shares = (foreign_share(before), foreign_share(after))
    contended = any(s is not None and s > CONTENDED_SHARE for s in shares)
    rows_a, rows_b = _metric_by_key(before, metric), _metric_by_key(after, metric)
    samples_a, samples_b = run_samples(before), run_samples(after)
    results_a, results_b = {r.key: r for r in before.rows}, {r.key: r for r in after.rows}
    failed = {r.key: r.reason or "failed" for r in after.rows if r.status == "failed"}
    compared = []
    for key in [*rows_a, *(k for k in [*rows_b, *failed] if k not in rows_a)]:
        a, b = rows_a.get(key), rows_b.get(key)
        speedups = (_speedup(rows_a, key), _speedup(rows_b, key))
        if key in failed:
            figure = results_b[key].backed_ms(metric)
            delta = (figure - a) / a * 100.0 if _valid(a) and _valid(figure) else None
            compared.append(ComparedRow(key, a, figure, delta, speedups[0], None, FAILED, True,
                                        note=f"failed in after: {failed[key]}", failed=failed[key]))
        elif key not in rows_b:
            other = results_b.get(key)
            unreached = other is None and after.interrupted  # the interrupt came first: no verdict on it
            note = (f"{other.status} in after: {other.reason}" if other is not None
                    else "not reached before the interrupt" if unreached else "not in after")
            allowed = policy.allow_missing or (unreached and policy.allow_interrupted)
            compared.append(ComparedRow(key, a, None, None, speedups[0], None, MISSING, not allowed,
                                        note=note))
        elif key not in rows_a:
            compared.append(ComparedRow(key, None, b, None, None, speedups[1], NEW, False))
        elif not (_valid(a) and _valid(b)):
            compared.append(ComparedRow(key, a, b, None, *speedups, NO_FIGURE, not policy.allow_no_figure,
                                        note=_no_figure_note(metric, a, b, results_a[key], results_b[key])))
        else:
            compared.append(_judge(key, a, b, speedups, metric, threshold_pct, policy, contended,
                                   samples_a.get(key), samples_b.get(key), results_a[key], results_b[key]))
    warnings = environment_warnings(before, after)
    if warning := contention_warning(*shares):
        warnings.append(warning)
    return Comparison(metric, threshold_pct, compared, warnings,
                      _failures(compared, metric, threshold_pct, policy, after), policy, shares)


def _no_figure_note(metric: str, a: float | None, b: float | None, row_a: ResultRow, row_b: ResultRow) -> str:
    """Which side lacks a valid figure, and why when it is the rounds."""
    parts = []
    for name, value, row in (("before", a, row_a), ("after", b, row_b)):
        if _valid(value):
            continue
        need = MIN_ROUNDS.get(metric)
        if value is None and need is not None and row.metric_ms(metric) is not None:
            parts.append(f"{name} has {row.rounds or 'too few'} rounds, {metric} needs {need}")
        else:
            parts.append(f"no valid {metric} in {name} ({value})")
    return "; ".join(parts)


def _judge(key: RowKey, a: float, b: float, speedups: tuple[float | None, float | None], metric: str,
           threshold_pct: float, policy: GatePolicy, contended: bool, samples_a: np.ndarray | None,
           samples_b: np.ndarray | None, row_a: ResultRow, row_b: ResultRow) -> ComparedRow:
    """The verdict of a row with a valid figure on both sides: threshold, significance, then noise."""
    delta = (b - a) / a * 100.0
    notes, interval = [], None
    untested = _why_no_test(metric, samples_a, samples_b, a, b)
    if untested:
        notes.append(untested)
    else:
        interval = ratio_interval(samples_a, samples_b, metric)
    spreads = (("before", _unstable(row_a, samples_a)), ("after", _unstable(row_b, samples_b)))
    noisy = [f"unstable in {name} (IQR/median {ratio:.2f} > {UNSTABLE_IQR:.2f})"
             for name, ratio in spreads if ratio is not None]
    slower, faster = delta > threshold_pct, delta < -threshold_pct
    if contended and slower:  # the run's contention is in the warnings and the table's notes
        noisy.append("contended run")
    # Without an interval the threshold alone decides (said in the note); with one, it must exclude 1.
    significant_slower = interval is None or interval[0] > 1.0
    significant_faster = interval is None or interval[1] < 1.0
    # Noise widens the bar, it does not remove it: a noisy row still regresses when even the low end of
    # its interval is slower than the threshold (a stable 3× slowdown in a contended run fails).
    beyond_noise = interval is not None and interval[0] > 1.0 + threshold_pct / 100.0
    if slower and not significant_slower:
        verdict = SLOWER_NOT_SIGNIFICANT
    elif slower and noisy and not policy.strict and not beyond_noise:
        verdict = SLOWER_NOISY
    elif slower:
        verdict = REGRESSED
        if noisy:
            notes.append("noisy, failed by --strict" if not beyond_noise else
                         "noisy, but slower than the threshold across its whole 95 % interval")
    elif faster and significant_faster:
        verdict = FASTER
    else:
        verdict = OK
    return ComparedRow(key, a, b, delta, *speedups, verdict, verdict == REGRESSED, interval,
                       "; ".join(noisy + notes))


def row_name(key: RowKey) -> str:
    """'mnist-mlp/onnxruntime/cpu/1': a row in one word, for failure lines."""
    return "/".join(map(str, key))


def _names(rows: Sequence[ComparedRow], most: int = 5) -> str:
    shown = ", ".join(row_name(r.key) for r in rows[:most])
    return shown + (f" and {len(rows) - most} more" if len(rows) > most else "")


def _failures(rows: Sequence[ComparedRow], metric: str, threshold_pct: float, policy: GatePolicy,
              after: RunResults) -> list[str]:
    """One line per reason the gate fails; where the reason has an opt-out flag, the line names it."""
    lines = []
    regressed = [r for r in rows if r.verdict == REGRESSED]
    if regressed:
        lines.append(f"{len(regressed)} row(s) slower than {threshold_pct:g} % on {metric} "
                     f"(significant at {percent(CONFIDENCE)} where samples allow): {_names(regressed)}")
    failed = [r for r in rows if r.verdict == FAILED]
    if failed:
        lines.append(f"{len(failed)} row(s) failed in after (e.g. parity): {_names(failed)}")
    missing = [r for r in rows if r.verdict == MISSING and r.fails]
    if missing:
        lines.append(f"{len(missing)} row(s) of before are not measured in after (dropped, skipped or "
                     f"failed before timing): {_names(missing)}; --allow-missing lets them pass")
    no_figure = [r for r in rows if r.verdict == NO_FIGURE]
    if no_figure and not policy.allow_no_figure:
        lines.append(f"{len(no_figure)} matched row(s) have no valid {metric} to compare (NaN, absent, or "
                     f"too few rounds): {_names(no_figure)}; --allow-no-figure lets them pass")
    if after.interrupted and not policy.allow_interrupted:
        lines.append(f"the after run was {after.interruption} and holds only the cases that finished; "
                     "--allow-interrupted lets it pass")
    if all(r.verdict == NEW for r in rows) and not policy.allow_missing:
        lines.append("before has no measured row: nothing was compared; --allow-missing lets that pass")
    return lines
