-- Argo CD health of operator.lynq.sh/LynqNode, read from the conditions that the lynq-bridge
-- status reporter writes in kstatus' vocabulary (the same ones Flux and `kubectl wait` read):
--   status.observedGeneration behind metadata.generation -> Progressing (not evaluated yet)
--   Stalled=True                                        -> Degraded (failed or conflicted)
--   Reconciling=True                                    -> Progressing (resources not ready)
--   Ready=True                                          -> Healthy
--   anything else (no status yet, Ready=False/Unknown)  -> Progressing
-- Embedded in argocd-cm.yaml as resource.customizations.health.operator.lynq.sh_LynqNode;
-- tests/unit/test_argocd_health.py runs this file in a real Lua runtime.
local hs = {}
if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the status reporter to evaluate the node"
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the status reporter to evaluate generation " .. generation
  return hs
end
local ready, reconciling, stalled
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    elseif condition.type == "Reconciling" then
      reconciling = condition
    elseif condition.type == "Stalled" then
      stalled = condition
    end
  end
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or stalled.reason or "Stalled"
elseif reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = reconciling.message or reconciling.reason or "Reconciling"
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ready.reason or "Ready"
else
  hs.status = "Progressing"
  if ready ~= nil then
    hs.message = ready.message or ready.reason or "Not ready"
  else
    hs.message = "Waiting for the status reporter to evaluate the node"
  end
end
return hs
