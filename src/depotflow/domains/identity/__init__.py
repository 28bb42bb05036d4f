"""Identity: users, roles and their permissions, API tokens, login and its throttling."""
