"""``codeanatomy doctor``: are the external tools of the optional layers usable?

Reports node, npm and scip-python (the SCIP layer's indexer) with their paths and
versions. Exit status 0 when all are usable, 1 when one is missing — a build still runs
without them, its SCIP layer then records why it was skipped.
"""

from __future__ import annotations

import msgspec

from codeanatomy.extract.scip.tool import Tool, toolchain, tools_dir


class ToolReport(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    ok: bool
    path: str | None
    version: str | None
    problem: str | None


class DoctorReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    tools_dir: str
    tools: list[ToolReport]


def doctor_report() -> DoctorReport:
    tools = [_report(tool) for tool in toolchain().tools]
    return DoctorReport(ok=all(t.ok for t in tools), tools_dir=str(tools_dir()), tools=tools)


def render_doctor(report: DoctorReport, *, as_json: bool) -> str:
    if as_json:
        return msgspec.json.format(msgspec.json.encode(report), indent=2).decode() + "\n"
    lines = [f"tools directory: {report.tools_dir}"]
    for tool in report.tools:
        if tool.ok:
            lines.append(f"ok       {tool.name:<12} {tool.version}  ({tool.path})")
        else:
            lines.append(f"missing  {tool.name:<12} {tool.problem}")
    lines.append(
        "all tools available"
        if report.ok
        else "the SCIP layer (--layers default,scip) will be skipped; run scripts/install_tools"
    )
    return "\n".join(lines) + "\n"


def _report(tool: Tool) -> ToolReport:
    return ToolReport(
        name=tool.name, ok=tool.ok, path=tool.path, version=tool.version, problem=tool.problem
    )
