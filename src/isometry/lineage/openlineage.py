"""An operation as OpenLineage run events (spec 2-0-2), for lineage tools that speak it
(Marquez, DataHub, OpenMetadata...).

Each operation gives a START event at its start and, once it has ended, a COMPLETE, FAIL or
ABORT event at its end. The job is the template (namespace ``isometry``), the run is the
operation (its id turned into the UUID the spec asks for, the same every time), the inputs are
the source files it read (namespace ``file``) and the output is the branch it wrote, in the
repository's namespace, with the rows it wrote as output statistics; a failed run carries its
error message. Only the spec's standard facets are used; the rest of what an operation says is
in ``isometry ops show`` and its lineage rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from importlib import metadata

from isometry.model import JSON

SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets/1-0-1/"
PRODUCER = f"urn:isometry-etl:{metadata.version('isometry-etl')}"
JOB_NAMESPACE = "isometry"
# Operation ids are short hex strings; the spec wants a UUID for a run.
_RUN_NAMESPACE = uuid.UUID("5c2a4a8e-6c1d-4e0f-9a53-0f6b1c7f2d11")
_END_EVENTS = {
    "succeeded": "COMPLETE",
    "partially-succeeded": "COMPLETE",
    "failed": "FAIL",
    "cancelled": "ABORT",
}


def run_id(op_id: str) -> str:
    return str(uuid.uuid5(_RUN_NAMESPACE, op_id))


def _facet(name: str, **fields: JSON) -> dict[str, JSON]:
    return {"_producer": PRODUCER, "_schemaURL": f"{_FACETS}{name}.json", **fields}


def events(
    op: Mapping[str, JSON], sources: Sequence[str], repository: str
) -> list[dict[str, JSON]]:
    """The run events of one operation (its ``to_json`` form), reading ``sources`` and writing
    into the repository at ``repository``."""
    op_id = str(op["id"])
    job: dict[str, JSON] = {"namespace": JOB_NAMESPACE, "name": str(op["template"]), "facets": {}}
    inputs: list[JSON] = [{"namespace": "file", "name": path, "facets": {}} for path in sources]
    counts = op.get("counts")
    counts = counts if isinstance(counts, Mapping) else {}
    written = int(str(counts.get("inserted", 0))) + int(str(counts.get("updated", 0)))
    output: dict[str, JSON] = {
        "namespace": f"isometry:{repository}",
        "name": str(op.get("branch") or op.get("target") or "main"),
        "facets": {},
        "outputFacets": {"outputStatistics": _facet("OutputStatisticsOutputDatasetFacet",
                                                    rowCount=written)},
    }  # fmt: skip
    own: dict[str, JSON] = {}
    found: list[dict[str, JSON]] = []
    started = op.get("started_at")
    if started:
        found.append(_event("START", str(started), op_id, job, inputs, [], own))
    end = _END_EVENTS.get(str(op.get("state")))
    if end is not None and op.get("finished_at"):
        run_facets = dict(own)
        if end == "FAIL" and op.get("error"):
            run_facets["errorMessage"] = _facet(
                "ErrorMessageRunFacet", message=str(op["error"]), programmingLanguage="python"
            )
        found.append(_event(end, str(op["finished_at"]), op_id, job, inputs, [output], run_facets))
    return found


def _event(
    kind: str,
    time: str,
    op_id: str,
    job: dict[str, JSON],
    inputs: list[JSON],
    outputs: list[JSON],
    facets: Mapping[str, JSON],
) -> dict[str, JSON]:
    return {
        "eventType": kind,
        "eventTime": time,
        "run": {"runId": run_id(op_id), "facets": dict(facets)},
        "job": job,
        "inputs": inputs,
        "outputs": outputs,
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
    }
