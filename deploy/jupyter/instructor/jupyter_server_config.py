"""Instructors' and TAs' servers on the course hub: what they write in the shared course folder is theirs and
the staff group's (umask 007; the folder is setgid to the staff group, see deploy/run_hub.sh), so that a TA
can update what an instructor made (the gradebook, feedback) and the other way round; nobody else can read it.
"""

import os

os.umask(0o007)
