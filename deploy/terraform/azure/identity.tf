# Workload identity of the handocr pods (ServiceAccount handocr/handocr): read models and secrets only.
resource "azurerm_user_assigned_identity" "pod" {
  name                = "id-${local.name}-pod"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = local.tags
}

resource "azurerm_federated_identity_credential" "pod" {
  name                = "handocr-serviceaccount"
  resource_group_name = azurerm_resource_group.main.name
  parent_id           = azurerm_user_assigned_identity.pod.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = azurerm_kubernetes_cluster.main.oidc_issuer_url
  subject             = "system:serviceaccount:handocr:handocr"
}

resource "azurerm_role_assignment" "pod_models" {
  scope                = azurerm_storage_container.models.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.pod.principal_id
}

resource "azurerm_role_assignment" "pod_secrets" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.pod.principal_id
}

# GitHub Actions deploys with OIDC (no stored secrets): a federated credential on this identity for
# the `production` environment of var.github_repository. The first apply is run by an operator
# (it creates this identity); later applies run from the deploy-azure workflow.
resource "azurerm_user_assigned_identity" "github_deploy" {
  name                = "id-${local.name}-github-deploy"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = local.tags
}

resource "azurerm_federated_identity_credential" "github_deploy" {
  name                = "github-production"
  resource_group_name = azurerm_resource_group.main.name
  parent_id           = azurerm_user_assigned_identity.github_deploy.id
  audience            = ["api://AzureADTokenExchange"]
  issuer              = "https://token.actions.githubusercontent.com"
  subject             = "repo:${var.github_repository}:environment:production"
}

resource "azurerm_role_assignment" "github_deploy" {
  for_each = {
    contributor = { scope = azurerm_resource_group.main.id, role = "Contributor" }
    aks_admin   = { scope = azurerm_kubernetes_cluster.main.id, role = "Azure Kubernetes Service RBAC Cluster Admin" }
    acr_push    = { scope = azurerm_container_registry.main.id, role = "AcrPush" }
  }
  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.github_deploy.principal_id
}
