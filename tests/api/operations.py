"""The GraphQL operations the API tests send, written once."""

RUN_FIELDS = """
    id number status reason message statusVersion exitCode attempts
    submittedAt startedAt finishedAt
"""

CREATE_JOB = f"""
mutation CreateJob($input: CreateJobInput!) {{
  createJob(input: $input) {{
    job {{ id name image gpu storageGi command args priority env {{ name value }} }}
    run {{ {RUN_FIELDS} }}
    userErrors {{ field message code }}
  }}
}}
"""

RUN_STATUS = f"""
subscription RunStatus($runId: ID!) {{
  runStatus(runId: $runId) {{ {RUN_FIELDS} }}
}}
"""

RUN = f"""
query Run($id: ID!) {{
  run(id: $id) {{ {RUN_FIELDS} job {{ id name }} timeline {{ version status reason }} }}
}}
"""

JOBS = """
query Jobs($first: Int, $after: String, $status: RunStatus) {
  jobs(first: $first, after: $after, status: $status) {
    edges { cursor node { id name gpu latestRun { id status }
      runs(first: 5) { edges { node { number status timeline { status } } } } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def job_input(**overrides: object) -> dict[str, object]:
    """A valid createJob input running a short shell command, with overrides."""
    base: dict[str, object] = {
        "image": "busybox:1.36",
        "gpu": "1g.10gb",
        "storageGi": 1,
        "command": ["sh", "-c", "echo hi; sleep 1"],
    }
    return {**base, **overrides}
