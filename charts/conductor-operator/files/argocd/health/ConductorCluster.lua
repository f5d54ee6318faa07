-- Argo CD health of a conductor-operator.io ConductorCluster, read from what the operator writes: the
-- kstatus conditions (Ready, Reconciling, Stalled) and status.observedGeneration.
--   Progressing  the operator has not written this generation's status yet, or Reconciling:
--                Conductor is unreachable for now (the operator retries with backoff)
--   Healthy      Ready: Conductor answered (its version and flavor)
--   Degraded     Stalled: a refused URL or credentials, a server that is not Conductor
-- (after kstatus.lua)
from_conditions(text_of)
return hs
