"""GraphQL operations of the secrets tests."""

CREATE_SECRET = """
mutation CreateSecret($name: String!, $data: [SecretEntryInput!]!, $teamId: ID) {
  createSecret(name: $name, data: $data, teamId: $teamId) {
    secret { id name keys createdAt updatedAt }
    userErrors { field message code }
  }
}
"""

UPDATE_SECRET = """
mutation UpdateSecret($id: ID!, $data: [SecretEntryInput!], $mode: SecretUpdateMode,
                      $removeKeys: [String!]) {
  updateSecret(id: $id, data: $data, mode: $mode, removeKeys: $removeKeys) {
    secret { id name keys }
    userErrors { field message code }
  }
}
"""

DELETE_SECRET = """
mutation DeleteSecret($id: ID!) {
  deleteSecret(id: $id) { deletedId userErrors { field message code } }
}
"""

SECRETS = """
query Secrets($first: Int, $after: String) {
  secrets(first: $first, after: $after) {
    edges { node { id name keys } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SECRET = "query Secret($id: ID!) { secret(id: $id) { id name keys } }"
