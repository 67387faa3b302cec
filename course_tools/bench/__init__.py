"""Benchmarks (``make bench``): each prints figures measured side by side in one run, never asserts a time.

- ``reference``    the NumPy reference layers against torch (``python -m course_tools.bench.reference``)
- ``widgets``      widget redraw latencies in Python
- ``browser``      widget redraw latencies in JupyterLab in Chromium (also the e2e tests' LabServer harness)
- ``torch_track``  the PyTorch track's training throughput
- ``grading``      autograding time per submission and for a class
"""
