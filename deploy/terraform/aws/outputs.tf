output "ecr_repository_url" {
  description = "Push images here (deploy-aws workflow)."
  value       = aws_ecr_repository.handocr.repository_url
}

output "cluster_name" {
  description = "EKS cluster (aws eks update-kubeconfig --name ...)."
  value       = aws_eks_cluster.main.name
}

output "alb_dns_name" {
  description = "Point the service's DNS name (CNAME/alias) here."
  value       = aws_lb.main.dns_name
}

output "alb_target_group_arn" {
  description = "<ALB_TARGET_GROUP_ARN> in deploy/k8s/overlays/eks."
  value       = aws_lb_target_group.handocr.arn
}

output "alb_security_group_id" {
  description = "<ALB_SECURITY_GROUP_ID> in deploy/k8s/overlays/eks."
  value       = aws_security_group.alb.id
}

output "redis_primary_endpoint" {
  description = "<ELASTICACHE_PRIMARY_ENDPOINT> in deploy/k8s/overlays/eks."
  value       = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "handocr_pod_role_arn" {
  description = "<HANDOCR_POD_ROLE_ARN> in deploy/k8s/overlays/eks."
  value       = aws_iam_role.pod.arn
}

output "models_bucket" {
  description = "Model artifacts bucket."
  value       = aws_s3_bucket.models.id
}

output "api_keys_secret_arn" {
  description = "Secrets Manager secret holding the API-key digests."
  value       = aws_secretsmanager_secret.api_keys.arn
}

output "redis_auth_secret_arn" {
  description = "Secrets Manager secret holding the ElastiCache AUTH token."
  value       = aws_secretsmanager_secret.redis.arn
}

output "github_deploy_role_arn" {
  description = "AWS_DEPLOY_ROLE_ARN for the deploy-aws workflow."
  value       = aws_iam_role.github_deploy.arn
}
