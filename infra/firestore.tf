# Composite indexes for Store.List (shared/connector.Filter), which always orders by name and may
# filter by auth method and by resource type (multi-type connectors store every type they serve
# in resource_types). Equality on name alone, and single-field filters, use Firestore's automatic
# single-field indexes. Label filters are applied by the store after the query, so they need no
# index. scripts/deploy.sh creates the same indexes (infra/infratest checks that they agree).
locals {
  firestore_collection = "connectors"

  firestore_indexes = {
    by-auth-method = [
      { field_path = "auth_method", order = "ASCENDING", array_config = null },
      { field_path = "name", order = "ASCENDING", array_config = null },
    ]
    by-resource-type = [
      { field_path = "resource_types", order = null, array_config = "CONTAINS" },
      { field_path = "name", order = "ASCENDING", array_config = null },
    ]
    by-auth-method-and-resource-type = [
      { field_path = "auth_method", order = "ASCENDING", array_config = null },
      { field_path = "resource_types", order = null, array_config = "CONTAINS" },
      { field_path = "name", order = "ASCENDING", array_config = null },
    ]
  }
}

resource "google_firestore_index" "connectors" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = var.firestore_database
  collection  = local.firestore_collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value
    content {
      field_path   = fields.value.field_path
      order        = fields.value.order
      array_config = fields.value.array_config
    }
  }

  depends_on = [google_firestore_database.gcpconn]
}
