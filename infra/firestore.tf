# Composite indexes for Store.List (shared/store.Firestore), which always orders by name and may
# filter by auth method and by resource type (multi-type connectors list every type they serve
# in resource_types). Equality on name alone uses Firestore's automatic single-field indexes;
# label filters are applied to the query's results, so they need no index.
#
# The indexes are declared once, in firestore.indexes.json (the Firebase CLI format, so
# `firebase deploy --only firestore:indexes` works too). scripts/deploy.sh reads the same file
# (through `infra/manifest/gcloudargs indexes`), and infra/infratest checks that both create the
# file's indexes and that they cover every query the store makes.
locals {
  firestore_indexes = {
    for idx in jsondecode(file("${path.module}/firestore.indexes.json")).indexes :
    join("+", [for f in idx.fields : f.fieldPath]) => idx
  }
}

resource "google_firestore_index" "connectors" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = local.settings.firestore_database
  collection  = each.value.collectionGroup
  query_scope = each.value.queryScope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.fieldPath
      order        = try(fields.value.order, null)
      array_config = try(fields.value.arrayConfig, null)
    }
  }

  depends_on = [google_firestore_database.gcpconn]
}

# Sweep runs (collection sweep_runs) and their shard records (subcollections shards) expire 30
# days after they are written: shared/store.FirestoreRuns sets expire_at on each, and a TTL
# policy on the field makes Firestore delete them, so the records do not grow forever (about
# 48 runs a day, one shard record per 100 connectors).
resource "google_firestore_field" "sweep_runs_ttl" {
  for_each = toset(["sweep_runs", "shards"])

  project    = var.project_id
  database   = local.settings.firestore_database
  collection = each.value
  field      = "expire_at"

  ttl_config {}

  depends_on = [google_firestore_database.gcpconn]
}
