resource "azurerm_log_analytics_workspace" "main" {
  name                = "log-${local.name}"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = local.tags
}

# Workspace-based Application Insights: request rates, failures and latency of the service.
resource "azurerm_application_insights" "main" {
  name                          = "appi-${local.name}"
  location                      = azurerm_resource_group.main.location
  resource_group_name           = azurerm_resource_group.main.name
  workspace_id                  = azurerm_log_analytics_workspace.main.id
  application_type              = "web"
  local_authentication_disabled = true
  internet_ingestion_enabled    = true
  internet_query_enabled        = false
  tags                          = local.tags
}

resource "azurerm_monitor_action_group" "oncall" {
  name                = "ag-${local.name}"
  resource_group_name = azurerm_resource_group.main.name
  short_name          = "handocr"
  dynamic "email_receiver" {
    for_each = var.alert_email == "" ? [] : [var.alert_email]
    content {
      name          = "oncall"
      email_address = email_receiver.value
    }
  }
  tags = local.tags
}

resource "azurerm_monitor_metric_alert" "node_cpu" {
  name                = "alert-${local.name}-node-cpu"
  resource_group_name = azurerm_resource_group.main.name
  scopes              = [azurerm_kubernetes_cluster.main.id]
  description         = "Node CPU above 85% for 15 minutes: the HPA or the node autoscaler is at its limit (runbook: docs/deploy.md#runbook)."
  severity            = 2
  frequency           = "PT5M"
  window_size         = "PT15M"
  criteria {
    metric_namespace = "Microsoft.ContainerService/managedClusters"
    metric_name      = "node_cpu_usage_percentage"
    aggregation      = "Average"
    operator         = "GreaterThan"
    threshold        = 85
  }
  action {
    action_group_id = azurerm_monitor_action_group.oncall.id
  }
  tags = local.tags
}

resource "azurerm_monitor_metric_alert" "pods_not_ready" {
  name                = "alert-${local.name}-pods-not-ready"
  resource_group_name = azurerm_resource_group.main.name
  scopes              = [azurerm_kubernetes_cluster.main.id]
  description         = "Pods not ready for 5 minutes (runbook: docs/deploy.md#runbook)."
  severity            = 1
  frequency           = "PT1M"
  window_size         = "PT5M"
  criteria {
    metric_namespace = "Microsoft.ContainerService/managedClusters"
    metric_name      = "kube_pod_status_ready"
    aggregation      = "Average"
    operator         = "LessThan"
    threshold        = 1
    dimension {
      name     = "namespace"
      operator = "Include"
      values   = ["handocr"]
    }
    dimension {
      name     = "condition"
      operator = "Include"
      values   = ["true"]
    }
  }
  action {
    action_group_id = azurerm_monitor_action_group.oncall.id
  }
  tags = local.tags
}

resource "azurerm_monitor_metric_alert" "failed_requests" {
  name                = "alert-${local.name}-failed-requests"
  resource_group_name = azurerm_resource_group.main.name
  scopes              = [azurerm_application_insights.main.id]
  description         = "More than 25 failed requests in 5 minutes (runbook: docs/deploy.md#runbook)."
  severity            = 1
  frequency           = "PT1M"
  window_size         = "PT5M"
  criteria {
    metric_namespace = "microsoft.insights/components"
    metric_name      = "requests/failed"
    aggregation      = "Count"
    operator         = "GreaterThan"
    threshold        = 25
  }
  action {
    action_group_id = azurerm_monitor_action_group.oncall.id
  }
  tags = local.tags
}
