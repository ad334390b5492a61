"""Alert rules: the validated schema of `alert_rules/*.yaml`, its loader, and the evaluators built from it.

`schema` maps every rule type's name to its config model and the factory of
its evaluator (`RULE_TYPES`), and holds the model of one file; the configs
are `rule_config` (what every rule has), `indicator_configs` and
`event_configs`; `conditions` the indicator conditions they share with
composite rules, `events` what event rules may say about a stream,
`schedule` opening hours and working days, `durations` the `90s` / `10m` /
`2h` / `1d` notation. `loader` reads files and folders into a `RuleSet`,
`build` turns one into evaluators (`evaluators` says what the runner needs
of them: `event_rules`, `indicator_rules`, `spike_rules`, `composite_rules`,
`deadline_rules`), and `runner` runs them.
"""
