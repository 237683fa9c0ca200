"""Dynamic batching: the crops of requests waiting at the same time run through the model as one padded batch."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import torch

from recognizer.predict import Lexicon
from recognizer.serve.model import Options, ServedModel


@dataclass
class Job:
    """One request's crops, options and the model it started with; its answers arrive in `done`."""

    model: ServedModel
    images: list[np.ndarray]
    options: Options
    lexicon: Lexicon | None
    done: Future = field(default_factory=Future)


class Batcher:
    """Inference threads that each take every waiting job (of one model, up to max_batch crops) and read them together.

    Nothing waits for a batch to fill: an idle thread takes what is there, so a lone request runs at once and batches
    grow only when requests queue up. A job cancelled before it started (its request timed out) is skipped."""

    def __init__(self, threads: int, max_batch: int, torch_threads: int = 1) -> None:
        self.max_batch, self.torch_threads = max_batch, torch_threads
        self.pending: deque[Job] = deque()
        self.condition = threading.Condition()
        self.closing = False
        self.threads = [threading.Thread(target=self.work, name=f"recognize-{number}", daemon=True) for number in range(threads)]
        for thread in self.threads:
            thread.start()

    def submit(self, job: Job) -> Future:
        """Queue a job; its future holds the list of answers, or the exception reading raised."""
        with self.condition:
            if self.closing:
                raise RuntimeError("the service is shutting down")
            self.pending.append(job)
            self.condition.notify()
        return job.done

    def take(self) -> list[Job] | None:
        """The next jobs to read together (None once closing and drained): the oldest, then others of its model."""
        with self.condition:
            while not self.pending:
                if self.closing:
                    return None
                self.condition.wait()
            jobs = [self.pending.popleft()]
            crops = len(jobs[0].images)
            while self.pending and self.pending[0].model is jobs[0].model and crops + len(self.pending[0].images) <= self.max_batch:
                crops += len(self.pending[0].images)
                jobs.append(self.pending.popleft())
        return [job for job in jobs if job.done.set_running_or_notify_cancel()]

    def work(self) -> None:
        """An inference thread's loop."""
        torch.set_num_threads(self.torch_threads)  # per thread: oneDNN in a new thread would use every core, and spin
        while (jobs := self.take()) is not None:
            if not jobs:
                continue
            try:
                answers = jobs[0].model.read_many([(job.images, job.options, job.lexicon) for job in jobs], self.max_batch)
            except Exception as error:  # noqa: BLE001  (handed to the requests, which answer with a JSON error)
                for job in jobs:
                    job.done.set_exception(error)
                continue
            for job, answer in zip(jobs, answers):
                job.done.set_result(answer)

    def close(self) -> None:
        """Finish the queued jobs, then stop the threads."""
        with self.condition:
            self.closing = True
            self.condition.notify_all()
        for thread in self.threads:
            thread.join()
