-- Let a paused MigrationPlan go on, as `kubectl conductor resume` does.
obj.spec.paused = false
return obj
