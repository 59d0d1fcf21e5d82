"""``wsgiscope completion``: print click's shell completion script."""

from __future__ import annotations

import click


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash:  wsgiscope completion bash > ~/.local/share/bash-completion/completions/wsgiscope
    zsh:   wsgiscope completion zsh > "${fpath[1]}/_wsgiscope"
    fish:  wsgiscope completion fish > ~/.config/fish/completions/wsgiscope.fish
    """
    click.echo(completion_script(shell), nl=False)


def completion_script(shell: str) -> str:
    """The script click generates for ``shell``."""
    from click.shell_completion import get_completion_class

    from wsgiscope.cli import cli

    completion_class = get_completion_class(shell)
    assert completion_class is not None
    script = completion_class(cli, {}, "wsgiscope", "_WSGISCOPE_COMPLETE").source()
    return script if script.endswith("\n") else script + "\n"


def write_completion_files(directory: str = "completions") -> None:
    """Regenerate ``completions/`` (run ``python -m wsgiscope.cli.completion``)."""
    from pathlib import Path

    for shell in ("bash", "zsh", "fish"):
        Path(directory, f"wsgiscope.{shell}").write_text(completion_script(shell))


if __name__ == "__main__":
    write_completion_files()
