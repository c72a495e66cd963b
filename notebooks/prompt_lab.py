"""Prompt lab: try a model or an agent profile with two prompt variants, side by side.

Open it with ``make notebooks`` (or ``uv run marimo edit notebooks/prompt_lab.py``). Run as a
script (``uv run python notebooks/prompt_lab.py``) it tries the default variants once, which
is how CI checks it.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Prompt lab")

with app.setup:
    import marimo as mo
    import pandas as pd

    from assistant import ProfileSettings, Settings, build_assistant, load_settings
    from evals import Case, TargetOutput, resolve_target

    DEFAULT_PROMPT_A = "You are a helpful assistant. Answer in one short sentence."
    DEFAULT_PROMPT_B = "You are a pirate. Answer in one short sentence, in pirate speak."
    DEFAULT_QUESTION = "What is the capital of France?"


@app.function
async def try_variant(
    assistant: object,
    spec: str,
    label: str,
    system_prompt: str,
    question: str,
    params: dict[str, object],
) -> TargetOutput:
    """One try: ``spec`` (model ref or profile) with this system prompt and these params."""
    target = resolve_target(
        spec, assistant, label=label, params=params, system_prompt=system_prompt or None
    )
    return await target.run(Case(id=label, input=question))


@app.function
def history_row(
    label: str, spec: str, system_prompt: str, params: dict[str, object], out: TargetOutput
) -> dict[str, object]:
    """A row of the history table: what was tried and how it went."""
    return {
        "variant": label,
        "target": spec,
        "system prompt": system_prompt,
        **{name: params.get(name) for name in ("temperature", "max_tokens", "seed")},
        "answer": out.output if out.error is None else f"error: {out.error}",
        "prompt tokens": out.usage.prompt_tokens,
        "answer tokens": out.usage.completion_tokens,
        "latency s": round(out.latency_s, 3),
        "ttft s": None if out.ttft_s is None else round(out.ttft_s, 3),
        "cost $": out.cost_usd,
    }


@app.function
def profile_snippet(
    settings: Settings, name: str, spec: str, system_prompt: str, params: dict[str, object]
) -> str:
    """A ``[profiles.NAME]`` table for ``assistant.toml`` that keeps this variant."""
    base = settings.profiles.get(spec) or ProfileSettings(model=spec)
    fields = {"system_prompt": system_prompt}
    fields.update({k: params[k] for k in ("temperature", "max_tokens") if k in params})
    return base.model_copy(update=fields).to_toml(name or "my_profile")


@app.function
def answer_card(title: str, out: TargetOutput) -> object:
    """One variant's answer with its numbers."""
    stats = mo.hstack(
        [
            mo.stat(f"{out.latency_s:.2f} s", label="latency"),
            mo.stat("—" if out.ttft_s is None else f"{out.ttft_s * 1000:.0f} ms", label="TTFT"),
            mo.stat(str(out.usage.completion_tokens), label="answer tokens"),
            mo.stat(str(out.usage.prompt_tokens), label="prompt tokens"),
        ],
        justify="start",
    )
    body = (
        mo.callout(mo.md(f"**Error:** {out.error}"), kind="danger")
        if out.error
        else mo.md(out.output or "*(empty answer)*")
    )
    return mo.vstack([mo.md(f"### {title}"), body, stats])


@app.cell(hide_code=True)
def _():
    mo.md("""
    # Prompt lab
    Pick a model or an agent profile, edit two system prompts and a question, and compare
    the answers side by side. Every try lands in the history below; keep a variant as a
    profile with the snippet at the end.
    """)
    return


@app.cell
def _():
    settings = load_settings()
    return (settings,)


@app.cell
def _(settings):
    assistant = build_assistant(settings)
    available = [info.id for info in assistant.list_models() if info.available]
    default_target = settings.default_model if settings.default_model in available else available[0]
    return assistant, available, default_target


@app.cell
def _(available, default_target):
    target_picker = mo.ui.dropdown(available, value=default_target, label="Model or profile")
    prompt_a = mo.ui.text_area(DEFAULT_PROMPT_A, label="System prompt A", rows=3, full_width=True)
    prompt_b = mo.ui.text_area(DEFAULT_PROMPT_B, label="System prompt B", rows=3, full_width=True)
    compare_b = mo.ui.checkbox(True, label="Compare with B")
    question = mo.ui.text_area(DEFAULT_QUESTION, label="User message", rows=2, full_width=True)
    temperature = mo.ui.slider(0.0, 2.0, step=0.1, value=0.0, label="temperature")
    max_tokens = mo.ui.number(1, 4096, value=64, label="max tokens")
    seed = mo.ui.number(0, 2**31 - 1, value=42, label="seed")
    run_button = mo.ui.run_button(label="Run")
    mo.vstack(
        [
            target_picker,
            mo.hstack([prompt_a, prompt_b], widths="equal"),
            compare_b,
            question,
            mo.hstack([temperature, max_tokens, seed, run_button], justify="start"),
        ]
    )
    return (
        compare_b,
        max_tokens,
        prompt_a,
        prompt_b,
        question,
        run_button,
        seed,
        target_picker,
        temperature,
    )


@app.cell
def _():
    get_history, set_history = mo.state([])
    return get_history, set_history


@app.cell
async def _(
    assistant,
    compare_b,
    max_tokens,
    prompt_a,
    prompt_b,
    question,
    run_button,
    seed,
    set_history,
    target_picker,
    temperature,
):
    # A script run (CI) tries the defaults once; in the editor, the button runs.
    mo.stop(not (run_button.value or mo.app_meta().mode == "script"), mo.md("Press **Run**."))
    params = {
        "temperature": temperature.value,
        "max_tokens": int(max_tokens.value),
        "seed": int(seed.value),
    }
    variants = [("A", prompt_a.value)] + ([("B", prompt_b.value)] if compare_b.value else [])
    tries = {}
    for _label, _prompt in variants:
        tries[_label] = await try_variant(
            assistant, target_picker.value, _label, _prompt, question.value, params
        )
    new_rows = [
        history_row(_label, target_picker.value, _prompt, params, tries[_label])
        for _label, _prompt in variants
    ]
    set_history(lambda rows: rows + new_rows)
    mo.hstack([answer_card(f"Variant {_label}", tries[_label]) for _label in tries], widths="equal")
    return new_rows, params, tries


@app.cell
def _(get_history, new_rows):
    history = get_history() or list(new_rows)
    history_table = mo.ui.table(pd.DataFrame(history), label="History of tries", selection=None)
    history_table
    return (history,)


@app.cell
def _(prompt_a, prompt_b):
    keep_variant = mo.ui.radio(["A", "B"], value="A", label="Keep variant", inline=True)
    profile_name = mo.ui.text("my_profile", label="Profile name")
    mo.hstack([keep_variant, profile_name], justify="start")
    kept_prompts = {"A": prompt_a.value, "B": prompt_b.value}
    return keep_variant, kept_prompts, profile_name


@app.cell
def _(keep_variant, kept_prompts, params, profile_name, settings, target_picker):
    snippet = profile_snippet(
        settings,
        profile_name.value,
        target_picker.value,
        kept_prompts[keep_variant.value],
        params,
    )
    mo.vstack(
        [
            mo.md("Paste into `assistant.toml` to serve this variant as a model:"),
            mo.md(f"```toml\n{snippet}```"),
        ]
    )
    return (snippet,)


if __name__ == "__main__":
    app.run()
