from tortoise import fields, migrations
from tortoise.fields.db_defaults import SqlDefault
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0010_login_throttle")]

    initial = False

    operations = [
        ops.AddField(
            model_name="LogArchive",
            name="bytes",
            field=fields.BigIntField(default=0, db_default=SqlDefault("0")),
        ),
        ops.AddField(
            model_name="Run",
            name="outputs_bytes",
            field=fields.BigIntField(default=0, db_default=SqlDefault("0")),
        ),
    ]
