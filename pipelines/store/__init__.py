"""The database: connections, transactions and the schema (the SQL files in sql/)."""
