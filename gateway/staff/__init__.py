"""Staff: accounts, roles, passwords and login sessions (``accounts``), and the logins' share of
the machine (``logins``)."""
