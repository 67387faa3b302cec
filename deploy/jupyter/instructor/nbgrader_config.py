"""nbgrader settings for an instructor's server on the course hub (JUPYTER_CONFIG_PATH set by jupyterhub_config.py).

The course lives in ``~/course`` (its own nbgrader_config.py: folders, gradebook, the grading sandbox).
"""

import os

c = get_config()  # noqa: F821
COURSE = os.path.expanduser(os.environ.get("COURSE_DIR", "~/course"))
if os.path.isfile(os.path.join(COURSE, "nbgrader_config.py")):
    load_subconfig(os.path.join(COURSE, "nbgrader_config.py"))  # noqa: F821
c.CourseDirectory.root = COURSE
c.CourseDirectory.course_id = os.environ["COURSE_ID"]
c.CourseDirectory.groupshared = True
c.Exchange.root = os.environ["COURSE_EXCHANGE"]
c.ExchangeFactory.collect = "course_exchange.OwnerCheckedCollect"
c.ExchangeFactory.release_feedback = "course_exchange.NamedReleaseFeedback"
