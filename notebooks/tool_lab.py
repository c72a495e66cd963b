"""Tool lab: the tool registry, a form for any tool, and the agent's trajectory as a timeline.

Open it with ``make notebooks``. Run as a script (``uv run python notebooks/tool_lab.py``) it
calls the first available tool with its example, runs the agent once and grades one BFCL case,
which is how CI checks it.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Tool lab")

with app.setup:
    import json

    import altair as alt
    import marimo as mo
    import pandas as pd

    from assistant import build_assistant, load_settings
    from evals import (
        Case,
        TargetOutput,
        build_scorer,
        call_table,
        calls_made,
        list_datasets,
        load_dataset,
        resolve_target,
    )

    DEFAULT_QUERY = "What is 12.5 * 4 + 3?"
    # the bundled datasets' folder (wherever the notebook runs from), then its BFCL categories
    BFCL_DIR = next(iter(list_datasets().values())).parent / "bfcl"


@app.function
def registry_frame(infos: list) -> pd.DataFrame:
    """The tool registry as a table: name, availability, description, parameters."""
    return pd.DataFrame(
        [
            {
                "tool": info.name,
                "available": info.available,
                "why not": info.reason or "",
                "description": info.description.splitlines()[0] if info.description else "",
                "parameters": ", ".join(info.parameters.get("properties", {})),
            }
            for info in infos
        ]
    )


@app.function
def field_for(name: str, schema: dict, required: bool, example: object) -> object:
    """A form field for one JSON-schema property (complex types are edited as JSON)."""
    label = f"{name}{' *' if required else ''}"
    kind = schema.get("type")
    default = example if example is not None else schema.get("default")
    if "enum" in schema:
        options = [str(v) for v in schema["enum"]]
        return mo.ui.dropdown(
            options, value=str(default) if default is not None else None, label=label
        )
    if kind == "boolean":
        return mo.ui.checkbox(bool(default), label=label)
    if kind in ("integer", "number"):
        step = 1 if kind == "integer" else 0.1
        return mo.ui.number(value=default if default is not None else 0, step=step, label=label)
    if kind in ("array", "object"):
        text = json.dumps(default) if default is not None else ""
        return mo.ui.text_area(text, label=f"{label} (JSON)")
    return mo.ui.text(str(default) if default is not None else "", label=label, full_width=True)


@app.function
def form_for(parameters: dict, example: dict | None) -> object:
    """A form with one field per parameter of a tool, pre-filled with its example."""
    required = set(parameters.get("required", []))
    fields = {
        name: field_for(name, schema, name in required, (example or {}).get(name))
        for name, schema in parameters.get("properties", {}).items()
    }
    return mo.ui.dictionary(fields)


@app.function
def arguments_from(parameters: dict, values: dict) -> dict:
    """Form values as tool arguments: JSON fields parsed, empty optional fields left out."""
    required = set(parameters.get("required", []))
    arguments = {}
    for name, schema in parameters.get("properties", {}).items():
        value = values.get(name)
        if schema.get("type") in ("array", "object") and isinstance(value, str):
            value = json.loads(value) if value.strip() else None
        if schema.get("type") == "integer" and value is not None:
            value = int(value)
        if value in (None, "") and name not in required:
            continue
        arguments[name] = value
    return arguments


@app.function
def timeline_frame(out: TargetOutput) -> pd.DataFrame:
    """The agent's trajectory, one row per step, with start and end times in seconds.

    Steps ran one after another, so each starts where the previous one ended.
    """
    rows, clock = [], 0.0
    for number, step in enumerate(out.trajectory, start=1):
        if step.kind == "model":
            name = step.model
            detail = (
                "calls " + ", ".join(c["name"] for c in step.tool_calls)
                if step.tool_calls
                else (step.text[:120] or "(empty)")
            )
            tokens = step.usage.prompt_tokens + step.usage.completion_tokens
        else:
            name = step.name
            detail = f"{json.dumps(step.args)} → {step.result[:120]}"
            tokens = 0
        rows.append(
            {
                "step": number,
                "kind": step.kind,
                "name": name,
                "start s": round(clock, 4),
                "end s": round(clock + step.latency_s, 4),
                "latency ms": round(step.latency_s * 1000, 1),
                "tokens": tokens,
                "detail": detail,
                "error": bool(getattr(step, "error", False)),
            }
        )
        clock += step.latency_s
    return pd.DataFrame(
        rows,
        columns=[
            "step",
            "kind",
            "name",
            "start s",
            "end s",
            "latency ms",
            "tokens",
            "detail",
            "error",
        ],
    )


@app.function
def timeline_chart(frame: pd.DataFrame) -> alt.Chart:
    """A Gantt chart of the steps: model calls and tool calls in time order."""
    return (
        alt.Chart(frame)
        .mark_bar(cornerRadius=3)
        .encode(
            x=alt.X("start s:Q", title="seconds"),
            x2="end s:Q",
            y=alt.Y("step:O", title="step"),
            color=alt.Color("kind:N", scale=alt.Scale(domain=["model", "tool"])),
            tooltip=["step", "kind", "name", "latency ms", "tokens", "detail"],
        )
        .properties(height=max(80, 28 * len(frame)), width="container")
    )


@app.cell(hide_code=True)
def _():
    mo.md("""
    # Tool lab
    Every registered tool, a form to call any of them, and the agent at work: its model
    calls and tool calls on a timeline. Switch tools off and run it again.
    """)
    return


@app.cell
def _():
    settings = load_settings()
    return (settings,)


@app.cell
def _(settings):
    assistant = build_assistant(settings)
    infos = assistant.tools.info()
    tools_table = registry_frame(infos)
    mo.vstack([mo.md("## The registry"), mo.ui.table(tools_table, selection=None)])
    return assistant, infos, tools_table


@app.cell
def _(infos):
    usable = [info.name for info in infos if info.available]
    tool_picker = mo.ui.dropdown(usable, value=usable[0] if usable else None, label="Tool")
    tool_picker
    return (tool_picker,)


@app.cell
def _(infos, tool_picker):
    picked = next(info for info in infos if info.name == tool_picker.value)
    tool_form = form_for(picked.parameters, picked.example)
    call_button = mo.ui.run_button(label="Call the tool")
    mo.vstack([mo.md(f"## Call `{picked.name}`\n{picked.description}"), tool_form, call_button])
    return call_button, picked, tool_form


@app.cell
async def _(assistant, call_button, picked, tool_form):
    mo.stop(not (call_button.value or mo.app_meta().mode == "script"))
    tool_arguments = arguments_from(picked.parameters, tool_form.value)
    try:
        tool_result = str(await assistant.tools.run(picked.name, tool_arguments))
        tool_failed = False
    except Exception as exc:  # a tool error is shown, not raised: this is a lab
        tool_result, tool_failed = str(exc), True
    mo.callout(
        mo.md(f"`{picked.name}({json.dumps(tool_arguments)})`\n\n```\n{tool_result}\n```"),
        kind="danger" if tool_failed else "success",
    )
    return tool_arguments, tool_failed, tool_result


@app.cell
def _(assistant, infos):
    profiles = [info.id for info in assistant.list_profiles() if info.available]
    profile_picker = mo.ui.dropdown(
        profiles, value="assistant" if "assistant" in profiles else profiles[0], label="Profile"
    )
    enabled_tools = mo.ui.multiselect(
        [info.name for info in infos],
        value=[info.name for info in infos if info.available],
        label="Tools the agent may use",
    )
    query = mo.ui.text_area(DEFAULT_QUERY, label="Query", full_width=True)
    agent_button = mo.ui.run_button(label="Run the agent")
    mo.vstack(
        [mo.md("## The agent"), mo.hstack([profile_picker, enabled_tools]), query, agent_button]
    )
    return agent_button, enabled_tools, profile_picker, query


@app.cell
async def _(agent_button, assistant, enabled_tools, profile_picker, query):
    mo.stop(
        not (agent_button.value or mo.app_meta().mode == "script"),
        mo.md("Press **Run the agent**."),
    )
    agent_target = resolve_target(profile_picker.value, assistant, tools=list(enabled_tools.value))
    agent_output = await agent_target.run(Case(id="query", input=query.value))
    timeline = timeline_frame(agent_output)
    mo.vstack(
        [
            mo.callout(
                mo.md(agent_output.output or "*(no answer)*"),
                kind="danger" if agent_output.error else "neutral",
            ),
            mo.hstack(
                [
                    mo.stat(f"{agent_output.latency_s:.2f} s", label="latency"),
                    mo.stat(str(len(timeline)), label="steps"),
                    mo.stat(", ".join(agent_output.tools_called) or "none", label="tools called"),
                    mo.stat(
                        str(
                            agent_output.usage.prompt_tokens + agent_output.usage.completion_tokens
                        ),
                        label="tokens",
                    ),
                ],
                justify="start",
            ),
            timeline_chart(timeline) if len(timeline) else mo.md("*No steps recorded.*"),
            mo.ui.table(timeline, selection=None),
        ]
    )
    return agent_output, timeline


@app.function
def call_frame(case: Case, out: TargetOutput) -> pd.DataFrame:
    """The case's expected calls against the calls the target made, parameter by parameter."""
    offered = [function["name"] for function in case.functions()] if case.tools else None
    made = calls_made(out.trajectory, offered)
    columns = ["call", "expected function", "called function", "param", "acceptable", "given"]
    rows = call_table(made, case.expected_calls or [], case.functions())
    return pd.DataFrame(rows, columns=[*columns, "ok", "why"])


@app.cell(hide_code=True)
def _():
    mo.md("""
    ## A function-calling case, parameter by parameter
    Pick a case of a BFCL category (`datasets/bfcl/`), run it on a model or profile, and see
    the expected call beside the model's, with why each parameter passes or fails, graded as
    the `call_match` scorer (and BFCL's checker) grades it.
    """)
    return


@app.cell
def _(assistant):
    fc_files = {path.stem: path for path in sorted(BFCL_DIR.glob("*.jsonl"))}
    fc_category = mo.ui.dropdown(
        list(fc_files),
        value="simple_python" if "simple_python" in fc_files else None,
        label="Category",
    )
    fc_target = mo.ui.dropdown(
        [info.id for info in assistant.list_models() if info.available],
        value="local:smollm2",
        label="Target",
    )
    mo.hstack([fc_category, fc_target], justify="start")
    return fc_category, fc_files, fc_target


@app.cell
def _(fc_category, fc_files):
    mo.stop(fc_category.value is None, mo.md("*No BFCL dataset found in `datasets/bfcl/`.*"))
    fc_dataset = load_dataset(fc_files[fc_category.value])
    fc_case_picker = mo.ui.dropdown(
        [case.id for case in fc_dataset], value=fc_dataset.cases[0].id, label="Case"
    )
    fc_button = mo.ui.run_button(label="Run the case")
    mo.hstack([fc_case_picker, fc_button], justify="start")
    return fc_button, fc_case_picker, fc_dataset


@app.cell
async def _(assistant, fc_button, fc_case_picker, fc_dataset, fc_target):
    fc_case = next(case for case in fc_dataset if case.id == fc_case_picker.value)
    mo.stop(
        not (fc_button.value or mo.app_meta().mode == "script"),
        mo.md(f"**{fc_case.id}**: {fc_case.prompt()}\n\nPress **Run the case**."),
    )
    fc_output = await resolve_target(fc_target.value, assistant).run(fc_case)
    fc_scores = [
        await scorer.score(fc_case, fc_output)
        for scorer in (build_scorer(spec) for spec in fc_dataset.scorers_for(fc_case))
    ]
    fc_rows = call_frame(fc_case, fc_output)
    mo.vstack(
        [
            mo.md(f"**{fc_case.id}**: {fc_case.prompt()}"),
            *(
                mo.callout(
                    mo.md(f"`{score.name}` = {score.value}: {score.reason or score.error}"),
                    kind="success" if score.passed else "danger",
                )
                for score in fc_scores
            ),
            mo.ui.table(fc_rows, selection=None) if len(fc_rows) else mo.md("*No call made.*"),
        ]
    )
    return fc_case, fc_output, fc_rows, fc_scores


if __name__ == "__main__":
    app.run()
