"""Recordings whose label contradicts every other source, found before training and left out.

Data pooled from several people carries their mistakes: a signer who swapped two folders, or
recorded another sign under a label (4 of the 12 dev signers do, bench/results/handshapes.md).
Trained on, such recordings teach the model the wrong sign for everyone. Quick models trained
leave-sources-out name the (source, label) groups that models which never saw that source take
for one other label; those groups are left out, and the run says which and why. It needs three
or more sources (signer files or MP_DATA folders): with fewer there is no majority to trust.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from services.trainer.data import Dataset
from services.trainer.generalisation import Fitter, Suspect, leave_signers_out

log = logging.getLogger(__name__)

MIN_SOURCES = 3
FOLDS = 3


@dataclass
class AuditResult:
    kept: Dataset
    left_out: list[Suspect]
    note: str  # what the audit did, for the log and data.json

    def to_json(self) -> dict:
        return {"note": self.note, "left_out": [{"source": s.signer, "label": s.label, "looks_like": s.looks_like,
                                                 "count": s.count, "total": s.total} for s in self.left_out]}


def audit_labels(data: Dataset, options, fitter: Fitter) -> AuditResult:
    """`data` without the groups whose recordings look like another label to models that never saw them,
    as `fitter`'s quick models (trained leave-sources-out, seed `options.seed`) judge them."""
    sources = sorted(set(data.groups.tolist()))
    if len(sources) < MIN_SOURCES:
        return AuditResult(data, [], f"not audited: {len(sources)} source(s), the audit needs {MIN_SOURCES} or more")
    sources_of = {label: set(data.groups[data.y == label].tolist()) for label in data.labels}
    for label, recorded_by in sources_of.items():
        if len(recorded_by) < 2:
            return AuditResult(data, [], f"not audited: only {', '.join(recorded_by)} recorded {label!r}")
    try:
        report = leave_signers_out(data, fitter, n_folds=min(FOLDS, len(sources)), seeds=[options.seed])
    except ValueError as e:  # a fold's training sources lack a label
        return AuditResult(data, [], f"not audited: {e}")
    suspects = report.mislabelled()
    left_out = []
    for label, recorded_by in sources_of.items():
        flagged = [s for s in suspects if s.label == label]
        if len(flagged) * 2 >= len(recorded_by):
            # Half the people cannot all be wrong: the quick models failed to learn this sign.
            log.warning("audit: %d of %d sources' %r recordings look like another sign; keeping them all",
                        len(flagged), len(recorded_by), label)
            continue
        left_out.extend(flagged)
    drop = np.zeros(len(data.y), dtype=bool)
    for s in left_out:
        drop |= (data.groups == s.signer) & (data.y == s.label)
    note = (f"audited {len(sources)} sources: left out {int(drop.sum())} of {len(data.y)} sequences"
            if left_out else f"audited {len(sources)} sources: every label agrees with the others")
    return AuditResult(data.subset(~drop), left_out, note)
