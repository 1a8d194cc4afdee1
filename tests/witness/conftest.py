"""A log to submit (its own Ed25519 key and a tree of leaves grown on demand) and a real witness
on 127.0.0.1:0 witnessing it, with its own key and state file."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import attrs
import pytest
from aiohttp import web

from gateway.http.witness_api import create_witness_app
from gateway.record.checkpoint import Checkpoint, Signer, sign_checkpoint
from gateway.record.merkle import consistency_proof, leaf_hash, root
from gateway.witness import Cosigner, ServerSettings

ORIGIN = "test.invalid/record"
WITNESS_NAME = "witness.test.invalid/w1"


@attrs.define
class Log:
    """A transparency log as a witness sees it: signed checkpoints and consistency proofs."""

    signer: Signer
    leaves: list[bytes] = attrs.field(factory=list)

    def grow(self, n: int) -> int:
        self.leaves += [leaf_hash(os.urandom(16)) for _ in range(n)]
        return len(self.leaves)

    def note(self, size: int | None = None, *, signer: Signer | None = None) -> str:
        size = len(self.leaves) if size is None else size
        return sign_checkpoint(Checkpoint(ORIGIN, size, root(self.leaves[:size])),
                               signer or self.signer)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        return consistency_proof(old, len(self.leaves) if new is None else new, self.leaves)

    def fork(self, keep: int) -> Log:
        """The same log (same key) with its leaves after ``keep`` replaced: a rewritten tail."""
        forked = Log(self.signer, self.leaves[:keep])
        forked.grow(len(self.leaves) - keep)
        return forked


def body(old: int, proof: list[bytes], note: str) -> bytes:
    """An add-checkpoint request body, written out as c2sp.org/tlog-witness shows it."""
    lines = [f"old {old}\n", *(base64.b64encode(p).decode() + "\n" for p in proof), "\n"]
    return ("".join(lines) + note).encode()


@attrs.define
class Witness:
    url: str
    http: aiohttp.ClientSession
    cosigner: Cosigner
    settings: ServerSettings
    runner: web.AppRunner

    async def add(self, old: int, proof: list[bytes], note: str,
                  ) -> tuple[int, str, str]:
        """POST /add-checkpoint: (status, content type, body)."""
        return await self.post(body(old, proof, note))

    async def post(self, data: bytes) -> tuple[int, str, str]:
        async with self.http.post(self.url + "/add-checkpoint", data=data) as resp:
            return resp.status, resp.content_type, await resp.text()


@pytest.fixture
def log() -> Log:
    signer, _ = Signer.generate(ORIGIN)
    return Log(signer)


@pytest.fixture
def cosigner() -> Cosigner:
    return Cosigner.generate(WITNESS_NAME)


async def start_witness(settings: ServerSettings, http: aiohttp.ClientSession) -> Witness:
    runner = web.AppRunner(create_witness_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return Witness(f"http://127.0.0.1:{port}", http, settings.cosigner, settings, runner)


@pytest.fixture
async def witness(tmp_path: Path, log: Log, cosigner: Cosigner) -> AsyncIterator[Witness]:
    settings = ServerSettings(cosigner=cosigner, state=tmp_path / "witness-state.sqlite",
                              host="127.0.0.1", port=0, logs={ORIGIN: (log.signer.verifier(),)})
    async with aiohttp.ClientSession() as http:
        running = await start_witness(settings, http)
        yield running
        await running.runner.cleanup()


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4], as c2sp.org/signed-note defines it."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]
