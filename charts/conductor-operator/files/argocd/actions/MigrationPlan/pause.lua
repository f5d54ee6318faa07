-- Hold the MigrationPlan where it is, as `kubectl conductor pause` does.
obj.spec.paused = true
return obj
