terraform {
  required_version = ">= 1.6"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.14"
    }
  }
  # Partial configuration: `terraform init -backend-config=backend.hcl` (resource_group_name,
  # storage_account_name, container_name, key, use_azuread_auth = true). See docs/deploy.md.
  backend "azurerm" {}
}

provider "azurerm" {
  features {
    key_vault {
      purge_soft_delete_on_destroy = false
    }
  }
  storage_use_azuread = true
}

data "azurerm_client_config" "current" {}

locals {
  name = "${var.project}-${var.environment}"
  # Storage accounts, registries and vaults: lower-case letters and digits only, globally unique.
  compact = substr(replace("${var.project}${var.environment}${var.unique_suffix}", "-", ""), 0, 24)
  tags = merge(var.tags, {
    project     = var.project
    environment = var.environment
    managed-by  = "terraform"
  })
}

resource "azurerm_resource_group" "main" {
  name     = "rg-${local.name}"
  location = var.location
  tags     = local.tags
}
