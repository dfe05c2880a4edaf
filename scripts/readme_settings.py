"""Write (or check) the settings tables in README.md from each plugin's --about.

python scripts/readme_settings.py          # rewrite the tables in README.md
python scripts/readme_settings.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PLUGINS = ("tap-intercom", "target-sqlite-archive")
# Settings every singer-sdk plugin has; the README points to the SDK's documentation for them.
SDK_BUILTINS = frozenset(
    {
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
        "batch_config",
    }
)


def about(plugin: str) -> dict:
    executable = Path(sys.executable).with_name(plugin)
    out = subprocess.run(
        [str(executable), "--about", "--format", "json"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def own_settings(plugin: str) -> dict[str, dict]:
    properties = about(plugin)["settings"]["properties"]
    return {name: spec for name, spec in properties.items() if name not in SDK_BUILTINS}


def table(plugin: str) -> str:
    info = about(plugin)
    required = set(info["settings"].get("required", []))
    rows = ["| setting | type | default | description |", "|---|---|---|---|"]
    for name, spec in own_settings(plugin).items():
        kinds = [k for k in spec.get("type", []) if k != "null"]
        kind = "/".join(kinds) + (" (secret)" if spec.get("secret") else "")
        if "enum" in spec:
            kind += ": " + ", ".join(f"`{v}`" for v in spec["enum"])
        default = spec.get("default")
        shown = "required" if name in required else ("" if default is None else f"`{default}`")
        description = spec.get("description", "").replace("|", "\\|")
        rows.append(f"| `{name}` | {kind} | {shown} | {description} |")
    return "\n".join(rows)


def render(text: str) -> str:
    for plugin in PLUGINS:
        pattern = re.compile(
            rf"(<!-- settings:{plugin} -->\n)(?:.*?\n)?(<!-- /settings:{plugin} -->)", re.DOTALL
        )
        if not pattern.search(text):
            sys.exit(f"README.md lacks the markers for {plugin}")
        rendered = table(plugin).replace("\\", "\\\\")
        text = pattern.sub(rf"\g<1>{rendered}\n\g<2>", text)
    return text


def main() -> None:
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in sys.argv:
        if wanted != current:
            sys.exit("README.md settings tables are out of date: run scripts/readme_settings.py")
        return
    README.write_text(wanted, encoding="utf-8")


if __name__ == "__main__":
    main()
