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

# TLS 1.3 only by default. ELBSecurityPolicy-TLS13-1-2-2021-06 also accepts TLS 1.2: choose it on purpose,
# for clients that cannot speak TLS 1.3 (its -Ext1 / -Ext2 variants add weaker TLS 1.2 ciphers: only if a
# client needs them). TLS13-1-0 / TLS13-1-1 (TLS 1.0 / 1.1) and the pre-TLS 1.3 policies are refused here.
# checkov's CKV_AWS_103 accepts this default and the TLS13-1-2-* policies, not the other TLS13-1-3-*
# (FIPS, PQ) names yet: pick one of those and checkov needs a reasoned skip on the listener.
variable "alb_ssl_policy" {
  description = "Security policy of the ALB's HTTPS listener (TLS versions and ciphers offered to clients)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-3-2021-06"
  validation {
    condition     = can(regex("^ELBSecurityPolicy-TLS13-1-[23]-", var.alb_ssl_policy))
    error_message = "alb_ssl_policy must be a TLS 1.3 policy whose minimum is TLS 1.3 (ELBSecurityPolicy-TLS13-1-3-*) or TLS 1.2 (ELBSecurityPolicy-TLS13-1-2-*)."
  }
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
