from services.classifier.smoothing import Smoother


def feed(smoother, labels, conf=0.9, camera="c"):
    out = []
    for i, label in enumerate(labels):
        confirmed = smoother.update(camera, label, conf, ts_start=i * 100, ts_end=i * 100 + 2000)
        if confirmed:
            out.append(confirmed)
    return out


def test_a_sign_is_confirmed_once_after_enough_consecutive_windows():
    found = feed(Smoother(threshold=0.7, confirm_windows=3), ["hello"] * 10)
    assert [(d.label, d.ts_start, d.ts_end) for d in found] == [("hello", 0, 2200)]


def test_a_broken_run_is_not_confirmed_and_two_signs_in_a_row_give_two():
    smoother = Smoother(threshold=0.7, confirm_windows=3)
    found = feed(smoother, ["hello", "hello", "thanks", "hello", "hello", "hello", "thanks", "thanks", "thanks"])
    assert [d.label for d in found] == ["hello", "thanks"]


def test_a_sign_held_gives_one_detection():
    assert [d.label for d in feed(Smoother(threshold=0.7, confirm_windows=3), ["hello"] * 60)] == ["hello"]


def test_one_performance_whose_run_breaks_and_resumes_is_one_detection():
    # Windows of 2 s every 100 ms: the run breaks for a window (the sign half out of view, a hand
    # lost) and resumes over the same frames: the same performance, not a second hello.
    for breaking in (["unknown"], ["thanks"], ["hello-low"]):
        smoother = Smoother(threshold=0.7, confirm_windows=3, background=("unknown",))
        labels = ["hello"] * 4 + breaking + ["hello"] * 4
        found = [smoother.update("c", "hello" if label == "hello-low" else label, 0.5 if label == "hello-low" else 0.9,
                                 i * 100, i * 100 + 2000) for i, label in enumerate(labels)]
        assert [d.label for d in found if d] == ["hello"], breaking
        assert smoother.continued["c"] == 1


def test_the_same_sign_again_after_a_pause_is_reported_again():
    smoother = Smoother(threshold=0.7, confirm_windows=3, background=("unknown",))
    found = feed(smoother, ["hello"] * 3 + ["unknown"] * 20 + ["hello"] * 3)  # the second run starts at 2.3 s
    assert [(d.label, d.ts_start) for d in found] == [("hello", 0), ("hello", 2300)]
    assert smoother.continued["c"] == 0


def test_low_confidence_windows_break_a_run():
    smoother = Smoother(threshold=0.7, confirm_windows=2)
    assert smoother.update("c", "hello", 0.9, 0, 1) is None
    assert smoother.update("c", "hello", 0.5, 1, 2) is None
    assert smoother.update("c", "hello", 0.9, 2, 3) is None
    assert smoother.update("c", "hello", 0.9, 3, 4).label == "hello"


def test_cameras_are_smoothed_separately():
    smoother = Smoother(threshold=0.5, confirm_windows=2)
    assert smoother.update("a", "hello", 0.9, 0, 1) is None
    assert smoother.update("b", "hello", 0.9, 0, 1) is None
    assert smoother.update("a", "hello", 0.9, 1, 2).camera == "a"


def test_a_background_label_is_never_confirmed_and_breaks_a_run():
    smoother = Smoother(threshold=0.7, confirm_windows=2, background=("unknown",))
    assert feed(smoother, ["unknown"] * 10) == []
    assert [d.label for d in feed(smoother, ["hello", "unknown", "hello", "unknown", "hello", "hello"])] == ["hello"]


def test_a_lower_unknown_weight_moves_the_decision_towards_the_signs_and_keeps_probabilities():
    import numpy as np

    from services.classifier.unknown_weight import weigh_unknown

    labels = ["hello", "thanks", "unknown"]
    probs = np.array([[0.35, 0.05, 0.60], [0.10, 0.85, 0.05]], np.float32)
    weighed = weigh_unknown(probs, labels, 0.25)
    assert np.allclose(weighed.sum(axis=1), 1.0)
    assert weighed[0].argmax() == 0 and np.isclose(weighed[0, 0], 0.35 / (0.35 + 0.05 + 0.15))
    assert weighed[1].argmax() == 1 and weighed[1, 1] > probs[1, 1]
    assert weigh_unknown(probs, labels, 1.0) is probs
    assert weigh_unknown(probs, ["hello", "thanks", "iloveyou"], 0.25) is probs  # no unknown: nothing to weigh
