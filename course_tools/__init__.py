"""The instructor's tools for "Convolutional Networks for Object Recognition" (not for students).

Students get ``course_utils`` (what they read and call); this package grades, sandboxes and measures, and
depends on ``course_utils``, never the other way round.

- ``course_tools.grading``   nbgrader glue: release, autograde (``make grade``), hidden tests' judge, feedback
- ``course_tools.sandbox``   the bubblewrap grading kernel and its whole-kernel limits
- ``course_tools.bench``     benchmarks that print speed ratios and latencies side by side (``make bench``)
"""
