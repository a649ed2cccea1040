"""The database refuses to change or delete access-log rows, below every application layer.

Row-level UPDATE and DELETE raise, whoever runs them (raw SQL, a shell, another service). TRUNCATE
raises too while the log holds rows; an empty log may be truncated, which is what a test run's
database flush does between tests and removes nothing.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION pii_access_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pii_access_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE FUNCTION pii_access_log_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pii_access_log) THEN
        RAISE EXCEPTION 'pii_access_log is append-only: TRUNCATE refused'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER pii_access_log_append_only
    BEFORE UPDATE OR DELETE ON pii_access_log
    FOR EACH ROW EXECUTE FUNCTION pii_access_log_refuse_change();

CREATE TRIGGER pii_access_log_no_truncate
    BEFORE TRUNCATE ON pii_access_log
    FOR EACH STATEMENT EXECUTE FUNCTION pii_access_log_refuse_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS pii_access_log_no_truncate ON pii_access_log;
DROP TRIGGER IF EXISTS pii_access_log_append_only ON pii_access_log;
DROP FUNCTION IF EXISTS pii_access_log_refuse_truncate();
DROP FUNCTION IF EXISTS pii_access_log_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("pii", "0002_access_log_rights")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
