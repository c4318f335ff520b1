#!/bin/sh
# Create Temporal's schemas in PostgreSQL (run once by the temporal-schema service).
set -eu
tool="temporal-sql-tool --plugin postgres12 --ep postgresql -u relay -p 5432"
for db in temporal temporal_visibility; do
  $tool --db "$db" create || true
  $tool --db "$db" setup-schema -v 0.0
done
$tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
$tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
