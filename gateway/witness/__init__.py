"""Witnesses (c2sp.org/tlog-witness, tlog-cosignature, tlog-policy): a standalone witness that
cosigns the record's checkpoints only when each is consistent with the last one it saw (its
cosignatures, ``cosignature``; the state it keeps per log, ``state``; its HTTP API is
``gateway.http.witness_api``), and the gateway's side that submits every new checkpoint to the
configured witnesses (``client``, ``submitter``, the quorum in ``policy``) and keeps their
cosignatures with it. ``settings``: both sides' settings."""

from gateway.witness.cosignature import Cosigner as Cosigner
from gateway.witness.cosignature import CosignerKey as CosignerKey
from gateway.witness.policy import WitnessPolicy as WitnessPolicy
from gateway.witness.policy import WitnessRef as WitnessRef
from gateway.witness.settings import ServerSettings as ServerSettings
from gateway.witness.settings import Witnessing as Witnessing
from gateway.witness.settings import witnessing_from as witnessing_from
from gateway.witness.submitter import WitnessSubmitter as WitnessSubmitter
from gateway.witness.submitter import witnessing as witnessing

__all__ = [
    "Cosigner",
    "CosignerKey",
    "ServerSettings",
    "WitnessPolicy",
    "WitnessRef",
    "WitnessSubmitter",
    "Witnessing",
    "witnessing",
    "witnessing_from",
]
