"""Indicator values entered by hand (e.g. 现场检查得分) and uploaded as CSV or XLSX, per entity and period.

`reading` turns a file into rows of cells, `checks` accepts or refuses each row
with its line and reason, `upload` decides what is stored (all or nothing unless
asked for partial), `history` tells the current value from the ones it superseded.
"""
