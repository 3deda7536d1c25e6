"""The command line, `rural-targets`: one subcommand per task, errors turned into one-line messages."""
