"""Checkpoints that are data: written atomically, read without running code, checked for kind.

A checkpoint is a dict of tensors and plain containers (dicts, lists, tuples, numbers,
strings, None), saved with ``torch.save`` and read with ``torch.load(weights_only=True)``,
which refuses any other object instead of running its pickle code. Each payload names
its kind:

* ``"run"``: a whole training run (``checkpoint.pt``): what ``--resume`` continues;
* ``"agent"``: an agent and its evaluation (``best.pt``): what you load to act.

A checkpoint also holds a digest of its contents, checked when it is read: torch's file
format checks its structure but not the bytes of the tensors, so a flipped byte in a
weight would otherwise load silently.

Every problem with a file gives one ``CheckpointError`` line that names the file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import uuid
import warnings
from pathlib import Path

import torch

FORMAT = 1
KINDS = {
    "run": "a training run (checkpoint.pt, what --resume continues)",
    "agent": "an agent and its evaluation (best.pt)",
}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: missing, empty, truncated, not data, or of another kind."""


def save_atomically(payload, path: Path) -> None:
    """``torch.save`` to a temporary file of this writer's own, then ``os.replace`` onto ``path``.

    A reader finds the old file or the new one, never half of one, and two writers never
    share a temporary file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _digest(obj, h) -> None:
    """Feed ``obj`` (tensors and plain containers) into the hash ``h``, structure included."""
    if isinstance(obj, torch.Tensor):
        h.update(f"T{obj.dtype}{tuple(obj.shape)}".encode())
        flat = obj.detach().cpu().contiguous().reshape(-1)
        if flat.numel():
            h.update(flat.view(torch.uint8).numpy())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}".encode())
        for key in sorted(obj, key=repr):
            _digest(key, h)
            _digest(obj[key], h)
    elif isinstance(obj, (list, tuple)):
        h.update(f"{type(obj).__name__[0]}{len(obj)}".encode())
        for item in obj:
            _digest(item, h)
    else:
        h.update(f"S{type(obj).__name__}:{obj!r};".encode())


def digest(payload: dict) -> str:
    """A hash of a checkpoint's contents (its ``digest`` entry left out)."""
    h = hashlib.blake2b(digest_size=16)
    _digest({k: v for k, v in payload.items() if k != "digest"}, h)
    return h.hexdigest()


def save_checkpoint(payload: dict, path: Path, kind: str) -> None:
    """Save ``payload`` (tensors and plain containers) as a checkpoint of ``kind``, with its digest."""
    if kind not in KINDS:
        raise ValueError(f"checkpoint kind must be one of {sorted(KINDS)}, got {kind!r}")
    payload = {**payload, "kind": kind, "format": FORMAT}
    save_atomically({**payload, "digest": digest(payload)}, path)


def _kind(payload: dict) -> str | None:
    if "kind" in payload:
        return payload["kind"]
    # written before checkpoints named their kind
    if "buffer" in payload and "global_step" in payload:
        return "run"
    if "agent" in payload and "eval_return" in payload:
        return "agent"
    return None


def load_checkpoint(path, kind: str | tuple[str, ...], map_location=None) -> dict:
    """Read a checkpoint of ``kind`` ("run", "agent", or a tuple of the kinds accepted: both
    hold ``config`` and ``agent``) without running any code in it.

    Raises:
        CheckpointError: naming the file and what is wrong: missing, empty, truncated or
            not a torch file, holding objects other than data (a pickled payload is refused,
            nothing in it runs), contents that do not match their digest, or a checkpoint
            of the other kind.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes), not a checkpoint")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of non-torch files
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # whatever a damaged or foreign file makes the reader raise
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if isinstance(e, pickle.UnpicklingError) and refused:
            raise CheckpointError(
                f"{path}: refused: the file holds objects other than tensors and plain "
                f"containers ({refused.group(1)}), which could run code when loaded; "
                f"nothing was run"
            ) from None
        reason = (str(e).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"{path}: truncated or not a torch checkpoint ({type(e).__name__}{': ' + reason if reason else ''})"
        ) from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: not a diffsim checkpoint (holds a {type(payload).__name__}, not a dict)")
    if "digest" in payload and payload["digest"] != digest(payload):
        raise CheckpointError(
            f"{path}: its contents do not match the digest saved with them: the file was "
            f"altered or corrupted after it was written"
        )
    accepted = (kind,) if isinstance(kind, str) else tuple(kind)
    found = _kind(payload)
    if found not in accepted:
        what = KINDS.get(found, "something else")
        raise CheckpointError(f"{path}: holds {what}; expected {' or '.join(KINDS[k] for k in accepted)}")
    return payload
