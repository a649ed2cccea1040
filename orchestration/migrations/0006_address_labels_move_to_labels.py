"""Address labels now belong to the labels app; the table stays (a state-only move)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('access', '0002_address_label_grants_follow_labels'),
        ('orchestration', '0005_tasks_job_last_success_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='AddressLabel')],
            database_operations=[],
        ),
    ]
