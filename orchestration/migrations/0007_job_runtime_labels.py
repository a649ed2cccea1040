"""Runtime choices read "SQL" and "Python" in the admin's filters and forms (labels only)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orchestration', '0006_address_labels_move_to_labels'),
    ]

    operations = [
        migrations.AlterField(
            model_name='job',
            name='runtime',
            field=models.TextField(choices=[('sql', 'SQL'), ('python', 'Python'), ('source', 'Source')]),
        ),
    ]
