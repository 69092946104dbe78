"""Measurement: functions that return numbers (seconds, bytes, FLOPs, shares) and never print.

- harness: the timing sequence of every `bench run` row (warm-up, pytest-benchmark rounds, extra rounds)
- clock: the synchronised call and the plain timed loop (the roofline's matmul uses it)
- stability: warm-up until call times settle; extra rounds while IQR/median is high
- stats: percentiles and summaries of raw samples
- memory: peak-memory probes (process RSS, torch CUDA allocator, NVML)
- roofline, flops: the matmul peak and counted FLOPs behind GFLOP/s and % of peak
- contention: CPU time other processes took while timing
- devices, environment: the device asked for (never a silent fallback) and the hardware/software block
"""
