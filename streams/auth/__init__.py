"""Who may use the monitoring center: users, password hashes and what each role may see and do."""
