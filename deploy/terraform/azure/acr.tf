resource "azurerm_container_registry" "main" {
  #checkov:skip=CKV_AZURE_165:One region; geo-replication is an availability choice to make per deployment.
  #checkov:skip=CKV_AZURE_164:Image signing (notation/cosign) is verified at admission, not by ACR content trust (deprecated).
  #checkov:skip=CKV_AZURE_166:Quarantine needs a scanner that releases images; images are scanned in the release workflow.
  #checkov:skip=CKV_AZURE_139:The deploy workflow pushes from GitHub-hosted runners: public access is on, limited by network_rule_set to var.api_authorized_cidrs (AKS pulls through the private endpoint).
  name                          = "acr${local.compact}"
  location                      = azurerm_resource_group.main.location
  resource_group_name           = azurerm_resource_group.main.name
  sku                           = "Premium"
  admin_enabled                 = false
  public_network_access_enabled = true
  zone_redundancy_enabled       = true
  data_endpoint_enabled         = true
  retention_policy_in_days      = 30
  network_rule_set {
    default_action = "Deny"
    ip_rule = [for cidr in var.api_authorized_cidrs : {
      action   = "Allow"
      ip_range = cidr
    }]
  }
  tags = local.tags
}
