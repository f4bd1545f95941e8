from tortoise import migrations
from tortoise.migrations import operations as ops
from app.db.storage_models import InputStatus
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_auth_users_tokens_secrets')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Input',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(db_index=True, max_length=63)),
                ('status', fields.CharEnumField(default=InputStatus.PENDING, description='PENDING: PENDING\nREADY: READY', enum_type=InputStatus, max_length=16)),
                ('total_size', fields.BigIntField(default=0)),
                ('file_count', fields.IntField(default=0)),
                ('source_run', fields.ForeignKeyField('models.Run', source_field='source_run_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('finalized_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.RESTRICT)),
                ('team', fields.ForeignKeyField('models.Team', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'input', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A named set of files under `inputs/<id>/files/` in the object store.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InputFile',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('input', fields.ForeignKeyField('models.Input', source_field='input_id', db_constraint=True, to_field='id', related_name='files', on_delete=OnDelete.CASCADE)),
                ('path', fields.CharField(max_length=512)),
                ('size', fields.BigIntField()),
                ('content_type', fields.CharField(max_length=255)),
            ],
            options={'table': 'input_file', 'app': 'models', 'unique_together': (('input', 'path'),), 'pk_attr': 'id', 'table_description': 'One file of an input, as declared (and, once finalized, as found in the store).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobInputLink',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.ForeignKeyField('models.Job', source_field='job_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('input', fields.ForeignKeyField('models.Input', source_field='input_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
            ],
            options={'table': 'job_input', 'app': 'models', 'unique_together': (('job', 'input'),), 'pk_attr': 'id', 'table_description': 'An input a Job reads, in the order the Job named them.'},
            bases=['Model'],
        ),
    ]
