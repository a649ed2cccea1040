"""The TRUNCATE guard looks at the very table being truncated.

Its check read ``pii_access_log`` through the session's search_path, where a temporary table of the
same name (``pg_temp`` is searched first) would answer "empty" for the real log. The check now names
the triggering table by schema and name, and the function runs with a fixed search_path.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION pii_access_log_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    holds_rows boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO holds_rows;
    IF holds_rows THEN
        RAISE EXCEPTION 'pii_access_log is append-only: TRUNCATE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;
ALTER FUNCTION pii_access_log_refuse_change() SET search_path = pg_catalog;
"""

BACKWARD = """
CREATE OR REPLACE FUNCTION pii_access_log_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pii_access_log) THEN
        RAISE EXCEPTION 'pii_access_log is append-only: TRUNCATE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;
ALTER FUNCTION pii_access_log_refuse_change() RESET search_path;
"""


class Migration(migrations.Migration):
    dependencies = [("pii", "0003_access_log_append_only_trigger")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
