"""bench/write.py measures the right processes: the pool's workers (not multiprocessing's resource tracker), private memory apart."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os

from synthgen.paths import PROJECT_ROOT


def bench_write():
    """bench/write.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_write", PROJECT_ROOT / "bench" / "write.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_workers_of_finds_each_pool_worker_and_not_the_resource_tracker():
    write = bench_write()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        answered = {pool.apply(os.getpid) for _ in range(6)}
        workers = write.workers_of(os.getpid())
    assert len(workers) == 2
    assert answered <= set(workers)


def test_memory_is_private_and_resident_apart_and_zero_for_a_gone_process(tmp_path):
    write = bench_write()
    private, resident = write.memory_megabytes(os.getpid())
    assert 0 < private <= resident
    assert write.memory_megabytes(2**22 + 7) == (0.0, 0.0)  # above Linux's largest pid: no such process
    samples = [(5.0 * step, [(100.0 + step, 150.0 + step)] * 2, (120.0, 130.0 + step)) for step in range(1, 5)]
    write.plot_memory(samples, tmp_path / "memory.png")
    assert (tmp_path / "memory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
