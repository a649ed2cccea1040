"""The label grant tables follow address labels to their own app; the database is unchanged."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('access', '0001_initial'),
        ('labels', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.AlterField(
                model_name='addresslabelgroupobjectpermission',
                name='content_object',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='labels.addresslabel'),
            ),
            migrations.AlterField(
                model_name='addresslabeluserobjectpermission',
                name='content_object',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='labels.addresslabel'),
            ),
            ],
            database_operations=[],
        ),
    ]
