"""Provider arena: one prompt to several models or profiles, answers side by side, a mini-eval.

Open it with ``make notebooks``. Run as a script (``uv run python notebooks/provider_arena.py``)
it asks every available model once and runs the mini-eval on three cases, which is how CI
checks it. Mini-eval runs are stored in the eval store like any other run.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Provider arena")

with app.setup:
    import altair as alt
    import marimo as mo
    import pandas as pd

    from assistant import build_assistant, load_settings
    from evals import (
        Case,
        TargetOutput,
        evaluate,
        leaderboard,
        list_datasets,
        open_store,
        resolve_target,
    )

    DEFAULT_PROMPT = "In one sentence: why is the sky blue?"


@app.function
def models_frame(infos: list) -> pd.DataFrame:
    """Every model, chain and profile: whether it can answer, and the setting to add if not."""
    return pd.DataFrame(
        [
            {
                "model": info.id,
                "kind": info.kind,
                "provider": info.provider,
                "available": info.available,
                "to enable": "" if info.available else (info.reason or "not configured"),
            }
            for info in infos
        ]
    )


@app.function
async def ask_all(
    assistant: object, specs: list[str], prompt: str, params: dict[str, object]
) -> dict[str, TargetOutput]:
    """The same prompt to every target, one after another (local models share one queue)."""
    answers = {}
    for spec in specs:
        target = (
            resolve_target(spec, assistant, params=params)
            if params
            else resolve_target(spec, assistant)
        )
        answers[spec] = await target.run(Case(id="arena", input=prompt))
    return answers


@app.function
def answers_frame(answers: dict[str, TargetOutput]) -> pd.DataFrame:
    """Latency, time to first token, tokens and cost per target."""
    return pd.DataFrame(
        [
            {
                "target": spec,
                "latency s": round(out.latency_s, 3),
                "ttft s": None if out.ttft_s is None else round(out.ttft_s, 3),
                "prompt tokens": out.usage.prompt_tokens,
                "answer tokens": out.usage.completion_tokens,
                "cost $": out.cost_usd,
                "error": out.error or "",
            }
            for spec, out in answers.items()
        ]
    )


@app.function
def score_chart(board: pd.DataFrame) -> alt.Chart:
    """Mean score per target with its 95% confidence interval."""
    overall = board[board["scorer"] == "(overall)"]
    base = alt.Chart(overall).encode(y=alt.Y("target:N", sort="-x", title=None))
    bars = base.mark_bar().encode(
        x=alt.X("mean:Q", scale=alt.Scale(domain=[0, 1]), title="mean score")
    )
    errors = base.mark_errorbar().encode(
        x=alt.X("ci_low:Q", title="mean score (95% CI)"), x2="ci_high:Q"
    )
    return (bars + errors).properties(height=40 * max(1, len(overall)), width="container")


@app.cell(hide_code=True)
def _():
    mo.md("""
    # Provider arena
    Ask several models or agent profiles the same thing and compare answers, speed, tokens
    and cost. Providers without a key are listed with the setting that enables them.
    """)
    return


@app.cell
def _():
    settings = load_settings()
    return (settings,)


@app.cell
def _(settings):
    assistant = build_assistant(settings)
    models = models_frame(assistant.list_models())
    available = models[models["available"]]["model"].tolist()
    mo.vstack(
        [
            mo.md("## Models"),
            mo.ui.table(models, selection=None, page_size=8),
        ]
    )
    return assistant, available, models


@app.cell
def _(available):
    contenders = mo.ui.multiselect(available, value=available[:3], label="Contenders")
    prompt = mo.ui.text_area(DEFAULT_PROMPT, label="Prompt", full_width=True)
    max_tokens = mo.ui.number(1, 4096, value=64, label="max tokens")
    ask_button = mo.ui.run_button(label="Ask them all")
    mo.vstack([contenders, prompt, mo.hstack([max_tokens, ask_button], justify="start")])
    return ask_button, contenders, max_tokens, prompt


@app.cell
async def _(ask_button, assistant, contenders, max_tokens, prompt):
    mo.stop(
        not (ask_button.value or mo.app_meta().mode == "script"), mo.md("Press **Ask them all**.")
    )
    answers = await ask_all(
        assistant, list(contenders.value), prompt.value, {"max_tokens": int(max_tokens.value)}
    )
    answer_table = answers_frame(answers)
    mo.vstack(
        [
            mo.hstack(
                [
                    mo.vstack([mo.md(f"**{spec}**"), mo.md(out.error or out.output or "*(empty)*")])
                    for spec, out in answers.items()
                ],
                widths="equal",
                wrap=True,
            ),
            mo.ui.table(answer_table, selection=None),
        ]
    )
    return answer_table, answers


@app.cell
def _():
    db_path = None  # None: the evals.db setting
    return (db_path,)


@app.cell
def _(contenders):
    dataset_picker = mo.ui.dropdown(list_datasets(), value="factual_qa", label="Dataset")
    case_count = mo.ui.slider(1, 20, value=3, label="cases")
    eval_button = mo.ui.run_button(label="Run the mini-eval")
    mo.vstack(
        [
            mo.md(f"## Mini-eval of {', '.join(contenders.value) or 'no contender'}"),
            mo.hstack([dataset_picker, case_count, eval_button], justify="start"),
        ]
    )
    return case_count, dataset_picker, eval_button


@app.cell
async def _(assistant, case_count, contenders, dataset_picker, db_path, eval_button):
    mo.stop(
        not (eval_button.value or mo.app_meta().mode == "script"),
        mo.md("Press **Run the mini-eval**."),
    )
    with mo.status.spinner(title="Running the mini-eval..."):
        summary = await evaluate(
            dataset_picker.value,
            list(contenders.value),
            limit=int(case_count.value),
            db=db_path,
            assistant=assistant,
        )
    with open_store(db_path or assistant.settings.evals.db) as store:
        board = leaderboard(store.frame([summary.run_id]))
    mo.vstack(
        [
            mo.md(f"Run `{summary.run_id}`: {summary.done} results, {summary.errors} errors."),
            score_chart(board),
            mo.ui.table(
                board[
                    ["target", "scorer", "mean", "ci_low", "ci_high", "n_cases", "n_errors"]
                ].round(3),
                selection=None,
            ),
        ]
    )
    return board, summary


if __name__ == "__main__":
    app.run()
