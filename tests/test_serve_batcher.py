"""Dynamic batching: requests waiting together are read together, in order, each with its own answers."""

from __future__ import annotations

import threading
import time

import pytest

from recognizer.serve.batcher import Batcher, Job
from recognizer.serve.model import Options


class SlowModel:
    """Answers each crop with its own value; the first call waits until released, so others can queue up."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = threading.Event()

    def read_many(self, requests, max_batch):
        if not self.calls:
            self.calls.append([len(images) for images, _, _ in requests])
            self.release.wait(10)
        else:
            self.calls.append([len(images) for images, _, _ in requests])
        return [[{"text": str(value)} for value in images] for images, _, _ in requests]


def job(model, *values) -> Job:
    return Job(model, list(values), Options(), None)


def wait_for(condition) -> None:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_requests_waiting_together_are_read_in_one_call_each_with_its_answers():
    model = SlowModel()
    batcher = Batcher(threads=1, max_batch=8)
    first = batcher.submit(job(model, 0))
    wait_for(lambda: model.calls)  # the thread is busy with the first job
    waiting = [batcher.submit(job(model, *range(number, number + 2))) for number in (10, 20, 30)]
    model.release.set()
    assert first.result(10) == [{"text": "0"}]
    assert [future.result(10) for future in waiting] == [[{"text": "10"}, {"text": "11"}], [{"text": "20"}, {"text": "21"}],
                                                         [{"text": "30"}, {"text": "31"}]]
    assert model.calls == [[1], [2, 2, 2]]
    batcher.close()


def test_a_batch_stops_at_max_batch_crops_and_at_another_model():
    model, other = SlowModel(), SlowModel()
    other.calls.append([])  # never blocks
    batcher = Batcher(threads=1, max_batch=4)
    first = batcher.submit(job(model, 0))
    wait_for(lambda: model.calls)
    futures = [batcher.submit(job(model, 1, 2)), batcher.submit(job(model, 3, 4)), batcher.submit(job(model, 5)),
               batcher.submit(job(other, 6)), batcher.submit(job(model, 7))]
    model.release.set()
    for future in [first, *futures]:
        future.result(10)
    assert model.calls == [[1], [2, 2], [1], [1]] and other.calls == [[], [1]]
    batcher.close()


def test_a_cancelled_job_is_skipped_and_an_error_reaches_every_request_of_its_batch():
    class Failing(SlowModel):
        def read_many(self, requests, max_batch):
            if self.calls:
                raise RuntimeError("broken")
            return super().read_many(requests, max_batch)

    model = Failing()
    batcher = Batcher(threads=1, max_batch=8)
    first = batcher.submit(job(model, 0))
    wait_for(lambda: model.calls)
    cancelled, failing = batcher.submit(job(model, 1)), [batcher.submit(job(model, 2)), batcher.submit(job(model, 3))]
    assert cancelled.cancel()
    model.release.set()
    assert first.result(10) == [{"text": "0"}]
    for future in failing:
        with pytest.raises(RuntimeError, match="broken"):
            future.result(10)
    batcher.close()


def test_close_finishes_queued_jobs_then_refuses_new_ones():
    model = SlowModel()
    batcher = Batcher(threads=1, max_batch=8)
    futures = [batcher.submit(job(model, value)) for value in range(3)]
    threading.Timer(0.2, model.release.set).start()
    batcher.close()
    assert [future.result(0) for future in futures] == [[{"text": "0"}], [{"text": "1"}], [{"text": "2"}]]
    with pytest.raises(RuntimeError, match="shutting down"):
        batcher.submit(job(model, 9))
