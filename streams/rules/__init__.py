"""Alert rules: the validated schema of `alert_rules/*.yaml`, its loader and `govpulse rules check`.

`schema` holds the rule models (a discriminated union on `type`),
`conditions` the indicator conditions they share with composite rules,
`events` what event rules may say about a stream, `schedule` opening hours
and working days, `durations` the `90s` / `10m` / `2h` / `1d` notation,
`loader` reads files and folders into a `RuleSet`, and `cli` prints what is
wrong with them.
"""
