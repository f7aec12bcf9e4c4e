"""`ai-serving rollout-status`: the verdict of a deploy, read from the cluster's Argo Rollouts objects."""
