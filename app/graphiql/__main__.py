"""`python -m app.graphiql vendor`."""

import sys

from app.graphiql import main

sys.exit(main(sys.argv[1:]))
