-- The part every conductor-operator.io health check shares: `python -m testenv.argocd` puts it before each
-- kind's own script (health/<Kind>.lua) in argocd-cm. It reads what the operator writes: the kstatus
-- conditions (Ready, Reconciling, Stalled) and status.observedGeneration, and runs in Argo CD's Lua sandbox:
-- no string or math library (useOpenLibs stays false).
--   Progressing  the operator has not written this generation's status yet (a new object has the CRD's
--                default, observedGeneration -1), or Reconciling
--   Healthy      Ready; a standing Warning condition is added to the message
--   Degraded     Stalled
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

local function text_of(c)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return c.reason or ""
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

-- The kstatus reading of the conditions, each worded by describe(condition).
local function from_conditions(describe)
  if stalled ~= nil and stalled.status == "True" then
    hs.status = "Degraded"
    hs.message = describe(stalled)
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
end
