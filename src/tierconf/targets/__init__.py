"""Delivery targets: where a tier's rendered configuration is deployed, and drift.

``open_target(url, scope, options)`` picks the implementation; each satisfies
:class:`DeployTarget` (``plan`` pure, ``apply``, ``read_live``)::

    DeployTarget (Protocol)
    ├── InMemoryTarget     the twin for tests, nothing persisted
    ├── DirectoryTarget    dir:PATH, a GitOps tree for kubectl apply -k / Argo CD
    └── KubernetesTarget   kubernetes, server-side apply (extra ``kubernetes``)

Planning and drift are pure functions over frozen data (:func:`compute_plan`,
:func:`drift_report`); targets only read live state and carry plans out. :func:`deploy`
and :func:`drift` are the delivery stage as library calls (what the CLI runs).
"""

from ._deliver import DeployOptions, DeployOutcome, DriftOptions, deploy, drift, scope_for
from ._memory import InMemoryTarget
from ._plan import (
    APPLY_ORDER,
    DriftItem,
    DriftReport,
    PlanRules,
    compute_plan,
    diff_keys,
    drift_report,
    format_plan,
    plan_json,
    shown,
)
from ._protocol import (
    FIELD_MANAGER,
    ROLLOUT_ANNOTATION,
    Action,
    ApplyConflictError,
    ApplyResult,
    Change,
    DeployTarget,
    DesiredState,
    KeyChange,
    LiveState,
    ObjectChange,
    ObjectState,
    Plan,
    Retained,
    Scope,
    TargetOptions,
    WorkloadState,
)
from ._state import desired_from_rendered, desired_from_revision, rollout_checksum, state_of
from ._url import open_target

__all__ = [
    "APPLY_ORDER",
    "FIELD_MANAGER",
    "ROLLOUT_ANNOTATION",
    "Action",
    "ApplyConflictError",
    "ApplyResult",
    "Change",
    "DeployOptions",
    "DeployOutcome",
    "DeployTarget",
    "DesiredState",
    "DriftItem",
    "DriftOptions",
    "DriftReport",
    "InMemoryTarget",
    "KeyChange",
    "LiveState",
    "ObjectChange",
    "ObjectState",
    "Plan",
    "PlanRules",
    "Retained",
    "Scope",
    "TargetOptions",
    "WorkloadState",
    "compute_plan",
    "deploy",
    "desired_from_rendered",
    "desired_from_revision",
    "diff_keys",
    "drift",
    "drift_report",
    "format_plan",
    "open_target",
    "plan_json",
    "rollout_checksum",
    "scope_for",
    "shown",
    "state_of",
]
