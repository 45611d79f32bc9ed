variable "project" {
  description = "Name prefix of every resource."
  type        = string
  default     = "handocr"
}

variable "environment" {
  description = "Environment name (prod, staging, ...)."
  type        = string
  default     = "prod"
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "zone_suffixes" {
  description = "Availability zones used, as suffixes of the region name."
  type        = list(string)
  default     = ["a", "b", "c"]
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "VPC address range (the EKS overlay's NetworkPolicy allows Redis egress to it)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (the manifests are validated against 1.34)."
  type        = string
  default     = "1.34"
}

variable "node_instance_types" {
  description = "Worker instance types. Each handocr pod asks for 2 vCPU / 2 GiB."
  type        = list(string)
  default     = ["c7i.xlarge"]
}

variable "node_min" {
  description = "Fewest worker nodes."
  type        = number
  default     = 2
}

variable "node_max" {
  description = "Most worker nodes (keep >= HPA maxReplicas / pods per node)."
  type        = number
  default     = 6
}

variable "api_public_cidrs" {
  description = "CIDRs allowed to reach the EKS API endpoint (CI runners, operators); never 0.0.0.0/0."
  type        = list(string)
  validation {
    condition     = length(var.api_public_cidrs) > 0 && !contains(var.api_public_cidrs, "0.0.0.0/0")
    error_message = "api_public_cidrs must list specific ranges, not 0.0.0.0/0."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the ALB's HTTPS listener."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may deploy (OIDC)."
  type        = string
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic (empty: no subscription)."
  type        = string
  default     = ""
}

variable "redis_node_type" {
  description = "ElastiCache node type (rate-limit counters only: small is enough)."
  type        = string
  default     = "cache.t4g.small"
}

variable "log_retention_days" {
  description = "CloudWatch log retention."
  type        = number
  default     = 365
}
