"""Anomaly metrics on scores with known answers."""
import numpy as np
import pytest

from gan_core.metrics import anomaly as A


def test_auroc_counts_correctly_ordered_pairs():
    scores = [0.1, 0.4, 0.35, 0.8]
    labels = [0, 0, 1, 1]
    # pairs (anomaly, normal): (0.35>0.1) yes, (0.35>0.4) no, (0.8>0.1) yes, (0.8>0.4) yes -> 3/4
    assert A.auroc(scores, labels) == pytest.approx(0.75)
    assert A.auroc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert A.auroc([4, 3, 2, 1], [0, 0, 1, 1]) == 0.0
    assert A.auroc([1, 1, 1, 1], [0, 1, 0, 1]) == 0.5        # ties count half


def test_auprc_of_a_perfect_and_a_known_ranking():
    assert A.auprc([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1]) == 1.0
    # ranking (high first): 1, 0, 1 -> AP = (1/1 + 2/3) / 2
    assert A.auprc([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)


def test_f1_threshold_picks_the_best_cut_and_confusion_agrees():
    scores = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    labels = np.array([0, 0, 1, 0, 1, 1])
    t = A.f1_threshold(scores, labels)
    # cut at 0.3: flags 0.3, 0.6, 0.7, 0.9 -> P = 3/4, R = 1, F1 = 6/7; cut at 0.7: P = 1, R = 2/3, F1 = 0.8
    assert t.value == pytest.approx(0.3) and t.f1 == pytest.approx(6 / 7)
    assert A.confusion(scores, labels, t.value) == {"tp": 3, "fp": 1, "tn": 2, "fn": 0}


def test_a_validation_set_without_anomalies_cannot_choose_a_threshold():
    with pytest.raises(A.ThresholdError, match="no anomalous"):
        A.f1_threshold([0.1, 0.2], [0, 0])
    with pytest.raises(A.ThresholdError, match="no normal"):
        A.auroc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="NaN"):
        A.auroc([0.1, float("nan")], [0, 1])


def test_pixel_auroc_on_a_residual_that_finds_the_defect():
    masks = np.zeros((2, 8, 8), np.uint8)
    masks[0, 2:4, 2:4] = 1
    maps = np.random.default_rng(0).uniform(0, 0.5, (2, 8, 8))
    maps[0, 2:4, 2:4] += 1.0                                   # every defect pixel above every other
    assert A.pixel_auroc(maps, masks) == 1.0
    with pytest.raises(ValueError, match="shape"):
        A.pixel_auroc(maps[:1], masks)
    c = A.curves([0.1, 0.9], [0, 1])
    assert c["tpr"][-1] == 1.0 and c["fpr"][0] == 0.0
