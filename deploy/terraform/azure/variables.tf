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

variable "unique_suffix" {
  description = "A few lower-case letters or digits that make the storage account, registry and vault names globally unique."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
  default     = "westeurope"
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "vnet_cidr" {
  description = "Virtual network range (the AKS overlay's NetworkPolicy allows Redis egress to it)."
  type        = string
  default     = "10.50.0.0/16"
}

variable "kubernetes_version" {
  description = "AKS Kubernetes version (the manifests are validated against 1.34)."
  type        = string
  default     = "1.34"
}

variable "node_vm_size" {
  description = "VM size of the workload pool. Each handocr pod asks for 2 vCPU / 2 GiB."
  type        = string
  default     = "Standard_F4s_v2"
}

variable "system_vm_size" {
  description = "VM size of the system pool (cluster add-ons only)."
  type        = string
  default     = "Standard_D2s_v5"
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

variable "api_authorized_cidrs" {
  description = "CIDRs allowed to reach the AKS API server (CI runners, operators); never 0.0.0.0/0."
  type        = list(string)
  validation {
    condition     = length(var.api_authorized_cidrs) > 0 && !contains(var.api_authorized_cidrs, "0.0.0.0/0")
    error_message = "api_authorized_cidrs must list specific ranges, not 0.0.0.0/0."
  }
}

variable "admin_group_object_ids" {
  description = "Entra ID groups that administer the cluster (Azure RBAC for Kubernetes)."
  type        = list(string)
  default     = []
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows may deploy (OIDC federated credential)."
  type        = string
}

variable "alert_email" {
  description = "Address that receives alerts (empty: none)."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  description = "Log Analytics retention."
  type        = number
  default     = 90
}
