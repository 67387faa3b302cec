"""Offline data for the course: nothing here downloads anything.

- ``course_utils.data.shapes``  synthetic shapes (registered or translated, optional clutter): ``make_shapes``
- ``course_utils.data.digits``  scikit-learn's 1,797 8x8 digits as NCHW arrays: ``load_digits_arrays``
- ``course_utils.data.photos``  real photos bundled with scikit-image / scikit-learn: ``load_photo``
"""
