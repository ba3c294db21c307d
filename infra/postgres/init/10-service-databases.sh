#!/usr/bin/env bash
# Gives each service its own PostgreSQL role and database, owned by that role, so no service
# can read or change another's data. The postgres image runs this once, on the first start with
# an empty data volume (from /docker-entrypoint-initdb.d); the passwords come from the
# environment of the postgres container (docker-compose.yml, from .env).
#
# Idempotent: run it again to add a missing database or to apply changed passwords, e.g.
#
#     docker compose exec -u postgres postgres bash /docker-entrypoint-initdb.d/10-service-databases.sh
#
# The entrypoint sources .sh files that are not executable; the work runs in a subshell so the
# options below never leak into the entrypoint.
(
    set -euo pipefail

    # provision <database> <role> <name of the variable holding the role's password>
    provision() {
        local database="$1" role="$2" password_variable="$3"
        local password="${!password_variable:-}"
        if [[ -z "$password" ]]; then
            echo "10-service-databases: $password_variable is not set; cannot create role $role" >&2
            return 1
        fi
        echo "10-service-databases: role $role, database $database"
        # The password reaches psql through the environment (\getenv), not the command line.
        # psql fills :'name' in as a quoted literal; format() quotes identifiers (%I) and
        # literals (%L), and \gexec runs each generated statement. CREATE DATABASE cannot run
        # inside a transaction, so every statement runs on its own.
        psql --no-psqlrc --set ON_ERROR_STOP=1 --quiet \
            --username "${POSTGRES_USER:-postgres}" --dbname postgres \
            --set role="$role" --set database="$database" \
            --set password_variable="$password_variable" <<'SQL'
\getenv password :password_variable
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :'role')
\gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'role', :'password')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = :'database')
\gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'database', :'role')
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'database')
\gexec
SQL
    }

    # database      role          password variable (set on the postgres service)
    provision profile      profile      PROFILE_DB_PASSWORD
    provision matching     matching     MATCHING_DB_PASSWORD
    provision notification notification NOTIFICATION_DB_PASSWORD
    provision mentorship   mentorship   MENTORSHIP_DB_PASSWORD
)
