from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from app.domain.priority import Priority
from app.domain.status import RunStatus
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Job',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=63)),
                ('image', fields.CharField(max_length=512)),
                ('gpu', fields.CharField(max_length=32)),
                ('storage_gi', fields.IntField()),
                ('command', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('args', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('env', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('priority', fields.CharEnumField(default=Priority.MEDIUM, description='LOW: LOW\nMEDIUM: MEDIUM\nHIGH: HIGH\nEXTRA_HIGH: EXTRA_HIGH', enum_type=Priority, max_length=16)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('run_count', fields.IntField(default=0)),
            ],
            options={'table': 'job', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A definition of what to run. Never edited: a rerun executes it again.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Run',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('job', fields.ForeignKeyField('models.Job', source_field='job_id', db_constraint=True, to_field='id', related_name='runs', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('status', fields.CharEnumField(db_index=True, description='SUBMITTED: SUBMITTED\nPENDING: PENDING\nRUNNING: RUNNING\nCOMPLETED: COMPLETED\nFAILED: FAILED\nCANCELLED: CANCELLED', enum_type=RunStatus, max_length=16)),
                ('reason', fields.CharField(null=True, max_length=128)),
                ('message', fields.TextField(null=True, unique=False)),
                ('version', fields.IntField(default=1)),
                ('submitted_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('exit_code', fields.IntField(null=True)),
                ('attempts', fields.IntField(default=0)),
                ('pod_uid', fields.CharField(null=True, max_length=64)),
                ('pod_created_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('kube_name', fields.CharField(max_length=63)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'run', 'app': 'models', 'unique_together': (('job', 'number'),), 'pk_attr': 'id', 'table_description': 'One execution of a Job, mirrored from its Kubernetes Job and pods.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RunEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('run', fields.ForeignKeyField('models.Run', source_field='run_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('status', fields.CharEnumField(description='SUBMITTED: SUBMITTED\nPENDING: PENDING\nRUNNING: RUNNING\nCOMPLETED: COMPLETED\nFAILED: FAILED\nCANCELLED: CANCELLED', enum_type=RunStatus, max_length=16)),
                ('reason', fields.CharField(null=True, max_length=128)),
                ('message', fields.TextField(null=True, unique=False)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'run_event', 'app': 'models', 'unique_together': (('run', 'version'),), 'pk_attr': 'id', 'table_description': "One entry of a run's timeline: the status it moved to, and why."},
            bases=['Model'],
        ),
    ]
