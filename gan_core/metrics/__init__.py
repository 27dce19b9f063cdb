"""Metrics: image-GAN quality on the project's own classifier features."""
