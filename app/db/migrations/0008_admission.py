from tortoise import migrations
from tortoise.migrations import operations as ops
from app.domain.outputs import OutputsStatus
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_schedules')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Quota',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, unique=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', null=True, unique=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('max_slices', fields.IntField(null=True)),
                ('high_priority_gpu_hours', fields.FloatField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'quota', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Limits set by an admin for one owner, a user or a team (for its team Jobs).'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Run',
            name='outputs_status',
            field=fields.CharEnumField(null=True, description='PENDING: PENDING\nUPLOADING: UPLOADING\nUPLOADED: UPLOADED\nFAILED: FAILED\nNONE: NONE', enum_type=OutputsStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Run',
            name='gpu_slot',
            field=fields.CharField(null=True, max_length=300),
        ),
        ops.AddField(
            model_name='Run',
            name='pending_message',
            field=fields.TextField(null=True, unique=False),
        ),
    ]
