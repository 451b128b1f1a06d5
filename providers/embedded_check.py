"""Does llama-cpp-python work on this machine? Asked once, in a child process, before the embedded model is used.

A llama.cpp built for another CPU (the default native build, on CPUs that advertise AMX/AVX-512) dies with a
segfault or an illegal instruction inside C code, where Python cannot catch it: without this check the user
would see the process vanish without a word. The child loads the model and decodes one token; a clean exit is
remembered (per llama-cpp-python install) so later runs skip the check.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

from fanout.core.errors import UserError

# pip's wheel cache ignores CMAKE_ARGS, hence --no-cache-dir: a cached native wheel would come straight back.
INSTALL = 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --no-cache-dir llama-cpp-python (or scripts/setup in a checkout)'
REINSTALL = ('CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install --force-reinstall --no-cache-dir --no-deps llama-cpp-python '
             "(or scripts/setup in a checkout)")
_PROBE = """
import sys
try:
    import llama_cpp
except ImportError as err:
    print(f"import: {err}"); sys.exit(3)
from fanout.providers.local import resolve_model_path
llm = llama_cpp.Llama(model_path=str(resolve_model_path(sys.argv[1])), n_ctx=256, verbose=False)
llm.create_completion("Hi", max_tokens=1)
print(llama_cpp.__file__, getattr(llama_cpp, "__version__", ""))
"""


def _marker(folder: Path, model: str) -> Path | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    lib = Path(spec.origin).parent
    stamp = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(lib.rglob("*.so*")))
    key = hashlib.sha256(f"{lib}|{stamp}|{model}".encode()).hexdigest()[:16]
    return folder / f"llama-ok-{key}"


def ensure_embedded_works(model: str, folder: Path) -> None:
    """Raises a UserError saying what is wrong and how to fix it; returns quietly when the model runs here."""
    marker = _marker(folder, model)
    if marker is not None and marker.exists():
        return
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE, model], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise UserError("the embedded model did not load within 300 s (llama-cpp-python check)") from None
    if proc.returncode == 3 or (proc.returncode == 1 and "ModuleNotFoundError" in proc.stderr):
        raise UserError(
            "the embedded model needs llama-cpp-python, which is not installed here; install it with: " + INSTALL
            + ", or use a provider with a key (--provider openai|anthropic) or --base-url for a server")
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        raise UserError(
            f"llama-cpp-python crashes on this machine ({name} while loading the model): it was probably built "
            f"for another CPU. Reinstall it portable: {REINSTALL}")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"the embedded model cannot run: {last[:300]}")
    if marker is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            marker.write_text(proc.stdout)
        except OSError:
            pass  # not remembering only costs the check again next time
