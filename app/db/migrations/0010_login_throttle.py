from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [("models", "0009_schedule_creator")]

    initial = False

    operations = [
        ops.CreateModel(
            name="LoginThrottle",
            fields=[
                (
                    "key",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=400),
                ),
                ("failures", fields.IntField(default=0)),
                (
                    "last_failure",
                    fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "login_throttle",
                "app": "models",
                "pk_attr": "key",
                "table_description": "Recent failed checks of one key: an account (its email) or a client address.",
            },
            bases=["Model"],
        ),
    ]
