-- The Argo CD resource actions of a conductor-operator.io MigrationPlan: the same changes as
-- `kubectl conductor pause|resume|promote|abort|rollback`. An action is offered (not disabled)
-- only where the operator would act on it; in other states the operator records the request in
-- status.handledRequests as "nothing to ..." and changes nothing. A request the plan cannot look at yet
-- (its target WorkflowDefinition missing, an older plan at work on the workflow) waits in spec until it can.
local actions = {}
local phase = nil
local waves = nil
local cutOver = false
if obj.status ~= nil then
  phase = obj.status.phase
  waves = obj.status.waves
  cutOver = obj.status.cutoverAt ~= nil
end
local paused = obj.spec.paused == true
local ended = phase == "Completed" or phase == "Aborted" or phase == "RolledBack" or phase == "Failed"
local rollingBack = phase == "RollingBack" or phase == "RolledBack"

-- promote: past a wave's pause, a failed health gate or a wave that selected nothing; in a drain,
-- cut over before the old versions finished.
local promotable = false
if phase == "Moving" and waves ~= nil then
  promotable = waves.state == "Waiting" or waves.state == "GateFailed" or waves.state == "Held"
elseif phase == "Draining" and obj.spec.strategy ~= nil and obj.spec.strategy.drain ~= nil then
  promotable = not cutOver
end

-- rollback: after the cutover, unless the newest version moved from was retired (nothing to roll back to).
local rollbackable = cutOver and not rollingBack
if rollbackable and obj.status.verdict ~= nil and obj.status.verdict.fromVersions ~= nil then
  local newest = nil
  for _, version in ipairs(obj.status.verdict.fromVersions) do
    if newest == nil or version > newest then
      newest = version
    end
  end
  for _, version in ipairs(obj.status.retiredVersions or {}) do
    if version == newest then
      rollbackable = false
    end
  end
end

actions["pause"] = {["disabled"] = paused or ended or rollingBack, ["iconClass"] = "fa fa-fw fa-pause-circle",
                    ["displayName"] = "Pause (spec.paused: true)"}
actions["resume"] = {["disabled"] = not paused, ["iconClass"] = "fa fa-fw fa-play-circle",
                     ["displayName"] = "Resume (spec.paused: false)"}
actions["promote"] = {["disabled"] = paused or not promotable, ["iconClass"] = "fa fa-fw fa-forward",
                      ["displayName"] = "Promote (spec.requests.promote)"}
-- abort: while the plan is at work; a request on a plan the operator has not yet written a phase for
-- is recorded but not acted on.
actions["abort"] = {["disabled"] = phase == nil or ended or rollingBack, ["iconClass"] = "fa fa-fw fa-stop-circle",
                    ["displayName"] = "Abort (spec.requests.abort)"}
actions["rollback"] = {["disabled"] = not rollbackable, ["iconClass"] = "fa fa-fw fa-undo",
                       ["displayName"] = "Roll back (spec.requests.rollback)"}
return actions
