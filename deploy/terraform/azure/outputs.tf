output "resource_group" {
  description = "Resource group of every resource."
  value       = azurerm_resource_group.main.name
}

output "cluster_name" {
  description = "AKS cluster (az aks get-credentials --name ...)."
  value       = azurerm_kubernetes_cluster.main.name
}

output "acr_login_server" {
  description = "<ACR_LOGIN_SERVER> in deploy/k8s/overlays/aks."
  value       = azurerm_container_registry.main.login_server
}

output "redis_hostname" {
  description = "<REDIS_HOSTNAME> in deploy/k8s/overlays/aks."
  value       = azurerm_redis_cache.main.hostname
}

output "workload_identity_client_id" {
  description = "<WORKLOAD_IDENTITY_CLIENT_ID> in deploy/k8s/overlays/aks."
  value       = azurerm_user_assigned_identity.pod.client_id
}

output "key_vault_uri" {
  description = "Key Vault holding api-keys-sha256, redis-password and the TLS certificate."
  value       = azurerm_key_vault.main.vault_uri
}

output "models_container" {
  description = "Blob container for model artifacts."
  value       = "${azurerm_storage_account.models.name}/${azurerm_storage_container.models.name}"
}

output "application_insights_connection_string" {
  description = "Application Insights connection string (OpenTelemetry exporter)."
  value       = azurerm_application_insights.main.connection_string
  sensitive   = true
}

output "github_deploy_client_id" {
  description = "AZURE_CLIENT_ID for the deploy-azure workflow."
  value       = azurerm_user_assigned_identity.github_deploy.client_id
}
