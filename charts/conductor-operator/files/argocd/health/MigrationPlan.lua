-- Argo CD health of a conductor-operator.io MigrationPlan, read from what the operator writes:
-- the kstatus conditions (Ready, Reconciling, Stalled), the phase and status.observedGeneration.
-- It runs in Argo CD's Lua sandbox: no string or math library (useOpenLibs stays false).
--   Progressing  the operator has not written this generation's status yet; or the plan is at work
--                (Reconciling: validating, gating, cutting over, moving, draining with
--                healthyWhen: Completed, retiring, rolling back)
--   Healthy      Ready: accepted (healthyWhen: Accepted, the target registered, a drain may go on
--                for days), Completed, or a dry run's report (DryRun)
--   Suspended    held by spec.paused (or by spec.dryRun set after the cutover): Ready's reason is Paused
--   Degraded     Stalled (a failed gate, a failed health gate, a conflicting plan, an abort, a
--                rollback, bad input) or the phase Failed
local hs = {}

local function condition(conditionType)
  if obj.status ~= nil and obj.status.conditions ~= nil then
    for _, c in ipairs(obj.status.conditions) do
      if c.type == conditionType then
        return c
      end
    end
  end
  return nil
end

local function describe(c)
  local phase = obj.status.phase
  local text = c.message
  if text == nil or text == "" then
    text = c.reason or ""
  end
  if phase ~= nil and phase ~= "" then
    return phase .. ": " .. text
  end
  return text
end

local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if observed == nil or observed < 0 then
  hs.status = "Progressing"
  hs.message = "waiting for conductor-operator to write the status"
  return hs
end
if obj.metadata.generation ~= nil and observed < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "waiting for conductor-operator to observe generation " .. tostring(obj.metadata.generation)
  return hs
end

local ready = condition("Ready")
local reconciling = condition("Reconciling")
local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
elseif obj.status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = "Failed: " .. (obj.status.message or "")
elseif ready ~= nil and ready.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = describe(ready)
elseif reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  local warning = condition("Warning")
  if warning ~= nil and warning.status == "True" and warning.message ~= nil and warning.message ~= "" then
    hs.message = hs.message .. " (warning: " .. warning.message .. ")"
  end
elseif ready ~= nil then
  hs.status = "Progressing"
  hs.message = describe(ready)
else
  hs.status = "Progressing"
  hs.message = "waiting for conductor-operator to write the conditions"
end
return hs
