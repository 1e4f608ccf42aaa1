"""The video search's index: a dataset's videos by the start of their name, without case.

``name__istartswith`` is ``UPPER(name::text) LIKE UPPER('abc%')`` on PostgreSQL, which an index
on ``upper(name)`` with the pattern operator class serves whatever the database's collation;
on SQLite it is ``name LIKE 'abc%'`` (case-insensitive already), which an index on the name
with the NOCASE collation serves. Django's ``Index`` cannot say both, so the SQL is written here.
"""
from django.db import migrations

SQL = {
    "postgresql": "CREATE INDEX IF NOT EXISTS video_name_prefix ON videos_video (dataset_id, upper(name::text) "
                  "text_pattern_ops)",
    "sqlite": "CREATE INDEX IF NOT EXISTS video_name_prefix ON videos_video (dataset_id, name COLLATE NOCASE)",
}


def create(apps, schema_editor):
    sql = SQL.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor in SQL:
        schema_editor.execute("DROP INDEX IF EXISTS video_name_prefix")


class Migration(migrations.Migration):

    dependencies = [
        ('videos', '0004_dataset_roles'),
    ]

    operations = [migrations.RunPython(create, drop)]
