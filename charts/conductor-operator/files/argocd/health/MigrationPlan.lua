-- Argo CD health of a conductor-operator.io MigrationPlan, read from what the operator writes:
-- the kstatus conditions (Ready, Reconciling, Stalled), the phase and status.observedGeneration.
--   Progressing  the operator has not written this generation's status yet; or the plan is at work
--                (Reconciling: validating, gating, cutting over, moving, draining with
--                healthyWhen: Completed, retiring, rolling back)
--   Healthy      Ready: accepted (healthyWhen: Accepted, the target registered, a drain may go on
--                for days), Completed, or a dry run's report (DryRun)
--   Suspended    held by spec.paused (or by spec.dryRun set after the cutover): Ready's reason is Paused
--   Degraded     Stalled (a failed gate, a failed health gate, a conflicting plan, an abort, a
--                rollback, bad input) or the phase Failed
-- (after kstatus.lua) A plan's message starts with its phase.
local function with_phase(c)
  local phase = obj.status.phase
  if phase ~= nil and phase ~= "" then
    return phase .. ": " .. text_of(c)
  end
  return text_of(c)
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = with_phase(stalled)
elseif obj.status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = "Failed: " .. (obj.status.message or "")
elseif ready ~= nil and ready.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = with_phase(ready)
else
  from_conditions(with_phase)
end
return hs
