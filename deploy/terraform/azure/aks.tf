resource "azurerm_kubernetes_cluster" "main" {
  #checkov:skip=CKV_AZURE_115:A public API server (restricted to var.api_authorized_cidrs) lets GitHub-hosted runners deploy; use a private cluster with self-hosted runners in the VNet.
  #checkov:skip=CKV_AZURE_6:authorized_ip_ranges comes from var.api_authorized_cidrs, whose validation requires specific ranges.
  #checkov:skip=CKV_AZURE_117:Nodes use ephemeral OS disks (encrypted at host); no managed OS disk to attach a disk encryption set to.
  name                      = "aks-${local.name}"
  location                  = azurerm_resource_group.main.location
  resource_group_name       = azurerm_resource_group.main.name
  dns_prefix                = local.name
  kubernetes_version        = var.kubernetes_version
  sku_tier                  = "Standard"
  automatic_upgrade_channel = "patch"
  node_os_upgrade_channel   = "NodeImage"
  local_account_disabled    = true
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  azure_policy_enabled      = true

  api_server_access_profile {
    authorized_ip_ranges = var.api_authorized_cidrs
  }

  azure_active_directory_role_based_access_control {
    azure_rbac_enabled     = true
    admin_group_object_ids = var.admin_group_object_ids
  }

  # System pool: cluster add-ons only. handocr runs on the "workload" pool below.
  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_vm_size
    vnet_subnet_id               = azurerm_subnet.aks.id
    auto_scaling_enabled         = true
    min_count                    = 2
    max_count                    = 3
    max_pods                     = 50
    os_disk_type                 = "Ephemeral"
    os_disk_size_gb              = 64
    host_encryption_enabled      = true
    only_critical_addons_enabled = true
    zones                        = ["1", "2", "3"]
    temporary_name_for_rotation  = "rotation"
    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type = "SystemAssigned"
  }

  network_profile {
    network_plugin     = "azure"
    network_policy     = "cilium" # enforces the base NetworkPolicies
    network_data_plane = "cilium"
    load_balancer_sku  = "standard"
    service_cidr       = "172.16.0.0/16"
    dns_service_ip     = "172.16.0.10"
  }

  # Application routing add-on (managed ingress-nginx) for overlays/aks/ingress.yaml.
  web_app_routing {
    dns_zone_ids = []
  }

  key_vault_secrets_provider {
    secret_rotation_enabled  = true
    secret_rotation_interval = "2m"
  }

  oms_agent {
    log_analytics_workspace_id      = azurerm_log_analytics_workspace.main.id
    msi_auth_for_monitoring_enabled = true
  }

  tags = local.tags
}

resource "azurerm_kubernetes_cluster_node_pool" "workload" {
  name                    = "workload"
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.main.id
  mode                    = "User"
  vm_size                 = var.node_vm_size
  vnet_subnet_id          = azurerm_subnet.aks.id
  auto_scaling_enabled    = true
  min_count               = var.node_min
  max_count               = var.node_max
  max_pods                = 50
  os_disk_type            = "Ephemeral"
  os_disk_size_gb         = 64
  host_encryption_enabled = true
  zones                   = ["1", "2", "3"]
  node_labels = {
    workload = "handocr"
  }
  upgrade_settings {
    max_surge = "33%"
  }
  tags = local.tags
}

# The kubelet pulls from ACR with its managed identity (no pull secrets).
resource "azurerm_role_assignment" "aks_acr_pull" {
  scope                            = azurerm_container_registry.main.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_kubernetes_cluster.main.kubelet_identity[0].object_id
  skip_service_principal_aad_check = true
}
