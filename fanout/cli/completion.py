"""`fanout completion bash|zsh|fish`: shell completion generated from the parser itself, so every command, flag
and choice the CLI has is offered, and recipe names are asked of `fanout recipes names` as you type."""

from __future__ import annotations

import argparse

from .exits import EXIT_OK
from .parser import build_parser

RECIPE_COMMANDS = ("run", "tui", "bench", "serve")  # their first argument is a recipe


def commands() -> dict[str, tuple[list[str], list[str], dict[str, list[str]]]]:
    """command -> (its subcommands, its flags, choices per flag)."""
    out = {}
    for name, sub in build_parser().commands.items():
        flags = [o for a in sub.arguments for o in a.option_strings if o.startswith("--")]
        choices = {o: [str(c) for c in a.choices] for a in sub.arguments if a.choices and a.option_strings
                   for o in a.option_strings if o.startswith("--")}
        out[name] = (sorted(sub.commands), flags, choices)
    return out


def bash() -> str:
    cmds = commands()
    cases = []
    for name, (subs, flags, choices) in cmds.items():
        prev = "".join(f'            {flag}) COMPREPLY=($(compgen -W "{" ".join(values)}" -- "$cur")); return;;\n'
                       for flag, values in choices.items())
        words = " ".join(subs)
        if name in RECIPE_COMMANDS:
            words = "$(fanout recipes names 2>/dev/null)"
        cases.append(
            f"        {name})\n"
            f'            case "$prev" in\n{prev}            esac\n'
            f'            if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "{" ".join(flags)}" -- "$cur"));\n'
            f'            else COMPREPLY=($(compgen -W "{words}" -- "$cur")); fi;;\n'
        )
    return (
        "# fanout completion for bash (and zsh through bashcompinit): eval \"$(fanout completion bash)\"\n"
        "_fanout() {\n"
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"\n'
        "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
        f'        COMPREPLY=($(compgen -W "{" ".join(cmds)} --help --version" -- "$cur")); return\n'
        "    fi\n"
        '    case "${COMP_WORDS[1]}" in\n' + "".join(cases) + "    esac\n}\ncomplete -F _fanout fanout\n"
    )


def zsh() -> str:
    return ("# fanout completion for zsh: eval \"$(fanout completion zsh)\"\n"
            "autoload -U +X bashcompinit && bashcompinit\n" + bash())


def fish() -> str:
    cmds = commands()
    lines = ["# fanout completion for fish: fanout completion fish | source",
             f"complete -c fanout -f -n __fish_use_subcommand -a '{' '.join(cmds)}'"]
    for name, (subs, flags, choices) in cmds.items():
        seen = f"-n '__fish_seen_subcommand_from {name}'"
        if subs:
            lines.append(f"complete -c fanout -f {seen} -a '{' '.join(subs)}'")
        if name in RECIPE_COMMANDS:
            lines.append(f"complete -c fanout -f {seen} -a '(fanout recipes names 2>/dev/null)'")
        for flag in flags:
            values = choices.get(flag)
            extra = f" -xa '{' '.join(values)}'" if values else ""
            lines.append(f"complete -c fanout {seen} -l {flag[2:]}{extra}")
    return "\n".join(lines) + "\n"


SHELLS = {"bash": bash, "zsh": zsh, "fish": fish}


def cmd_completion(args: argparse.Namespace) -> int:
    print(SHELLS[args.shell](), end="")
    return EXIT_OK
