-- Stop the migration where it is,
-- as `kubectl conductor abort` does: a new token in spec.requests.abort. The operator acts on each new
-- token once and records it in status.handledRequests.abort. The token is the UTC time, as the plugin
-- writes it, then the object's resourceVersion in place of the plugin's random part (the sandbox has no
-- math library), so two requests within a second still differ: like each run of the plugin, each run
-- of the action asks again.
local os = require("os")
if obj.spec.requests == nil then
  obj.spec.requests = {}
end
obj.spec.requests.abort = os.date("!%Y%m%dT%H%M%SZ") .. "-argocd-" .. tostring(obj.metadata.resourceVersion)
return obj
