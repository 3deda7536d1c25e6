"""The sample returns on disk: the committed examples (data/samples/returns) and the generated history.

``committed_samples`` names the files committed to the repository — every township of
``SAMPLE_COUNTY`` in ``SAMPLE_PERIOD`` as the real template, and ``EXTRA_SAMPLES`` (.xls from
LibreOffice, CSV in UTF-8 and GBK); ``write_committed_samples`` rewrites them
(``python -m pipelines.samples.returns returns``). ``ensure_generated`` keeps every other return
that arrived, 2018Q4–2025Q4, as a plain .xlsx under ``data/generated/returns`` (not committed),
written again only when the simulation, the generator or the catalog changes.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import duckdb

from pipelines.catalog.definitions import catalog
from pipelines.files import atomic_write
from pipelines.periods import period_label
from pipelines.resources import generated_dir, samples_dir
from pipelines.samples.simulation import EXTRA_SAMPLES, SAMPLE_COUNTY, SAMPLE_PERIOD, Simulation, simulate
from pipelines.samples.writers import lite_xlsx, return_filename, saved_at, write_return

GENERATOR_VERSION = "2"          # bump whenever the simulation or the file layout changes
RETURNS_DIR = samples_dir() / "returns"
GENERATED_DIR = generated_dir("returns")


@dataclass(frozen=True)
class SampleFile:
    """One committed sample return (data/samples/returns)."""

    township: str
    period: str
    suffix: str
    encoding: str | None
    name: str

    @property
    def path(self) -> Path:
        """Where the sample is committed: the module's ``RETURNS_DIR`` at call time (tests may point it elsewhere)."""
        return RETURNS_DIR / self.name


def committed_samples(sim: Simulation) -> list[SampleFile]:
    """The committed samples: every township of ``SAMPLE_COUNTY`` in ``SAMPLE_PERIOD`` as the
    real template (.xlsx), and ``EXTRA_SAMPLES`` (.xls from LibreOffice, CSV in UTF-8 and GBK)."""
    out = []
    for code in sorted(c for c in sim.townships if c[:6] == SAMPLE_COUNTY[:6]):
        out.append(SampleFile(code, SAMPLE_PERIOD, ".xlsx", None,
                              return_filename(code, sim.townships[code].name, SAMPLE_PERIOD)))
    for code, period, suffix, encoding in EXTRA_SAMPLES:
        tag = "_GBK" if encoding == "gbk" else ""
        out.append(SampleFile(code, period, suffix, encoding,
                              return_filename(code, sim.townships[code].name, period, suffix, tag)))
    return out


def write_sample(con: duckdb.DuckDBPyConnection, sim: Simulation, sample: SampleFile, out_dir: Path) -> Path:
    """Write one committed sample into ``out_dir``."""
    return write_return(con, sample.township, sample.period, sim.values(sample.township, sample.period),
                        Path(out_dir) / sample.name, encoding=sample.encoding or "utf-8-sig",
                        written_at=sim.arrival(sample.township, sample.period))


def write_committed_samples(con: duckdb.DuckDBPyConnection, out_dir: Path = RETURNS_DIR,
                            sim: Simulation | None = None) -> list[Path]:
    """(Re)write data/samples/returns: the sample files and their README (.xls needs LibreOffice)."""
    sim = sim or simulate(con)
    out_dir = Path(out_dir)
    samples = committed_samples(sim)
    paths = [write_sample(con, sim, s, out_dir) for s in samples]
    readme = out_dir / "README.md"
    readme.write_text(returns_readme(sim, samples), encoding="utf-8")
    return paths + [readme]


def returns_readme(sim: Simulation, samples: list[SampleFile]) -> str:
    """The README.md of data/samples/returns, listing ``samples``."""
    county = {c: t.name for c, t in sim.townships.items()}
    kind_zh = {".xlsx": "Excel 模板(.xlsx)", ".xls": "Excel 97-2003(.xls,由 LibreOffice 转换)",
               ".csv": "CSV"}
    lines = [
        "# 示例报表(合成数据)",
        "",
        "**合成数据,非真实报表。** 示例市(439900000000)各乡镇的季度报表,数值由 `pipelines/samples/simulation.py` "
        f"按固定随机种子 {sim.seed} 模拟生成,供试用导入(`rural-targets ingest 文件`)和演示。",
        "",
        "`rural-targets init` 会导入这里的文件,其余乡镇和季度(2018年第4季度至2025年第4季度)的报表"
        "由同一模拟程序生成到 `data/generated/returns/`(不提交到代码库,缺失或模拟程序变化时自动重新生成)。",
        "",
        "| 文件 | 乡镇 | 报告期 | 格式 |",
        "|---|---|---|---|",
    ]
    for s in samples:
        fmt = kind_zh[s.suffix]
        if s.suffix == ".csv":
            fmt = "CSV(GBK 编码,仅村级情况表)" if s.encoding == "gbk" else "CSV(UTF-8 带 BOM,仅村级情况表)"
        lines.append(f"| `{s.name}` | {county[s.township]} | {period_label(s.period)} | {fmt} |")
    lines += [
        "",
        "CSV 文件相当于在 Excel 中把“村级情况”表“另存为 CSV”:表头、隐藏的字段编号行和各村数据都在,"
        "但没有“乡镇情况”表(导入后乡镇本身的指标为未填报)。",
        "",
        "请勿手工修改本目录:测试会用模拟程序重新生成同样的数值并与这些文件逐项比较。重新生成(.xls 需要 LibreOffice):",
        "",
        "```",
        "python -m pipelines.samples.returns returns",
        "```",
        "",
        "出错的示例报表见 `../bad/`。",
        "",
    ]
    return "\n".join(lines)


def _manifest_key(sim: Simulation, skip: set[tuple[str, str]]) -> dict[str, Any]:
    """What the generated files depend on: seed, generator, catalog fields, simulated values, skipped returns."""
    cat = catalog()
    fields = [(k, [f.model_dump() for f in cat.sheets[k].fields]) for k in ("village", "township")]
    return {"seed": sim.seed, "generator_version": GENERATOR_VERSION, "template_version": cat.template_version,
            "fields": hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest(),
            "values": sim.fingerprint(), "skip": sorted(f"{t} {p}" for t, p in skip)}


def ensure_generated(con: duckdb.DuckDBPyConnection, sim: Simulation, out_dir: Path = GENERATED_DIR,
                     skip: set[tuple[str, str]] = frozenset(),
                     progress: Callable[[int, int], None] | None = None) -> tuple[dict[tuple[str, str], Path], int]:
    """The generated return of every (township, period) that arrived, except ``skip``, under
    ``out_dir``: written only when missing or when the simulation, the generator or the catalog
    changed (``manifest.json`` records what they were). Returns the paths and how many were written."""
    out_dir = Path(out_dir)
    key = _manifest_key(sim, set(skip))
    wanted = {(t, p): out_dir / return_filename(t, sim.townships[t].name, p)
              for t, p, _ in sim.returns() if (t, p) not in skip}
    manifest = out_dir / "manifest.json"
    try:
        current = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = None
    if current == key and all(p.is_file() for p in wanted.values()):
        return wanted, 0
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.unlink(missing_ok=True)
    keep = {p.name for p in wanted.values()}
    for old in out_dir.iterdir():  # files of an earlier generation
        if re.fullmatch(r"\d{12}_.+_\d{4}Q[1-4]\.(xlsx|csv)(\.part)?", old.name) and old.name not in keep:
            old.unlink()
    for i, ((t, p), path) in enumerate(sorted(wanted.items(), key=lambda kv: (kv[0][1], kv[0][0])), start=1):
        ts = sim.townships[t]  # the registry's name and county, as write_return(lite=True) would look up
        unit = {"code": t, "name": ts.name, "parent_code": ts.county}
        atomic_write(path, lite_xlsx(unit, p, sim.values(t, p), saved_at(p, sim.arrival(t, p))))
        if progress:
            progress(i, len(wanted))
    manifest.write_text(json.dumps(key, ensure_ascii=False, indent=1), encoding="utf-8")
    return wanted, len(wanted)
