"""nbgrader settings for a student's server on the course hub (JUPYTER_CONFIG_PATH set by jupyterhub_config.py)."""

import os

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = os.environ["COURSE_ID"]
c.Exchange.root = os.environ["COURSE_EXCHANGE"]
c.Exchange.assignment_dir = os.path.expanduser("~")
c.ExchangeFactory.submit = "course_exchange.OwnedSubmit"
# The exchange root is root's and not world-writable (deploy/README.md): without groupshared nbgrader
# insists on writing to it.
c.CourseDirectory.groupshared = True
