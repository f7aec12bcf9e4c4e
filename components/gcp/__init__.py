"""GCP components: GPU VMs, their network and Workload Identity Federation for CI."""
