"""Statistics reports (统计报表) of a period: indicator tables per level, rankings, changes and top alerts."""
