"""The trainer service answering train requests through a real redis-server."""

from __future__ import annotations

import threading
import time

import pytest

from services.trainer.main import TrainerServiceSettings, run_trainer
from shared.health import read_beats
from shared.messages import ModelAnnouncement, TrainProgress, TrainRequest, TrainResult
from tests.conftest import SIGNERS
from tests.waiting import wait_for


def results(r, keys) -> list[TrainResult]:
    return [TrainResult.decode(f) for _, f in r.xrange(keys.train_results)]


@pytest.mark.slow
def test_requests_are_trained_promoted_and_answered_and_bad_ones_rejected(r, keys, redis_url, namespace, tmp_path):
    settings = TrainerServiceSettings(redis_url=redis_url, namespace=namespace, models_dir=tmp_path, arch="gru",
                                      normalise=True, augment=False, data_root=[SIGNERS])
    stop = threading.Event()
    thread = threading.Thread(target=run_trainer, args=(settings, stop), daemon=True)
    thread.start()
    try:
        good = TrainRequest(data=[str(SIGNERS / "signer_00.npz"), str(SIGNERS / "signer_05.npz")],
                            options={"epochs": 3, "patience": 0, "min_accuracy": 0.0}, request_id="good")
        r.xadd(keys.train_requests, good.encode())
        r.xadd(keys.train_requests, TrainRequest(data=[str(SIGNERS / "no_such_MP_DATA")], request_id="nodata").encode())
        for request_id, data, options in (("etc", ["/etc"], {}), ("dotdot", [str(SIGNERS / ".." / "..")], {}),
                                          ("unknown-etc", [str(SIGNERS)], {"unknown": ["/etc"]})):
            r.xadd(keys.train_requests, TrainRequest(data=data, options=options, request_id=request_id).encode())
        r.xadd(keys.train_requests, TrainRequest(data=[str(SIGNERS)], options={"models_dir": "/etc"},
                                                 request_id="sneaky").encode())
        r.xadd(keys.train_requests, {"data": "not json"})
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(results(r, keys)) < 7:
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(30)
    answered = {res.request_id: res for res in results(r, keys)}
    assert answered["good"].status == "done" and answered["good"].promoted == 1
    assert answered["good"].version == "v0001" and answered["good"].metrics["epochs_run"] == 3
    assert (tmp_path / "v0001" / "model.keras").is_file()
    assert ModelAnnouncement.decode(r.xrange(keys.models)[-1][1]).version == "v0001"
    assert answered["nodata"].status == "rejected" and "no such folder" in answered["nodata"].reason
    assert answered["sneaky"].status == "rejected" and "models_dir" in answered["sneaky"].reason
    assert answered[""].status == "rejected" and "bad request" in answered[""].reason
    for request_id in ("etc", "dotdot", "unknown-etc"):  # refused before the trainer looks: nothing of /etc is told
        assert answered[request_id].status == "rejected", answered[request_id]
        assert "is not under the trainer's data folders" in answered[request_id].reason
        assert "passwd" not in answered[request_id].reason and "hosts" not in answered[request_id].reason
    assert r.xpending(keys.train_requests, "trainer")["pending"] == 0


@pytest.mark.slow
def test_a_first_model_is_trained_where_none_exists_and_only_there(r, keys, redis_url, namespace, tmp_path):
    def start(stop: threading.Event) -> threading.Thread:
        settings = TrainerServiceSettings(redis_url=redis_url, namespace=namespace, models_dir=tmp_path,
                                          first_model_data=SIGNERS / "signer_00.npz", first_model_epochs=2,
                                          min_accuracy=0.0, augment=False)
        thread = threading.Thread(target=run_trainer, args=(settings, stop), daemon=True)
        thread.start()
        return thread

    stop = threading.Event()
    thread = start(stop)
    # Alive while it trains: the heartbeat does not wait for the loop.
    assert wait_for(lambda: read_beats(r, keys), 30)
    assert wait_for(lambda: results(r, keys), 240)
    stop.set()
    thread.join(30)
    first = results(r, keys)[0]
    assert (first.request_id, first.status, first.version, first.promoted) == ("first-model", "done", "v0001", 1)
    assert first.metrics["epochs_run"] == 2
    assert ModelAnnouncement.decode(r.xrange(keys.models)[-1][1]).version == "v0001"

    stop = threading.Event()
    thread = start(stop)
    assert wait_for(lambda: r.exists(keys.stats("trainer")) and read_beats(r, keys), 30)
    stop.set()
    thread.join(30)
    assert len(results(r, keys)) == 1 and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("v")) == ["v0001"]


@pytest.mark.slow
def test_a_request_shows_how_far_it_has_got_while_it_trains(r, keys, redis_url, namespace, tmp_path):
    settings = TrainerServiceSettings(redis_url=redis_url, namespace=namespace, models_dir=tmp_path, augment=False,
                                      data_root=[SIGNERS])
    stop = threading.Event()
    thread = threading.Thread(target=run_trainer, args=(settings, stop), daemon=True)
    thread.start()
    seen = []
    try:
        request = TrainRequest(data=[str(SIGNERS / "signer_00.npz"), str(SIGNERS / "signer_01.npz")],
                               options={"epochs": 5, "patience": 0, "min_accuracy": 0.0}, request_id="watched")
        r.xadd(keys.train_requests, request.encode())
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not results(r, keys):
            fields = r.hgetall(keys.train_progress("watched"))
            if fields:
                seen.append(TrainProgress.decode(fields))
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(30)
    assert results(r, keys)[0].status == "done"
    epochs_seen = sorted({p.epoch for p in seen})
    assert epochs_seen[0] < 5 and len(epochs_seen) >= 3, epochs_seen  # watched while it trained, epoch by epoch
    last = TrainProgress.decode(r.hgetall(keys.train_progress("watched")))
    assert (last.request_id, last.epoch, last.epochs) == ("watched", 5, 5)
    assert 0.0 < last.val_accuracy <= 1.0 and last.started_ms <= last.updated_ms and last.worker
    assert 0 < r.ttl(keys.train_progress("watched")) <= 24 * 3600  # old requests' progress goes by itself


def test_progress_that_cannot_be_written_is_logged_and_training_goes_on(keys, caplog):
    from services.trainer.progress import ProgressReport
    from services.up.redis_server import free_port
    from shared.redis_client import connect

    away = connect(f"redis://127.0.0.1:{free_port()}/0")  # the service's kind of client; nothing listens there
    report = ProgressReport(away, keys, "r1", "trainer-1", epochs=5)
    for epoch in range(1, 6):
        report(epoch, 0.5)  # never raises
    assert (report.progress.epoch, report.progress.val_accuracy) == (5, 0.5)
    warnings = [rec.getMessage() for rec in caplog.records if "training goes on" in rec.getMessage()]
    assert 1 <= len(warnings) <= 2, warnings  # said once, not once per epoch
