# Model artifacts (ONNX weights + model cards): private blob container, Entra ID auth only, TLS 1.2+.
resource "azurerm_storage_account" "models" {
  #checkov:skip=CKV2_AZURE_1:Encrypted with Microsoft-managed keys plus infrastructure encryption; the models are not secret (they ship in the image).
  #checkov:skip=CKV_AZURE_59:public_network_access_enabled is false; checkov reads the older allow_blob_public_access field.
  #checkov:skip=CKV_AZURE_206:ZRS keeps three copies across zones; the models are rebuilt by the release pipeline, so no geo-replication.
  #checkov:skip=CKV_AZURE_33:The account has no queues (queue logging does not apply); blob logging is set below.
  #checkov:skip=CKV2_AZURE_33:The blob private endpoint is created in network.tf through for_each.
  name                              = "st${local.compact}"
  location                          = azurerm_resource_group.main.location
  resource_group_name               = azurerm_resource_group.main.name
  account_tier                      = "Standard"
  account_replication_type          = "ZRS"
  account_kind                      = "StorageV2"
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  public_network_access_enabled     = false
  shared_access_key_enabled         = false
  infrastructure_encryption_enabled = true
  local_user_enabled                = false
  sftp_enabled                      = false

  blob_properties {
    versioning_enabled = true
    delete_retention_policy {
      days = 30
    }
    container_delete_retention_policy {
      days = 30
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
  }

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }

  tags = local.tags
}

resource "azurerm_storage_container" "models" {
  #checkov:skip=CKV2_AZURE_21:Blob reads are logged by the diagnostic setting below; storage insights would need the shared key, which is disabled.
  name                  = "models"
  storage_account_id    = azurerm_storage_account.models.id
  container_access_type = "private"
}

# Blob read/write/delete logs (who fetched which model) to Log Analytics.
resource "azurerm_monitor_diagnostic_setting" "models_blob" {
  name                       = "blob-logs"
  target_resource_id         = "${azurerm_storage_account.models.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id
  enabled_log {
    category = "StorageRead"
  }
  enabled_log {
    category = "StorageWrite"
  }
  enabled_log {
    category = "StorageDelete"
  }
}
