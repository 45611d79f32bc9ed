# Shared rate-limit counters: TLS only (port 6380), private endpoint, no public access.
resource "azurerm_redis_cache" "main" {
  name                          = "redis-${local.name}-${var.unique_suffix}"
  location                      = azurerm_resource_group.main.location
  resource_group_name           = azurerm_resource_group.main.name
  capacity                      = 1
  family                        = "C"
  sku_name                      = "Standard"
  non_ssl_port_enabled          = false
  minimum_tls_version           = "1.2"
  public_network_access_enabled = false
  redis_version                 = "6"
  redis_configuration {
    maxmemory_policy = "volatile-ttl"
  }
  tags = local.tags
}
