"""nbgrader settings for an instructor's server on the course hub (JUPYTER_CONFIG_PATH set by jupyterhub_config.py).

The course lives in ``$COURSE_DIR`` (set by the hub: one folder, and one gradebook, that every instructor and TA
of the course shares; ``~/course`` without the hub), with its own nbgrader_config.py (folders, gradebook, the
grading sandbox). The formgrader only works on a course inside the server's root folder (the home), so a
shared folder elsewhere is reached through a link in the home: ``~/course`` (or ``~/course-COURSE_ID`` when
``~/course`` is something else).
"""

import os

c = get_config()  # noqa: F821


def _in_home(course):
    home = os.path.expanduser("~")
    if os.path.realpath(course).startswith(os.path.realpath(home) + os.sep):
        return course
    for link in (os.path.join(home, "course"), os.path.join(home, f"course-{os.environ['COURSE_ID']}")):
        if os.path.islink(link) and os.readlink(link) == course:
            return link
        if not os.path.lexists(link):
            os.symlink(course, link)
            return link
    raise RuntimeError(f"cannot link the shared course folder {course} into {home}: ~/course and "
                       f"~/course-{os.environ['COURSE_ID']} are taken")


COURSE = _in_home(os.path.expanduser(os.environ.get("COURSE_DIR", "~/course")))
if os.path.isfile(os.path.join(COURSE, "nbgrader_config.py")):
    load_subconfig(os.path.join(COURSE, "nbgrader_config.py"))  # noqa: F821
c.CourseDirectory.root = COURSE
c.CourseDirectory.course_id = os.environ["COURSE_ID"]
c.CourseDirectory.groupshared = True
c.Exchange.root = os.environ["COURSE_EXCHANGE"]
c.ExchangeFactory.collect = "course_exchange.OwnerCheckedCollect"
c.ExchangeFactory.release_feedback = "course_exchange.NamedReleaseFeedback"
