"""A decoder's prompts in its own chat format, for any family, found out from its tokenizer.

Families differ in what a scorer must get right, and rendering the tokenizer's chat template on small probe
conversations tells each of them, so no family is named here:
- the system role: some templates refuse one (Gemma 2, some Mistral) or drop it; the instruction then opens
  the first user turn;
- how an answer ends (``<|im_end|>``, ``<|eot_id|>``, ``<end_of_turn>``, ``<|end|>``): a label is scored up to
  that end, so "positive" cannot win by being the start of "positively";
- what a template writes between the generation prompt and the answer (an empty thinking block on some):
  it becomes part of every query;
- the BOS token: Llama 3 and Gemma templates write it, Qwen has none, and a prompt without a template gets the
  one its tokenizer adds by default.
Text that follows a prompt is tokenized together with it and split after the prompt's tokens, so a word at the
boundary gets the tokens it has in context (a SentencePiece tokenizer alone would add a leading "▁").
"""
from __future__ import annotations

from typing import Sequence

PROBE_SYSTEM, PROBE_USER, PROBE_ANSWER = "tl-probe-system", "tl-probe-user", "tl-probe-answer"


class ChatFormat:
    """How one tokenizer's chat template lays out a conversation (see the module docstring)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.has_template = bool(getattr(tokenizer, "chat_template", None))
        self.system_role = self.has_template and self._keeps_system()
        self.answer_lead, self.answer_end = self._answer_frame() if self.has_template else ("", "")
        self.bos = self._bos_to_add()

    # -- what the template does -------------------------------------------------------------------------------
    def _apply(self, messages: list[dict], generation: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)

    def _keeps_system(self) -> bool:
        from jinja2 import TemplateError

        messages = [{"role": "system", "content": PROBE_SYSTEM}, {"role": "user", "content": PROBE_USER}]
        try:
            return PROBE_SYSTEM in self._apply(messages, True)
        except TemplateError:  # "System role not supported"
            return False

    def _answer_frame(self) -> tuple[str, str]:
        """(what comes between the generation prompt and an answer, what ends an answer)."""
        from jinja2 import TemplateError

        eos = self.tokenizer.eos_token or ""
        user = [{"role": "user", "content": PROBE_USER}]
        try:
            asked = self._apply(user, True)
            answered = self._apply(user + [{"role": "assistant", "content": PROBE_ANSWER}], False)
        except TemplateError:
            return "", eos
        at = answered.find(PROBE_ANSWER)
        if at < 0:
            return "", eos
        lead = answered[len(asked):at] if answered.startswith(asked) else ""
        end = answered[at + len(PROBE_ANSWER):].rstrip()  # the newline after an end-of-turn token is not scored
        return lead, end or eos

    def _bos_to_add(self) -> str:
        """The BOS token text the tokenizer puts before a text by itself ('' when it adds none)."""
        tokenizer = self.tokenizer
        if not tokenizer.bos_token:
            return ""
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        special = tokenizer("a")["input_ids"]
        return tokenizer.bos_token if special[:1] == [tokenizer.bos_token_id] and plain[:1] != special[:1] else ""

    # -- prompts --------------------------------------------------------------------------------------------
    def with_bos(self, text: str) -> str:
        """``text`` as the start of a model's input: with the BOS token the model was trained to see first."""
        return text if not self.bos or text.startswith(self.bos) else self.bos + text

    def render(self, system: str | None, turns: Sequence[tuple[str, str]], query: str | None) -> str:
        """A chat prompt: the system instruction, earlier (user, answer) turns, then ``query`` as a user turn that
        ends where the answer starts. With ``query`` None: the part shared by every query (it may be '')."""
        users = [user for user, _ in turns] + ([query] if query is not None else [])
        answers = [answer for _, answer in turns]
        if system and not self.system_role and users:  # no system role: the instruction opens the first turn
            users[0] = f"{system}\n\n{users[0]}"
        messages = [{"role": "system", "content": system}] if system and self.system_role else []
        for i, user in enumerate(users):
            messages.append({"role": "user", "content": user})
            if i < len(answers):
                messages.append({"role": "assistant", "content": answers[i]})
        if not messages:
            return self.bos
        text = self._apply(messages, query is not None)
        return self.with_bos(text + (self.answer_lead if query is not None else ""))


def continuation_ids(tokenizer, context: str, text: str, context_ids: list[int] | None = None) -> list[int]:
    """The token ids ``text`` gets after ``context``: both tokenized as one string, split after the context's
    tokens; ``text`` tokenized alone when the context's last token would merge with it."""
    if context_ids is None:
        context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    ids = tokenizer(context + text, add_special_tokens=False)["input_ids"]
    if ids[:len(context_ids)] == context_ids:
        return ids[len(context_ids):]
    return tokenizer(text, add_special_tokens=False)["input_ids"]
