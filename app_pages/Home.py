"""Home: what TransferLab does, the four steps (each a link to its page) and how many runs are saved."""
from __future__ import annotations

import streamlit as st

import tlcore
from tlui.state import COMPARE_PAGE, DATA_PAGE, RUNS_PAGE, TRAIN_PAGE, USE_PAGE

trained = [entry.name for entry in tlcore.list_methods() if entry.to_dict().get("trains")]
st.title("TransferLab")
st.markdown(
    "Turn a small pretrained language model into a text classifier for **your own labeled data**, "
    "and see which way of doing it works best — on the same test rows, on your laptop's CPU:\n\n"
    "- **Zero-shot**: no labeled examples at all; the model matches each text to the label names (or your "
    "descriptions of them).\n"
    "- **Few-shot**: a handful of examples per class, still no training (prototypes or an in-context "
    "prompt).\n"
    f"- **Fine-tuned**: train on your examples ({', '.join(trained) or 'no training method installed'}); "
    "most methods keep the model frozen and learn a few small extra weights.\n\n"
    "Everything runs locally: bundled models, no downloads, runs saved to disk.")

st.subheader("Four steps")
steps = (
    (DATA_PAGE, "1 · Data", ":material/table:",
     "Pick a sample dataset or upload a CSV, TSV, JSONL, JSON, Excel or Parquet file; choose its text "
     "and label columns."),
    (TRAIN_PAGE, "2 · Train", ":material/model_training:",
     "Choose a model and a method, start a run and watch its progress and loss curve."),
    (COMPARE_PAGE, "3 · Compare", ":material/leaderboard:",
     "Put finished runs side by side: accuracy, calibration, per-example differences, learning curves, "
     "transfer and fairness checks, and an HTML report."),
    (USE_PAGE, "4 · Use", ":material/play_circle:",
     "Try the winner on new text, label a whole file, or export it to load with transformers/peft alone."),
)
for column, (page, label, icon, text) in zip(st.columns(4), steps):
    with column.container(border=True):
        st.page_link(page, label=label, icon=icon)
        st.caption(text)

store = tlcore.RunStore()
summaries = store.summaries()
finished = sum(s.status == "succeeded" for s in summaries)
live = sum(s.status in tlcore.LIVE_STATES for s in summaries)
st.subheader("Runs")
if summaries:
    left, middle, right, _ = st.columns(4)
    left.metric("Runs saved", len(summaries))
    middle.metric("Finished", finished)
    right.metric("In progress", live)
else:
    st.write("No runs yet: start with step 1.")
st.page_link(RUNS_PAGE, label="All runs", icon=":material/history:")
st.caption(f"Runs are kept in `{store.root.resolve()}` (set `TLCORE_RUNS_DIR` to change it). "
           "Everything the app does, the `tlcore` command line does too.")

