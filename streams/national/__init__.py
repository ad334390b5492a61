"""The national-platform 好差评 upload: the period's evaluations and case steps, their quality checks, their files."""
