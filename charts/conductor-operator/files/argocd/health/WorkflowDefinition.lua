-- Argo CD health of a conductor-operator.io WorkflowDefinition, read from what the operator writes: the
-- kstatus conditions (Ready, Reconciling, Stalled) and status.observedGeneration.
--   Progressing  the operator has not written this generation's status yet, or Reconciling:
--                registering, Conductor unavailable (the last good conditions stay), held
--                until a MigrationPlan releases it (spec.activation: ByMigrationPlan), a
--                deletion waiting for running executions (spec.policy.onDelete: Delete)
--   Healthy      Ready: registered and in sync, drift repaired or reported (onDrift: Report), retired by a
--                MigrationPlan; a standing Warning is added to the message
--   Degraded     Stalled: an invalid definition, Conductor refused it, an in-place change refused, a missing
--                ConductorCluster
-- (after kstatus.lua)
from_conditions(text_of)
-- Being deleted: say what the deletion waits for (running executions, pinned references) instead of
-- Argo CD's "Pending deletion; blocked by finalizers".
if obj.metadata.deletionTimestamp ~= nil and reconciling ~= nil and reconciling.status == "True" then
  hs.deletionMessage = text_of(reconciling)
end
return hs
