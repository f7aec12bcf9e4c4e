"""Reusable ComponentResources of ai-serving, grouped by area (aws, gcp, k8s)."""
