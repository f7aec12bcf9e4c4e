"""Kubernetes components: GPU add-ons and the serving layer."""
