"""The service over real HTTP on an ephemeral port: round trips, bad input, keys, limits, reloads, shutdown."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from recognizer.serve.config import load_serve_config
from serve_fixtures import free_port, png, reading_model, running_server
from synthgen.paths import PROJECT_ROOT

ADMIN, KEY = "admin-secret", "client-secret"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture(scope="module")
def reader(tmp_path_factory, small_config):
    """A checkpoint that reads its six crops, the crops, and its ONNX export."""
    from recognizer.checkpoints import load_checkpoint
    from recognizer.export import checkpoint_metadata, export_onnx

    folder = tmp_path_factory.mktemp("reader")
    checkpoint, crops = reading_model(small_config, folder)
    model, _, payload = load_checkpoint(checkpoint)
    onnx = export_onnx(model, folder / "reader.onnx", metadata=checkpoint_metadata(payload))
    return {"checkpoint": checkpoint, "onnx": onnx, "crops": crops, "folder": folder}


@pytest.fixture(scope="module")
def server(reader):
    config = load_serve_config(None, [f"keys.admin={digest(ADMIN)}", "limits.images=8", "limits.body_bytes=2000000",
                                      "limits.pixels=1000000", f"log={reader['folder'] / 'requests.jsonl'}"])
    with running_server(reader["checkpoint"], config) as (url, service):
        yield url, service


def files(crops) -> list:
    return [("files", (f"{text}.png", png(image), "image/png")) for image, text in crops]


def texts(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [answer["text"] for answer in response.json()["results"]]


def test_crops_come_back_with_their_text_alone_and_batched(server, reader):
    url, _ = server
    crops = reader["crops"]
    assert texts(httpx.post(f"{url}/v1/recognize", files=files(crops[:1]))) == [crops[0][1]]
    batch = httpx.post(f"{url}/v1/recognize", files=files(crops))
    assert texts(batch) == [text for _, text in crops]
    answer = batch.json()["results"][0]
    assert 0 <= answer["confidence"] <= 1 and 0 <= answer["raw_confidence"] <= 1
    encoded = [{"data": base64.b64encode(png(image)).decode(), "name": text} for image, text in crops]
    assert texts(httpx.post(f"{url}/v1/recognize", json={"images": encoded})) == [text for _, text in crops]


def test_concurrent_clients_get_the_answers_each_crop_gets_alone(server, reader):
    url, _ = server
    crops = reader["crops"]
    alone = {text: httpx.post(f"{url}/v1/recognize", files=files([(image, text)])).json()["results"][0] for image, text in crops}
    answers, failures = [], []

    def client(number: int) -> None:
        try:
            for round_ in range(4):
                chosen = [crops[(number + round_ + shift) % len(crops)] for shift in range(1 + number % 3)]
                response = httpx.post(f"{url}/v1/recognize", files=files(chosen), timeout=60)
                answers.extend(zip([text for _, text in chosen], response.json()["results"]))
        except Exception as error:  # noqa: BLE001  (reported below)
            failures.append(error)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(answers) == sum(4 * (1 + number % 3) for number in range(12))
    for text, answer in answers:  # crops of other requests shared their batches: the reading margin keeps answers
        assert answer["text"] == alone[text]["text"] == text
        assert answer["confidence"] == pytest.approx(alone[text]["confidence"], abs=0.02)


def test_grey_rgba_palette_jpeg_larger_and_light_on_dark_crops_read_the_same(server, reader):
    url, _ = server
    image, text = reader["crops"][1]
    picture = Image.fromarray(image)
    variants = {}
    for mode in ("L", "RGBA", "P"):
        buffer = io.BytesIO()
        picture.convert(mode).save(buffer, format="PNG")
        variants[mode] = buffer.getvalue()
    buffer = io.BytesIO()
    picture.resize((picture.width * 2, picture.height * 2), Image.BICUBIC).convert("RGB").save(buffer, format="JPEG", quality=95)
    variants["jpeg, twice the size"] = buffer.getvalue()
    variants["light on dark"] = png(255 - image)
    for name, data in variants.items():
        response = httpx.post(f"{url}/v1/recognize", files=[("files", (f"{name}.png", data))])
        assert texts(response) == [text], name


def test_the_checkpoint_and_its_onnx_export_give_the_same_answers(reader):
    config = load_serve_config(None, ["precision=fp32"])  # ONNX runs in fp32; bf16 is compared with fp32 below
    answers = []
    for model in (reader["checkpoint"], reader["onnx"]):
        with running_server(model, config) as (url, _):
            answers.append(httpx.post(f"{url}/v1/recognize", files=files(reader["crops"])).json()["results"])
    for from_checkpoint, from_onnx in zip(*answers):
        assert from_checkpoint["text"] == from_onnx["text"]
        assert from_checkpoint["confidence"] == pytest.approx(from_onnx["confidence"], abs=1e-3)


def test_bf16_in_torch_reads_what_fp32_in_onnx_runtime_reads_and_the_model_says_which_it_runs(reader):
    answers = {}
    for precision in ("fp32", "bf16"):
        with running_server(reader["checkpoint"], load_serve_config(None, [f"precision={precision}"])) as (url, _):
            served = httpx.get(f"{url}/v1/model").json()
            assert (served["precision"], served["runtime"]) == (precision, {"fp32": "onnxruntime", "bf16": "torch"}[precision])
            answers[precision] = httpx.post(f"{url}/v1/recognize", files=files(reader["crops"])).json()["results"]
    assert [a["text"] for a in answers["bf16"]] == [a["text"] for a in answers["fp32"]] == [text for _, text in reader["crops"]]
    for fp32, bf16 in zip(answers["fp32"], answers["bf16"]):
        assert bf16["confidence"] == pytest.approx(fp32["confidence"], abs=0.05)


def test_beam_alternatives_and_constrained_decoding(server, reader):
    url, _ = server
    image, text = reader["crops"][0]
    options = json.dumps({"beam": 8, "top_k": 3})
    answer = httpx.post(f"{url}/v1/recognize", files=files([(image, text)]), data={"options": options}).json()["results"][0]
    assert answer["text"] == text and answer["alternatives"][0]["text"] == text and len(answer["alternatives"]) <= 3
    digits = json.dumps({"allowed": "0123456789"})
    constrained = httpx.post(f"{url}/v1/recognize", files=files([(image, text)]), data={"options": digits}).json()
    assert set(constrained["results"][0]["text"]) <= set("0123456789")


def bomb() -> bytes:
    """A 30,000 x 30,000 PNG of a few kilobytes: decoding it would take 900 MB."""
    buffer = io.BytesIO()
    Image.new("1", (30000, 30000)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_bad_input_is_a_4xx_json_error_and_the_server_stays_ready(server, reader):
    url, _ = server
    good = png(reader["crops"][0][0])
    tiny = io.BytesIO()
    Image.new("L", (1, 1)).save(tiny, format="PNG")
    cases = {
        "not an image": (415, dict(files=[("files", ("a.png", b"hello, world"))])),
        "truncated png": (400, dict(files=[("files", ("a.png", good[: len(good) // 2]))])),
        "empty image": (400, dict(files=[("files", ("a.png", b""))])),
        "1x1": (400, dict(files=[("files", ("a.png", tiny.getvalue()))])),
        "png bomb": (413, dict(files=[("files", ("bomb.png", bomb()))])),
        "too many images": (413, dict(files=[("files", (f"{n}.png", good)) for n in range(9)])),
        "body over the limit": (413, dict(content=b"x" * 2_100_000, headers={"content-type": "application/json"})),
        "wrong content type": (415, dict(content=b"x", headers={"content-type": "text/plain"})),
        "bad base64": (400, dict(json={"images": [{"data": "***not base64***"}]})),
        "bad json": (400, dict(content=b"{", headers={"content-type": "application/json"})),
        "unknown option": (400, dict(files=[("files", ("a.png", good))], data={"options": '{"beem": 4}'})),
        "unknown lexicon": (400, dict(files=[("files", ("a.png", good))], data={"options": '{"lexicon": "nope"}'})),
        "allowed outside the charset": (400, dict(files=[("files", ("a.png", good))], data={"options": '{"allowed": "é"}'})),
        "no images": (400, dict(json={"images": []})),
    }
    for name, (status, request) in cases.items():
        response = httpx.post(f"{url}/v1/recognize", **request)
        assert response.status_code == status, (name, response.text)
        error = response.json()["error"]
        assert error["code"] and error["message"] and "Traceback" not in response.text, name
    assert httpx.get(f"{url}/health/ready").status_code == 200
    assert httpx.get(f"{url}/nowhere").json()["error"]["code"] == "not_found"
    metrics = httpx.get(f"{url}/metrics").text
    assert 'recognizer_errors_total{code="not_an_image"}' in metrics and "process_resident_memory_bytes" in metrics


def test_keys_are_checked_and_rate_limited(reader):
    config = load_serve_config(None, [f"keys.api={{team: {digest(KEY)}}}", "keys.rate_per_minute=3"])
    body = files(reader["crops"][:1])
    with running_server(reader["checkpoint"], config) as (url, _):
        assert httpx.post(f"{url}/v1/recognize", files=body).status_code == 401
        assert httpx.post(f"{url}/v1/recognize", files=body, headers={"X-API-Key": "guess"}).status_code == 403
        statuses = [httpx.post(f"{url}/v1/recognize", files=body, headers={"Authorization": f"Bearer {KEY}"}).status_code
                    for _ in range(4)]
        assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
        limited = httpx.post(f"{url}/v1/recognize", files=body, headers={"X-API-Key": KEY})
        assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
        assert httpx.post(f"{url}/v1/model/reload", json={"path": "x"}).json()["error"]["code"] == "reload_disabled"


def test_a_good_model_swaps_in_under_load_and_bad_ones_are_refused(server, reader, tmp_path):
    url, service = server
    admin = {"Authorization": f"Bearer {ADMIN}"}
    before = httpx.get(f"{url}/v1/model").json()["sha256"]
    failures, stop = [], threading.Event()

    def load() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                response = client.post(f"{url}/v1/recognize", files=files(reader["crops"][:2]))
                if response.status_code != 200:
                    failures.append(response.text)

    workers = [threading.Thread(target=load) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        swapped = httpx.post(f"{url}/v1/model/reload", json={"path": str(reader["onnx"])}, headers=admin, timeout=60)
        time.sleep(0.5)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert swapped.status_code == 200 and swapped.json()["model"]["kind"] == "onnx" and not failures
    assert httpx.get(f"{url}/v1/model").json()["sha256"] != before
    checkpoint = reader["checkpoint"].read_bytes()
    (tmp_path / "corrupt.pt").write_bytes(checkpoint[: len(checkpoint) // 3])
    (tmp_path / "truncated.onnx").write_bytes(reader["onnx"].read_bytes()[:5000])
    other_charset = tmp_path / "other.pt"
    from recognizer.checkpoints import read_checkpoint, save_checkpoint

    payload = read_checkpoint(reader["checkpoint"])
    payload["charset"] = payload["charset"][:-1]
    for name in ("classifier.weight", "classifier.bias"):
        payload["model"][name] = payload["model"][name][:-1]
    payload["model_config"]["classes"] -= 1
    save_checkpoint(other_charset, payload)
    for bad in ("corrupt.pt", "truncated.onnx", "other.pt", "missing.pt"):
        refused = httpx.post(f"{url}/v1/model/reload", json={"path": str(tmp_path / bad)}, headers=admin, timeout=60)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "model_refused", (bad, refused.text)
        assert texts(httpx.post(f"{url}/v1/recognize", files=files(reader["crops"][:1]))) == [reader["crops"][0][1]]
    assert httpx.post(f"{url}/v1/model/reload", json={"path": "x"}, headers={"Authorization": "Bearer no"}).status_code == 403
    httpx.post(f"{url}/v1/model/reload", json={"path": str(reader["checkpoint"])}, headers=admin, timeout=60)


def test_the_request_log_has_what_happened_and_no_image_bytes(server, reader):
    url, _ = server
    httpx.post(f"{url}/v1/recognize", files=files(reader["crops"][:2]))
    record = json.loads((reader["folder"] / "requests.jsonl").read_text().splitlines()[-1])
    assert {"id", "time", "client", "key", "model", "latency_ms", "images"} <= set(record)
    assert record["images"][0]["sha256"] == hashlib.sha256(png(reader["crops"][0][0])).hexdigest()
    assert len(json.dumps(record)) < 2000  # sizes and hashes, never the pixels


def test_sigterm_lets_requests_in_flight_finish(reader):
    port = free_port()
    command = [sys.executable, "-m", "recognizer", "serve", str(reader["checkpoint"]), "--port", str(port),
               "--set", "limits.images=64"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        wide = [np.tile(image, (1, 6)) for image, _ in reader["crops"]] * 10  # 60 wide crops: a request that takes a while
        outcome = {}

        def slow_request() -> None:
            outcome["response"] = httpx.post(f"{url}/v1/recognize", timeout=60,
                                             files=[("files", (f"{n}.png", png(image))) for n, image in enumerate(wide)])

        request = threading.Thread(target=slow_request)
        request.start()
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        request.join(timeout=60)
        assert outcome["response"].status_code == 200 and len(outcome["response"].json()["results"]) == 60
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has drained
        assert "Finished server process" in process.stdout.read()
    finally:
        process.kill()
