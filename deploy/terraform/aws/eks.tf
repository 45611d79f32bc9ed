resource "aws_eks_cluster" "main" {
  #checkov:skip=CKV_AWS_39:The public endpoint lets GitHub-hosted runners deploy; it is limited to var.api_public_cidrs (set endpoint_public_access=false with self-hosted runners in the VPC).
  #checkov:skip=CKV_AWS_38:public_access_cidrs comes from var.api_public_cidrs, whose validation rejects 0.0.0.0/0.
  name     = local.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids              = aws_subnet.private[*].id
    endpoint_private_access = true
    endpoint_public_access  = true
    public_access_cidrs     = var.api_public_cidrs
  }

  access_config {
    authentication_mode = "API"
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.main.arn
    }
  }

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
  depends_on                = [aws_cloudwatch_log_group.eks, aws_iam_role_policy_attachment.cluster]
}

resource "aws_eks_node_group" "main" {
  cluster_name    = aws_eks_cluster.main.name
  node_group_name = "${local.name}-cpu"
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = aws_subnet.private[*].id
  instance_types  = var.node_instance_types
  ami_type        = "AL2023_x86_64_STANDARD"
  disk_size       = 50

  scaling_config {
    min_size     = var.node_min
    desired_size = var.node_min
    max_size     = var.node_max
  }

  update_config {
    max_unavailable = 1
  }

  labels = {
    workload = "handocr"
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}

# IRSA: pods' service accounts assume IAM roles through the cluster's OIDC issuer.
resource "aws_iam_openid_connect_provider" "eks" {
  url            = aws_eks_cluster.main.identity[0].oidc[0].issuer
  client_id_list = ["sts.amazonaws.com"]
}

# The GitHub deploy role administers the cluster (kubectl apply -k).
resource "aws_eks_access_entry" "deploy" {
  cluster_name  = aws_eks_cluster.main.name
  principal_arn = aws_iam_role.github_deploy.arn
}

resource "aws_eks_access_policy_association" "deploy" {
  cluster_name  = aws_eks_cluster.main.name
  principal_arn = aws_iam_role.github_deploy.arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
  access_scope {
    type = "cluster"
  }
}

resource "aws_eks_addon" "vpc_cni" {
  cluster_name = aws_eks_cluster.main.name
  addon_name   = "vpc-cni"
  # NetworkPolicy enforcement in the VPC CNI (the base manifests rely on it).
  configuration_values = jsonencode({ enableNetworkPolicy = "true" })
}

# Ships container stdout/stderr (service log and the JSON audit lines) to CloudWatch Logs and
# Container Insights metrics; the node role carries CloudWatchAgentServerPolicy.
resource "aws_eks_addon" "cloudwatch" {
  cluster_name = aws_eks_cluster.main.name
  addon_name   = "amazon-cloudwatch-observability"
  depends_on   = [aws_eks_node_group.main]
}
