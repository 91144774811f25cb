"""Figure: learning curves from several ``python -m benchmarks.train_agents`` JSON files in one plot.

    python -m benchmarks.train_curves OUT.png "TITLE" "LABEL=RESULT.json[:AGENT]" ...

Each ``LABEL=...`` names the curves of one agent's seeds in one benchmark file (the agent
may be left out when the file holds one), so runs trained with different overrides,
which one benchmark invocation cannot mix, can be compared side by side. The target
return is the first file's.
"""

import json
import sys
from pathlib import Path

from benchmarks.train_agents import plot


def main(out: str, title: str, specs: list[str]):
    runs, target = {}, None
    for spec in specs:
        label, _, source = spec.partition("=")
        path, _, agent = source.partition(":")
        if not label or not path:
            raise SystemExit(f"expected LABEL=RESULT.json[:AGENT], got {spec!r}")
        result = json.loads(Path(path).read_text())
        agents = list(result["runs"])
        if not agent and len(agents) == 1:
            agent = agents[0]
        if agent not in agents:
            raise SystemExit(f"{path} holds agents {agents}: name one, as {label}={path}:AGENT")
        runs[label] = result["runs"][agent]
        target = target if target is not None else result["summary"][agent]["target_return"]
    plot(runs, target, title, Path(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
