"""Everything wsgiscope prints goes through this package.

``render.text`` makes strings from apps and requests safe to show (control
characters escaped, length capped) and ``render.jsonout`` writes machine
output; neither imports rich. The rich renderables live in the other modules
and are imported only by the commands that draw them.
"""
