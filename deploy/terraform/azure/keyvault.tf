# API-key digests, the Redis access key and the ingress TLS certificate. RBAC, purge protection,
# private endpoint only.
resource "azurerm_key_vault" "main" {
  #checkov:skip=CKV_AZURE_189:Terraform and the deploy workflow run on GitHub-hosted runners: public access is on but network_acls deny everything except var.api_authorized_cidrs; AKS uses the private endpoint.
  #checkov:skip=CKV2_AZURE_32:The vault private endpoint is created in network.tf through for_each.
  name                          = "kv-${local.compact}"
  location                      = azurerm_resource_group.main.location
  resource_group_name           = azurerm_resource_group.main.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  enable_rbac_authorization     = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.api_authorized_cidrs
  }

  tags = local.tags
}

# Values are set out of band (az keyvault secret set ...): see docs/deploy.md, "Rotating API keys".
resource "azurerm_key_vault_secret" "api_keys" {
  name            = "api-keys-sha256"
  value           = "placeholder-set-out-of-band"
  key_vault_id    = azurerm_key_vault.main.id
  content_type    = "text/plain; hex sha256 digests, one per line"
  expiration_date = timeadd(plantimestamp(), "8760h")

  lifecycle {
    ignore_changes = [value, expiration_date]
  }
}

resource "azurerm_key_vault_secret" "redis" {
  name            = "redis-password"
  value           = azurerm_redis_cache.main.primary_access_key
  key_vault_id    = azurerm_key_vault.main.id
  content_type    = "text/plain; Azure Cache for Redis access key"
  expiration_date = timeadd(plantimestamp(), "8760h")

  lifecycle {
    ignore_changes = [expiration_date]
  }
}
