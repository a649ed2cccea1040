"""Address labels move from the orchestration app to their own: the table stays as it is (a
state-only move), and its content type is renamed so existing permissions and grants keep working."""

import django.db.models.deletion
import django.db.models.functions.datetime
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models


def rename_content_type(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label="labels", model="addresslabel").exists():
        content_types.objects.filter(app_label="orchestration", model="addresslabel").update(app_label="labels")


def rename_content_type_back(apps, schema_editor):
    content_types = apps.get_model("contenttypes", "ContentType")
    content_types.objects.filter(app_label="labels", model="addresslabel").update(app_label="orchestration")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('orchestration', '0005_tasks_job_last_success_index'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('orgs', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='AddressLabel',
                fields=[
                    ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                    ('address', models.TextField()),
                    ('label', models.TextField()),
                    ('visibility', models.TextField(choices=[('private', 'Private (creator and org admins)'), ('org', 'Org (every member)'), ('public', 'Public (every user, read only)')], default='org')),
                    ('created_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), default=django.utils.timezone.now, editable=False)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                    ('org', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='address_labels', to='orgs.org')),
                    ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='address_labels', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'address_labels',
                    'ordering': ['address', 'label'],
                    'indexes': [models.Index(fields=['org', 'address'], name='address_labels_org_addr_idx'), models.Index(condition=models.Q(('visibility', 'public')), fields=['address'], name='address_labels_public_idx')],
                    'constraints': [models.CheckConstraint(condition=models.Q(('visibility__in', ['private', 'org', 'public'])), name='address_labels_visibility_valid'), models.CheckConstraint(condition=models.Q(('address__regex', '^0x[0-9a-f]{40}$')), name='address_labels_address_stored_form')],
                },
            ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_type, rename_content_type_back),
    ]
