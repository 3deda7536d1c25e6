"""The command line itself: the README's reference is what the parser generates, every command
has a handler, --help stays light, and usage mistakes exit 2 with a message."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli.commands import COMMANDS
from pipelines.cli.main import (
    README_END,
    README_START,
    _leaves,
    build_parser,
    main,
    readme_block,
    reference_markdown,
    replace_block,
)

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REGENERATE = "regenerate it with: python -m pipelines.cli.main docs cli --write README.md"


def commands() -> list[str]:
    return [" ".join(words) for words, _, _ in _leaves(build_parser())]


def test_the_parser_has_the_commands_the_readme_describes():
    assert commands() == ["targets", "registry load", "registry list", "template", "ingest", "submissions", "values",
                          "indicators", "progress", "laggards", "completeness", "briefing", "refresh", "task update", "task list",
                          "county record", "user add", "user list", "user disable", "user reset-password",
                          "review list", "review approve", "review return", "review unlock", "audit",
                          "maintain", "worker", "backup", "restore",
                          "init", "sample region", "bench ingest", "bench progress",
                          "bench dashboard", "bench concurrency", "docs cli"]


def test_every_command_is_in_the_readme():
    block = readme_block(README.read_text(encoding="utf-8"))
    assert block is not None, f"README.md has no {README_START} … {README_END} block; {REGENERATE}"
    missing = [c for c in commands() if f"### `rural-targets {c}`" not in block or f"| `{c}` |" not in block]
    assert missing == [], f"commands missing from the README's command-line reference: {missing}; {REGENERATE}"


def test_the_readme_block_is_what_the_parser_generates():
    block = readme_block(README.read_text(encoding="utf-8"))
    assert block == reference_markdown(), f"README.md's command-line reference differs from the parser; {REGENERATE}"


def test_every_command_has_a_handler():
    handlers = {sp.get_default("handler") for _, sp, _ in _leaves(build_parser())}
    assert handlers - {"docs cli"} == set(COMMANDS)


def test_reference_shows_options_usage_and_help():
    text = reference_markdown()
    assert "`rural-targets template (--township CODE | --county CODE) --period P -o PATH [--json]`" in text
    assert "- `--period P` — 报告期,如 2024Q3(必填)" in text
    assert "- `--level {province,city,county,township,village,department}` — 只列出该层级(department:督办任务的责任单位)" in text
    assert "`rural-targets county record --county CODE --year YEAR [--set FIELD=VALUE ...] [--as NAME] [--json]`" in text
    assert "- `--seed SEED` — 随机种子(默认 20181107)" in text
    assert "- `--status S` — 只列这些状态(英文键,可重复或用逗号分隔)" in text  # says 可重复 itself


def test_docs_cli_writes_between_the_markers(tmp_path, capsys):
    path = tmp_path / "doc.md"
    path.write_text(f"# title\n\nbefore\n{README_START}\nold text\n{README_END}\nafter\n", encoding="utf-8")
    assert main(["docs", "cli", "--write", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# title\n\nbefore\n") and text.endswith(f"{README_END}\nafter\n")
    assert readme_block(text) == reference_markdown()
    assert main(["docs", "cli"]) == 0
    assert capsys.readouterr().out == reference_markdown()


def test_docs_cli_refuses_a_file_without_markers(tmp_path, capsys):
    path = tmp_path / "doc.md"
    path.write_text("no markers\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["docs", "cli", "--write", str(path)])
    assert exc.value.code == 2
    assert "cli-reference:start" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == "no markers\n"
    with pytest.raises(ValueError):
        replace_block(f"{README_START}\n{README_START}\n{README_END}\n", "x")


def test_help_does_not_load_the_stages():
    """--help must stay fast: it parses arguments only, without pandas, DuckDB or any stage."""
    code = ("import sys\nfrom pipelines.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "heavy = sorted(m for m in ('pandas', 'duckdb', 'numpy', 'pipelines.cli.commands') if m in sys.modules)\n"
            "print('HEAVY=' + ','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="


@pytest.mark.parametrize("argv, said", [
    (["template", "--period", "2024Q3", "-o", "x.xlsx"], "one of the arguments --township --county is required"),
    (["template", "--township", "1", "--county", "2", "--period", "2024Q3", "-o", "x.xlsx"], "not allowed with"),
    (["county", "record", "--county", "430703000000", "--year", "2020", "--set", "plan"], "应写成 字段=值,现为 'plan'"),
    (["registry", "list", "--level", "hamlet"], "invalid choice: 'hamlet'"),
])
def test_usage_mistakes_exit_2_with_a_message(argv, said, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert said in capsys.readouterr().err
