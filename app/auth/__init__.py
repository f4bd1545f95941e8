"""Users, credentials, and the one policy that says who may see and do what."""
