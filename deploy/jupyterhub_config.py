"""JupyterHub for the course on one server: ``jupyterhub -f deploy/jupyterhub_config.py`` (``make hub``).

Run as root (each user's server runs as that Linux user: LocalProcessSpawner). Settings come from the
environment so that ``deploy/run_hub.sh``, the end-to-end test and a real deployment share this file:

| variable | default | meaning |
|---|---|---|
| COURSE_HUB_PREFIX | /opt/course-hub | environment built by ``deploy/hub_env.py`` (users' Python, proxy) |
| COURSE_HUB_STATE | /srv/course-hub | hub database, cookie secret, pid files (root only) |
| COURSE_HUB_IP / COURSE_HUB_PORT | 127.0.0.1 / 8000 | public address (loopback: put TLS in front) |
| COURSE_HUB_API_PORT | PORT+1 (hub), PORT+2 (proxy API) | internal ports, always loopback |
| COURSE_HUB_INSTRUCTORS | instructor | comma-separated Linux users who get the formgrader (instructors and TAs) |
| COURSE_HUB_STUDENTS | (empty) | comma-separated Linux users allowed to log in as students |
| COURSE_HUB_ADMINS | (empty) | hub administrators (may act on every server: keep short) |
| COURSE_EXCHANGE | /srv/nbgrader/exchange | nbgrader exchange root (see deploy/README.md for its modes) |
| COURSE_HUB_COURSE_DIR | /srv/nbgrader/courses/ID | course folder all instructors and TAs share (one gradebook) |
| COURSE_HUB_SERVICE_TOKEN | (unset) | if set, a "course-admin" service with this token may manage users/servers |

Students see the assignment list and course list; instructors also see the formgrader. The course id is
read from the course's nbgrader_config.py.
"""

import ast
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
env = os.environ.get

PREFIX = env("COURSE_HUB_PREFIX", "/opt/course-hub")
STATE = env("COURSE_HUB_STATE", "/srv/course-hub")
EXCHANGE = env("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
IP = env("COURSE_HUB_IP", "127.0.0.1")
PORT = int(env("COURSE_HUB_PORT", "8000"))
API_PORT = int(env("COURSE_HUB_API_PORT", str(PORT + 1)))


def _names(var, default=""):
    return sorted({n.strip() for n in env(var, default).split(",") if n.strip()})


def course_id(config_file=None):
    """The ``c.CourseDirectory.course_id = "..."`` string of the course's nbgrader_config.py."""
    config_file = config_file or os.path.join(ROOT, "nbgrader_config.py")
    for node in ast.walk(ast.parse(open(config_file).read())):
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "c.CourseDirectory.course_id":
            return ast.literal_eval(node.value)
    raise ValueError(f"{config_file}: no c.CourseDirectory.course_id assignment")


INSTRUCTORS = _names("COURSE_HUB_INSTRUCTORS", "instructor")
STUDENTS = _names("COURSE_HUB_STUDENTS")
ADMINS = _names("COURSE_HUB_ADMINS")
COURSE_ID = env("COURSE_ID") or course_id()
COURSE_DIR = env("COURSE_HUB_COURSE_DIR") or f"/srv/nbgrader/courses/{COURSE_ID}"

c = get_config()  # noqa: F821

# Network: everything on loopback; the public port is the proxy's.
c.JupyterHub.ip = IP
c.JupyterHub.port = PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = API_PORT
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{API_PORT + 1}"
c.ConfigurableHTTPProxy.command = [os.path.join(PREFIX, "node_modules", ".bin", "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = os.path.join(STATE, "proxy.pid")

# State, root only.
c.JupyterHub.db_url = "sqlite:///" + os.path.join(STATE, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(STATE, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(STATE, "jupyterhub.pid")

# Users: PAM (Linux accounts); only the roster may log in.
c.Authenticator.allowed_users = set(INSTRUCTORS + STUDENTS)
c.Authenticator.admin_users = set(ADMINS)
c.JupyterHub.load_groups = {"instructors": {"users": INSTRUCTORS}, "students": {"users": STUDENTS}}

# Each user's server runs as that user, with the course's environment.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(PREFIX, "venv", "bin", "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
c.Spawner.environment = {
    "PATH": os.pathsep.join([os.path.join(PREFIX, "venv", "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
    "COURSE_ID": COURSE_ID,
    "COURSE_EXCHANGE": EXCHANGE,
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}


def _per_role(spawner):
    """Instructors and TAs get the formgrader and the shared course folder; students get neither."""
    role = "instructor" if spawner.user.name in INSTRUCTORS else "student"
    spawner.environment["JUPYTER_CONFIG_PATH"] = os.path.join(PREFIX, "etc", role)
    spawner.environment["COURSE_ROLE"] = role
    if role == "instructor":
        spawner.environment["COURSE_DIR"] = COURSE_DIR


c.Spawner.pre_spawn_hook = _per_role

# An optional service (used by tests/test_hub_e2e.py, or a course's own automation).
if env("COURSE_HUB_SERVICE_TOKEN"):
    c.JupyterHub.services = [{"name": "course-admin", "api_token": env("COURSE_HUB_SERVICE_TOKEN")}]
    c.JupyterHub.load_roles = [{
        "name": "course-admin",
        "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users"],
        "services": ["course-admin"],
    }]
