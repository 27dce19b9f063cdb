"""Anomaly detection with a GAN trained on normal pictures only (AnoGAN, f-AnoGAN).

    scoring   the two scores: AnoGAN's latent search, f-AnoGAN's encoder pass; the Detector
    data      the normal pictures, the anomalous pool that chooses thresholds, the built-in test sets
              and the few samples of them a page offers to try
    fitting   a detector from a recipe (GAN, encoder, thresholds); save and load; texture AUROC
    jobs      detectors from the page: a recipe from its choices, trained as a background job
"""
from .data import (FOLDER_PARTS, TestSet, anomalous_pool, builtin_test_set, folder_parts, folder_test_set,
                   normal_images, sample_indices)
from .fitting import TrainingStopped, evaluate_texture, fit_detector, load_detector, save_detector, train_encoder
from .jobs import RECIPES, detector_recipe, run_detectors, submit_detector
from .scoring import METHODS, Detector, Scored, anogan_loss, anogan_score, encoder_score, frozen, izif_loss

__all__ = ["FOLDER_PARTS", "METHODS", "RECIPES", "Detector", "Scored", "TestSet", "TrainingStopped", "anogan_loss",
           "anogan_score", "anomalous_pool", "builtin_test_set", "detector_recipe", "encoder_score",
           "evaluate_texture", "fit_detector", "folder_parts", "folder_test_set", "frozen", "izif_loss",
           "load_detector", "normal_images", "run_detectors", "sample_indices", "save_detector", "submit_detector",
           "train_encoder"]
