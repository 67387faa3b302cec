#!/usr/bin/env bash
# Start the course's JupyterHub on this machine (what `make hub` runs). Needs root: each user's server runs
# as that Linux user. Builds or reuses the users' environment (deploy/hub_env.py), prepares the exchange
# (root-owned root, the course folder owned by the first instructor, group COURSE_HUB_STAFF_GROUP), then
# runs jupyterhub in the foreground on loopback (COURSE_HUB_IP/COURSE_HUB_PORT, default 127.0.0.1:8000).
# Settings: see the table at the top of deploy/jupyterhub_config.py. Stop it with Ctrl-C.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
if [ "$(id -u)" != 0 ]; then
  echo "run_hub.sh: needs root (LocalProcessSpawner starts each user's server as that user)" >&2
  exit 1
fi
export COURSE_HUB_PREFIX="${COURSE_HUB_PREFIX:-/opt/course-hub}"
export COURSE_HUB_STATE="${COURSE_HUB_STATE:-/srv/course-hub}"
export COURSE_EXCHANGE="${COURSE_EXCHANGE:-/srv/nbgrader/exchange}"
export COURSE_HUB_INSTRUCTORS="${COURSE_HUB_INSTRUCTORS:-instructor}"
staff_group="${COURSE_HUB_STAFF_GROUP:-course-staff}"
/usr/bin/python3.11 "$here/hub_env.py" --prefix "$COURSE_HUB_PREFIX" >/dev/null

course_id="$(/usr/bin/python3.11 - "$root/nbgrader_config.py" <<'PY'
import ast, sys
for node in ast.walk(ast.parse(open(sys.argv[1]).read())):
    if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "c.CourseDirectory.course_id":
        print(ast.literal_eval(node.value))
PY
)"
course_id="${COURSE_ID:-$course_id}"
instructor="${COURSE_HUB_INSTRUCTORS%%,*}"
install -d -m 0700 "$COURSE_HUB_STATE"
install -d -m 0755 -o root -g root "$COURSE_EXCHANGE"
if id "$instructor" >/dev/null 2>&1; then
  getent group "$staff_group" >/dev/null || groupadd "$staff_group"
  IFS=, read -ra staff <<<"$COURSE_HUB_INSTRUCTORS"
  for u in "${staff[@]}"; do id "$u" >/dev/null 2>&1 && usermod -aG "$staff_group" "$u"; done
  install -d -m 2755 -o "$instructor" -g "$staff_group" "$COURSE_EXCHANGE/$course_id"
  # the course folder every instructor and TA shares (one gradebook): the staff group's, nobody else's
  course_dir="${COURSE_HUB_COURSE_DIR:-/srv/nbgrader/courses/$course_id}"
  export COURSE_HUB_COURSE_DIR="$course_dir"
  install -d -m 0755 -o root -g root "$(dirname "$course_dir")"
  install -d -m 2770 -o "$instructor" -g "$staff_group" "$course_dir"
  [ -e "$course_dir/nbgrader_config.py" ] || echo "run_hub.sh: copy nbgrader_config.py and solutions/ into $course_dir (group $staff_group)" >&2
else
  echo "run_hub.sh: warning: instructor account '$instructor' does not exist; create it (useradd -m -K HOME_MODE=0700)" >&2
fi
cd "$COURSE_HUB_STATE"
echo "JupyterHub for course '$course_id' on http://${COURSE_HUB_IP:-127.0.0.1}:${COURSE_HUB_PORT:-8000}" >&2
exec "$COURSE_HUB_PREFIX/venv/bin/jupyterhub" -f "$here/jupyterhub_config.py"
