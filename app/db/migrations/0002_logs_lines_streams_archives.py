from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LogArchive',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('run', fields.OneToOneField('models.Run', source_field='run_id', db_constraint=True, to_field='id', related_name='log_archive', on_delete=OnDelete.CASCADE)),
                ('objects', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('lines', fields.BigIntField(default=0)),
                ('archived_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'log_archive', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The archived log of a run: written once the run is terminal and every stream ended.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LogLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('run', fields.ForeignKeyField('models.Run', source_field='run_id', db_constraint=True, to_field='id', related_name='log_lines', on_delete=OnDelete.CASCADE)),
                ('seq', fields.BigIntField()),
                ('container', fields.CharField(max_length=63)),
                ('attempt', fields.SmallIntField()),
                ('ts', fields.CharField(max_length=30)),
                ('text', fields.TextField(unique=False)),
            ],
            options={'table': 'log_line', 'app': 'models', 'unique_together': (('run', 'seq'),), 'indexes': [Index(fields=['run_id', 'container', 'seq'])], 'pk_attr': 'id', 'table_description': 'One line a container printed (or a piece of one longer than the limit).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LogStream',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('run', fields.ForeignKeyField('models.Run', source_field='run_id', db_constraint=True, to_field='id', related_name='log_streams', on_delete=OnDelete.CASCADE)),
                ('pod_uid', fields.CharField(max_length=64)),
                ('pod_name', fields.CharField(max_length=253)),
                ('container', fields.CharField(max_length=63)),
                ('attempt', fields.SmallIntField()),
                ('ended', fields.BooleanField(default=False)),
            ],
            options={'table': 'log_stream', 'app': 'models', 'unique_together': (('run', 'pod_uid', 'container'),), 'pk_attr': 'id', 'table_description': 'One container of one pod of a run, as followed by the platform (ended: read whole).'},
            bases=['Model'],
        ),
    ]
