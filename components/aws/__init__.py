"""AWS components: network, EKS cluster, node groups, ECR, GitHub Actions OIDC roles."""
