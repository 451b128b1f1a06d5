"""One llama.cpp model and one context that decode every running branch together, on one thread.

llama.cpp runs at about half speed when successive calls come from different threads (asyncio's default
executor hands out a different worker each time), so everything that touches the model — loading, tokenising,
decoding, freeing — happens on the one thread this module starts. That thread keeps one KV-cache sequence per
running branch and, at every step, puts one token of each into a single `llama_decode` call with all the
machine's threads: a branch alone gets every core, five together share each decode (continuous batching —
branches join and leave between steps). A joining branch's prompt rides in the same batch.

Results cross to the asyncio side in one `call_soon_threadsafe` per loop per step.
"""

from __future__ import annotations

import asyncio
import codecs
import ctypes
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .compat_llama import quiet_llama
from .base import LocalModelError, ProviderError, SetupError, StreamEnd, TextDelta

DONE = object()  # the last item a job's sink receives


@dataclass(frozen=True)
class Sampling:
    """How a sequence picks its next token: top-k, the penalties and DRY (when any is on), then greedy, or top-p,
    min-p, temperature and a seeded draw. The defaults are llama-cpp-python's `create_chat_completion` ones with
    every penalty off; the embedded provider sets its own (providers/local.py)."""

    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0  # llama.cpp's penalty_repeat: 1.0 is off
    penalty_last_n: int = 64  # the tokens the repeat, frequency and presence penalties look back on
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    dry_multiplier: float = 0.0  # DRY ("don't repeat yourself"): 0 is off
    dry_base: float = 1.75
    dry_allowed_length: int = 2  # a repeated run up to this many tokens long costs nothing
    dry_breakers: tuple[str, ...] = ("\n", ":", '"', "*")  # a run never continues across these
    # The penalties and DRY also see the prompt (control tokens aside), as llama.cpp's server does: a long run of
    # the prompt copied out costs what a run of the answer's own repeated would.
    penalize_prompt: bool = False
    # Tokens holding "<<" are never sampled: no answer needs them, and a small model shown fenced reports
    # (<<<report ...>>>) otherwise starts its answer by copying a marker, which the scrubber then cuts to nothing.
    ban_fences: bool = False


@dataclass
class Job:
    """One branch's generation, handed from the event loop to the decode thread."""

    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float
    seed: int
    json_schema: dict | None
    grammar: str | None  # GBNF the output must match where there is no schema (a grounded answer's)
    loop: asyncio.AbstractEventLoop
    sink: Callable[[Any], None]  # runs on `loop`; receives TextDelta, StreamEnd, ProviderError, then DONE
    sampling: Sampling = Sampling()
    cancelled: bool = False  # set from the loop; the decode thread drops the sequence at its next step


class TokenText:
    """A sequence's token pieces into text: a character split across tokens comes out whole, with the token
    that completes it (byte-level vocabularies cut emoji and CJK into partial UTF-8)."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")

    def add(self, piece: bytes) -> str:
        return self._utf8.decode(piece)

    def flush(self) -> str:
        return self._utf8.decode(b"", final=True)


@dataclass
class _Seq:
    job: Job
    slot: int
    sampler: Any
    prompt: list[int]
    constrained: Any = None  # a json_output.GrammarSampler when the job has a grammar
    pos: int = 0  # tokens of this sequence already in the KV cache
    next_token: int = -1  # sampled, not yet decoded
    produced: int = 0
    tokens: list[int] = field(default_factory=list)  # what this sequence's cells hold, in order
    text: TokenText = field(default_factory=TokenText)


class BatchDecoder:
    def __init__(self, model_path: Callable[[], Path], *, sequences: int, n_ctx: int, threads: int | None = None):
        self.sequences = max(1, sequences)
        self.n_ctx = n_ctx  # per sequence
        self.threads = threads or os.cpu_count() or 1
        self.model_name = ""
        self._model_path = model_path
        self._cond = threading.Condition()
        self._pending: deque[Job] = deque()
        self._kept: dict[int, list[int]] = {}  # free sequence -> the tokens its cells still hold
        self._closing = False
        self._failed: ProviderError | None = None
        self._thread: threading.Thread | None = None
        self._lib: Any = None
        self._model = self._ctx = self._batch = None
        self.steps = 0  # decode calls made (for tests and benchmarks)
        self.max_batch_seqs = 0  # the most sequences one decode call has held
        self.prefilled = 0  # prompt tokens decoded (a reused prefix is not)

    # -- the event loop's side -------------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closing:
                raise self._failed or LocalModelError("embedded model: the provider is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fanout-llama", daemon=True)
                self._thread.start()
            self._pending.append(job)
            self._cond.notify()

    def close(self) -> None:
        """Blocks until the decode thread has freed the model (call it from a worker thread)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    # -- the decode thread -----------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._open()
        except ProviderError as err:
            self._failed = err
        except Exception as err:  # noqa: BLE001 - surfaced to every branch
            self._failed = LocalModelError(f"embedded model failed to load: {type(err).__name__}: {err}")
        active: dict[int, _Seq] = {}
        free = list(range(self.sequences - 1, -1, -1))
        closed = LocalModelError("embedded model: the provider closed")
        try:
            while True:
                with self._cond:
                    while not self._closing and not self._pending and not active:
                        self._cond.wait()
                    if self._closing:
                        break
                    joining = []
                    while self._pending and len(joining) < len(free):
                        joining.append(self._pending.popleft())
                if self._failed is not None:
                    for job in joining:
                        self._finish(job, [self._failed])
                    continue
                self._step(active, free, joining)
        except Exception as err:  # noqa: BLE001 - a bug here must fail the branches, not hang them
            self._failed = closed = LocalModelError(f"embedded model failed: {type(err).__name__}: {err}")
        finally:
            with self._cond:
                self._closing = True
                leaving = list(self._pending)
                self._pending.clear()
            for job in leaving:
                self._finish(job, [closed])
            for seq in active.values():
                self._finish(seq.job, [closed])
            for seq in active.values():
                self._free_samplers(seq)
            self._shut()

    def _open(self) -> None:
        try:
            import llama_cpp as lib
        except ImportError as err:
            raise SetupError(f"llama-cpp-python is not installed ({err})") from None
        quiet_llama()
        path = self._model_path()
        self.model_name = path.stem
        self._lib = lib
        lib.llama_backend_init()
        self._model = lib.llama_model_load_from_file(str(path).encode(), lib.llama_model_default_params())
        if not self._model:
            raise SetupError(f"embedded model: llama.cpp could not load {path}")
        self._vocab = lib.llama_model_get_vocab(self._model)
        self._fence_tokens: list[int] | None = None
        params = lib.llama_context_default_params()
        params.n_seq_max = self.sequences
        params.n_ctx = self.n_ctx * self.sequences  # one stream of n_ctx cells per sequence (kv_unified off)
        params.kv_unified = False
        params.n_batch = self.n_ctx + self.sequences  # a whole prompt and one token of every other sequence
        params.n_threads = params.n_threads_batch = self.threads
        self._ctx = lib.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise SetupError("embedded model: llama.cpp could not create a context")
        self.n_ctx = lib.llama_n_ctx_seq(self._ctx)
        self.n_batch = lib.llama_n_batch(self._ctx)
        self._mem = lib.llama_get_memory(self._ctx)
        lib.llama_memory_clear(self._mem, True)
        self._batch = lib.llama_batch_init(self.n_batch, 0, 1)
        self._piece = ctypes.create_string_buffer(256)
        from .chat_template import ChatTemplate

        self._template = ChatTemplate(lib, self._model, self._vocab)

    def _shut(self) -> None:
        lib = self._lib
        if self._batch is not None:
            lib.llama_batch_free(self._batch)
        if self._ctx:
            lib.llama_free(self._ctx)
        if self._model:
            lib.llama_model_free(self._model)
        self._batch = self._ctx = self._model = None

    def _finish(self, job: Job, items: list[Any]) -> None:
        items.append(DONE)
        self._deliver({job.loop: [(job, item) for item in items]})

    @staticmethod
    def _deliver(out: dict[asyncio.AbstractEventLoop, list[tuple[Job, Any]]]) -> None:
        for loop, items in out.items():
            try:
                loop.call_soon_threadsafe(_dispatch, items)
            except RuntimeError:  # that loop has closed: nobody is listening
                pass

    def _admit(self, job: Job) -> _Seq | ProviderError:
        lib = self._lib
        try:
            prompt = self._template.tokenize(self._template.render(job.messages))
        except Exception as err:  # noqa: BLE001 - a template that cannot render these messages
            return LocalModelError(f"embedded model: cannot format the messages: {err}")
        if len(prompt) >= self.n_ctx:
            return LocalModelError(
                f"embedded model: the prompt is {len(prompt)} tokens; with at least one to generate that would "
                f"exceed context window of {self.n_ctx} tokens per branch"
            )
        constrained = None
        if job.json_schema is not None or job.grammar is not None:
            from .json_output import GrammarSampler, schema_grammar

            try:
                gbnf = job.grammar if job.json_schema is None else schema_grammar(job.json_schema)
                constrained = GrammarSampler(lib, self._vocab, gbnf)
            except Exception as err:  # noqa: BLE001 - a schema the converter or llama.cpp rejects
                what = "the JSON schema" if job.json_schema is not None else "the citing rule"
                return LocalModelError(f"embedded model: cannot build a grammar from {what}: {err}")
        chain = self._sampler_chain(job, prompt)
        return _Seq(job, -1, chain, prompt, constrained)

    def _sampler_chain(self, job: Job, prompt: list[int]) -> Any:
        lib, sp = self._lib, job.sampling
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())

        def add(sampler: Any) -> None:
            lib.llama_sampler_chain_add(chain, sampler)

        if sp.ban_fences:
            add(self._fence_ban())
        penalised = sp.repeat_penalty != 1.0 or sp.frequency_penalty or sp.presence_penalty or sp.dry_multiplier > 0
        if penalised:
            # Top-k first: the penalties and DRY over the whole vocabulary (llama.cpp's own order) cost about 2 ms a
            # token each on two cores, as much as a decode step; over 40 candidates, nothing measurable.
            add(lib.llama_sampler_init_top_k(sp.top_k))
        if sp.repeat_penalty != 1.0 or sp.frequency_penalty or sp.presence_penalty:
            add(lib.llama_sampler_init_penalties(lib.llama_vocab_n_tokens(self._vocab), sp.penalty_last_n,
                                                 sp.repeat_penalty, sp.frequency_penalty, sp.presence_penalty))
        if sp.dry_multiplier > 0:
            breakers = (ctypes.c_char_p * len(sp.dry_breakers))(*(b.encode() for b in sp.dry_breakers))
            # The window is a count of tokens: this llama.cpp reads -1 ("the whole context") as no window at all.
            add(lib.llama_sampler_init_dry(self._vocab, sp.dry_multiplier, sp.dry_base, sp.dry_allowed_length,
                                           self.n_ctx, breakers, len(sp.dry_breakers)))
        if job.temperature <= 0:
            add(lib.llama_sampler_init_greedy())
        else:
            if not penalised:
                add(lib.llama_sampler_init_top_k(sp.top_k))
            add(lib.llama_sampler_init_top_p(sp.top_p, 1))
            add(lib.llama_sampler_init_min_p(sp.min_p, 1))
            add(lib.llama_sampler_init_temp(job.temperature))
            add(lib.llama_sampler_init_dist(job.seed & 0xFFFFFFFF))
        if sp.penalize_prompt:
            for token in prompt:
                if not lib.llama_vocab_is_control(self._vocab, token):
                    lib.llama_sampler_accept(chain, token)
        return chain

    def _fence_ban(self) -> Any:
        """A sampler that takes every token holding "<<" out of the running (the vocabulary is read once)."""
        lib = self._lib
        if self._fence_tokens is None:
            buf = ctypes.create_string_buffer(64)
            n_vocab = lib.llama_vocab_n_tokens(self._vocab)
            self._fence_tokens = [t for t in range(n_vocab) if b"<<" in self._piece_bytes(t, buf)]
        ids = self._fence_tokens
        biases = (lib.llama_logit_bias * len(ids))(*(lib.llama_logit_bias(t, float("-inf")) for t in ids))
        return lib.llama_sampler_init_logit_bias(lib.llama_vocab_n_tokens(self._vocab), len(ids), biases)

    def _drop(self, seq: _Seq, active: dict[int, _Seq], free: list[int], keep: bool = True) -> None:
        """Frees a sequence and its sampler; the other sequences' cells are untouched. Its own cells stay as they
        are (`keep`), for the next branch on that sequence to reuse the prompt prefix they share."""
        if keep:
            self._kept[seq.slot] = seq.tokens
        else:
            self._lib.llama_memory_seq_rm(self._mem, seq.slot, -1, -1)
            self._kept.pop(seq.slot, None)
        self._free_samplers(seq)
        del active[seq.slot]
        free.append(seq.slot)

    def _free_samplers(self, seq: _Seq) -> None:
        self._lib.llama_sampler_free(seq.sampler)
        if seq.constrained is not None:
            seq.constrained.free()

    def _step(self, active: dict[int, _Seq], free: list[int], joining: list[Job]) -> None:
        lib, batch = self._lib, self._batch
        out: dict[asyncio.AbstractEventLoop, list[tuple[Job, Any]]] = {}

        def emit(job: Job, item: Any) -> None:
            out.setdefault(job.loop, []).append((job, item))

        for seq in [s for s in active.values() if s.job.cancelled]:
            self._drop(seq, active, free)
            emit(seq.job, DONE)
        n = 0
        rows: list[tuple[_Seq, int]] = []  # (sequence, batch index of its logits)
        for seq in active.values():
            batch.token[n], batch.pos[n], batch.n_seq_id[n] = seq.next_token, seq.pos, 1
            batch.seq_id[n][0], batch.logits[n] = seq.slot, 1
            rows.append((seq, n))
            seq.tokens.append(seq.next_token)
            seq.pos += 1
            n += 1
        for job in joining:
            if job.cancelled:
                emit(job, DONE)
                continue
            admitted = self._admit(job)
            if isinstance(admitted, ProviderError):
                emit(job, admitted)
                emit(job, DONE)
                continue
            prompt = admitted.prompt
            # The free sequence whose cells already hold the longest prefix of this prompt (branches share the
            # system prompt and the template's head); at least the last token is decoded again, for its logits.
            reuse = {slot: min(_common(self._kept.get(slot, ()), prompt), len(prompt) - 1) for slot in free}
            slot = max(free, key=lambda s: (reuse[s], -s))
            start = reuse[slot]
            if n + len(prompt) - start > self.n_batch:  # no room in this step: back to the queue's front
                self._free_samplers(admitted)
                with self._cond:
                    self._pending.appendleft(job)
                continue
            free.remove(slot)
            lib.llama_memory_seq_rm(self._mem, slot, start, -1)
            self._kept.pop(slot, None)
            admitted.slot, admitted.tokens = slot, list(prompt)
            self.prefilled += len(prompt) - start
            active[slot] = admitted
            for i in range(start, len(prompt)):
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = prompt[i], i, 1
                batch.seq_id[n][0], batch.logits[n] = slot, int(i == len(prompt) - 1)
                n += 1
            rows.append((admitted, n - 1))
            admitted.pos = len(prompt)
        if n:
            batch.n_tokens = n
            self.steps += 1
            self.max_batch_seqs = max(self.max_batch_seqs, len(rows))
            rc = lib.llama_decode(self._ctx, batch)
            if rc != 0:
                err = LocalModelError(f"embedded model: llama_decode failed ({rc})")
                for seq, _ in rows:
                    self._drop(seq, active, free, keep=False)
                    emit(seq.job, err)
                    emit(seq.job, DONE)
                rows = []
            for seq, index in rows:
                if seq.constrained is not None:
                    token = seq.constrained.sample(seq.sampler, self._ctx, index)
                else:
                    token = lib.llama_sampler_sample(seq.sampler, self._ctx, index)
                finish = ""
                if lib.llama_vocab_is_eog(self._vocab, token):
                    finish = "stop"
                else:
                    seq.produced += 1
                    text = seq.text.add(self._piece_bytes(token, self._piece))
                    if text:
                        emit(seq.job, TextDelta(text))
                    if seq.produced >= seq.job.max_tokens or seq.pos >= self.n_ctx:
                        finish = "length"
                if finish:
                    tail = seq.text.flush()
                    if tail:
                        emit(seq.job, TextDelta(tail))
                    emit(seq.job, StreamEnd(len(seq.prompt), seq.produced, finish, self.model_name))
                    emit(seq.job, DONE)
                    self._drop(seq, active, free)
                else:
                    seq.next_token = token
        self._deliver(out)

    def _piece_bytes(self, token: int, buf: Any) -> bytes:
        n = self._lib.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        if n < 0:  # a longer piece than the buffer
            buf = ctypes.create_string_buffer(-n)
            n = self._lib.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, False)
        return buf.raw[:n]

    # -- for tests: the vocabulary is read-only, so these may run on any thread once the model is loaded ----

    def pieces(self, text: str) -> list[bytes]:
        buf = ctypes.create_string_buffer(256)
        return [self._piece_bytes(t, buf) for t in self._template.tokenize(text)]

    @staticmethod
    def detokenize_stream(pieces: list[bytes]) -> str:
        text = TokenText()
        return "".join(text.add(p) for p in pieces) + text.flush()


def _common(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _dispatch(items: list[tuple[Job, Any]]) -> None:
    for job, item in items:
        job.sink(item)
