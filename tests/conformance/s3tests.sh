#!/usr/bin/env bash
# Run Ceph's s3-tests (core mode) against a fresh Chronicle server started from
# the checkout this script lives in, on a fresh PostgreSQL database.
#
#   tests/conformance/s3tests.sh issue2|issue3 [-- extra pytest args]
#
# Wrap it in the shared bench lock:  flock /work/bench.lock tests/conformance/s3tests.sh issue3
#
# Configurations:
#   issue2  main = Chronicle's root; alt = IAM user s3taltuser (s3:CreateBucket,
#           s3:ListAllMyBuckets only)
#   issue3  main = IAM user s3tmainuser allowed "*"; alt = s3taltuser as above;
#           s3-tests' [iam root] = Chronicle's root (account id 000000000000)
#
# Environment knobs (all optional):
#   S3T_SUITE           s3-tests checkout                     (~/s3-tests)
#   S3T_VENV            venv with the suite's requirements     (~/s3t-venv)
#   CONFORMANCE_RUN_SH  the yardstick's run.sh  (<repo>/../shared/conformance/run.sh)
#   S3T_OUT             output dir              (/work/conform-runs/<utc>-<cfg>)
#   CHRONICLE_PYTHON    python with Chronicle's dependencies   (python3)
#   PGHOST / PGPORT / PGUSER  PostgreSQL to create the database on (127.0.0.1 / 5432 / root)
#   Other S3T_* knobs (S3T_MODE, S3T_TIMEOUT, ...) pass through to run.sh.
#
# Output dir: run.sh's junit.xml, pytest.log, summary.txt/json, plus server.log
# and server-log-check.txt (500 / traceback counts). Secrets are never printed.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 2; }

[ $# -ge 1 ] || usage
CFG=$1; shift
case "$CFG" in issue2|issue3) ;; -h|--help) usage ;; *) echo "s3tests.sh: config must be issue2 or issue3" >&2; usage ;; esac
EXTRA=()
if [ $# -gt 0 ]; then
  [ "$1" = "--" ] || usage
  shift; EXTRA=("$@")
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUITE=${S3T_SUITE:-$HOME/s3-tests}
VENV=${S3T_VENV:-$HOME/s3t-venv}
RUN_SH=${CONFORMANCE_RUN_SH:-$REPO/../shared/conformance/run.sh}
PY=${CHRONICLE_PYTHON:-python3}
VPY=$VENV/bin/python
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-root}

[ -f "$RUN_SH" ] || { echo "s3tests.sh: no run.sh at $RUN_SH (set CONFORMANCE_RUN_SH)" >&2; exit 2; }
[ -x "$VPY" ] || { echo "s3tests.sh: no venv at $VENV (see tests/conformance/README.md)" >&2; exit 2; }
[ -f "$SUITE/s3tests/functional/test_s3.py" ] || { echo "s3tests.sh: no s3-tests at $SUITE (see tests/conformance/README.md)" >&2; exit 2; }

OUT=${S3T_OUT:-/work/conform-runs/$(date -u +%Y%m%dT%H%M%SZ)-$CFG}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/chronicle-s3t.XXXXXX")
SERVER_PID=""
DB="chronicle_conf_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DB_CREATED=0

cleanup() {
  local rc=$?
  set +e
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -9 "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null
  fi
  [ "$DB_CREATED" = 1 ] && dropdb --if-exists "$DB"
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "s3tests.sh: $*" >&2; }

# --- a per-run copy of the yardstick (run.sh + summarize.py + s3tests_plugin.py)
cp -r "$(dirname "$RUN_SH")" "$TMP/conformance"
RUN="$TMP/conformance/$(basename "$RUN_SH")"
if [ "$CFG" = issue3 ]; then
  # [iam root] is Chronicle's root, whose account id is 000000000000
  sed -i 's/^user_id = RGW11111111111111111$/user_id = 000000000000/' "$RUN"
  grep -q '^user_id = 000000000000$' "$RUN" || { log "could not set the [iam root] user_id in run.sh"; exit 2; }
fi

# --- fresh server
PORT=$("$VPY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ENDPOINT=http://127.0.0.1:$PORT
rnd() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
export CHRONICLE_ROOT_USER=s3troot
CHRONICLE_ROOT_PASSWORD=$(rnd 20)
CHRONICLE_MASTER_KEY=$(rnd 32)
export CHRONICLE_ROOT_PASSWORD CHRONICLE_MASTER_KEY
export CHRONICLE_DATABASE_URL="postgresql://$PGUSER@$PGHOST:$PGPORT/$DB"
export CHRONICLE_ADMIN_ENDPOINT=$ENDPOINT
export PYTHONPATH=$REPO

createdb "$DB"; DB_CREATED=1
log "database $DB, server $ENDPOINT from $REPO ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
(cd "$REPO" && "$PY" -m cli.main migrate --data-dir "$TMP/data") > "$OUT/server.log" 2>&1
(cd "$REPO" && exec "$PY" -m cli.main serve --address "127.0.0.1:$PORT" --data-dir "$TMP/data") >> "$OUT/server.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 1 120); do
  kill -0 "$SERVER_PID" 2>/dev/null || { log "server exited; see $OUT/server.log"; tail -n 20 "$OUT/server.log" >&2; exit 1; }
  curl -fsS -o /dev/null "$ENDPOINT/minio/health/ready" 2>/dev/null && break
  [ "$i" = 120 ] && { log "server not ready after 60 s"; exit 1; }
  sleep 0.5
done

# --- users (secrets go through the environment and files under $TMP, never to the logs)
admin() { (cd "$REPO" && "$PY" -m cli.main admin --json "$@"); }
new_user() {  # NAME POLICY-NAME POLICY-JSON -> prints the generated secret
  local name=$1 pname=$2 doc=$3
  printf '%s\n' "$doc" > "$TMP/$pname.json"
  admin user add "$name" > "$TMP/$name.json"
  admin policy add "$pname" "$TMP/$pname.json" > /dev/null
  admin policy attach "$pname" --user "$name" > /dev/null
  "$VPY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["secretKey"])' "$TMP/$name.json"
}
ALT_AK=s3taltuser
ALT_SK=$(new_user "$ALT_AK" s3t-create-list \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:CreateBucket","s3:ListAllMyBuckets"],"Resource":"arn:aws:s3:::*"}]}')
if [ "$CFG" = issue3 ]; then
  MAIN_AK=s3tmainuser
  MAIN_SK=$(new_user "$MAIN_AK" s3t-allow-all \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["*","s3:*","iam:*","sts:*"],"Resource":"*"}]}')
  export S3T_IAM_ROOT_ACCESS=$CHRONICLE_ROOT_USER S3T_IAM_ROOT_SECRET=$CHRONICLE_ROOT_PASSWORD
  export S3T_IAM_ACCESS=$MAIN_AK S3T_IAM_SECRET=$MAIN_SK
else
  MAIN_AK=$CHRONICLE_ROOT_USER
  MAIN_SK=$CHRONICLE_ROOT_PASSWORD
fi

# --- canonical ids / display names as the server reports them (ListBuckets Owner), and
# the sanity check: alt is refused on a private bucket of main
export S3T_PROBE_ENDPOINT=$ENDPOINT S3T_PROBE_MAIN_AK=$MAIN_AK S3T_PROBE_MAIN_SK=$MAIN_SK \
       S3T_PROBE_ALT_AK=$ALT_AK S3T_PROBE_ALT_SK=$ALT_SK \
       S3T_PROBE_ROOT_AK=$CHRONICLE_ROOT_USER S3T_PROBE_ROOT_SK=$CHRONICLE_ROOT_PASSWORD
"$VPY" - > "$TMP/ids.env" <<'EOF'
import hashlib, os, sys, uuid
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

env = os.environ
def client(who):
    return boto3.client("s3", endpoint_url=env["S3T_PROBE_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id=env[f"S3T_PROBE_{who}_AK"],
                        aws_secret_access_key=env[f"S3T_PROBE_{who}_SK"],
                        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
main, alt, root = client("MAIN"), client("ALT"), client("ROOT")

def owner(who, c):
    o = c.list_buckets().get("Owner") or {}
    if not o.get("ID"):  # no Owner without a bucket: make one, ask again, remove it as root
        b = f"s3t-idprobe-{uuid.uuid4().hex[:12]}"
        c.create_bucket(Bucket=b)
        o = c.list_buckets().get("Owner") or {}
        root.delete_bucket(Bucket=b)
    ak = env[f"S3T_PROBE_{who}_AK"]
    guess = hashlib.sha256(f"chronicle-user:{ak}".encode()).hexdigest()
    print(f"s3tests.sh: {who.lower()} {ak}: canonical id {o.get('ID')} display name {o.get('DisplayName')!r}"
          f" ({'=' if o.get('ID') == guess else '!='} sha256('chronicle-user:{ak}'))", file=sys.stderr)
    if not o.get("ID"):
        sys.exit(f"s3tests.sh: ListBuckets gave no Owner for {who.lower()}")
    return o["ID"], o.get("DisplayName") or ""

mid, mname = owner("MAIN", main)
aid, aname = owner("ALT", alt)
if mid == aid:
    sys.exit("s3tests.sh: main and alt report the same canonical id")

b = f"s3t-sanity-{uuid.uuid4().hex[:12]}"
main.create_bucket(Bucket=b)
main.put_object(Bucket=b, Key="k", Body=b"x")
refused = []
for what, call in (("GetObject", lambda: alt.get_object(Bucket=b, Key="k")),
                   ("ListObjects", lambda: alt.list_objects(Bucket=b)),
                   ("PutObject", lambda: alt.put_object(Bucket=b, Key="k2", Body=b"y"))):
    try:
        call()
        refused.append(f"{what}: ALLOWED")
    except ClientError as e:
        refused.append(f"{what}: {e.response['Error']['Code']}")
main.delete_object(Bucket=b, Key="k")
main.delete_bucket(Bucket=b)
print("s3tests.sh: alt on a private bucket of main: " + ", ".join(refused), file=sys.stderr)
if any(not r.endswith("AccessDenied") for r in refused):
    sys.exit("s3tests.sh: sanity check failed: alt is not refused (AccessDenied) on main's private bucket")
for k, v in (("S3T_MAIN_USER_ID", mid), ("S3T_MAIN_DISPLAY_NAME", mname),
             ("S3T_ALT_USER_ID", aid), ("S3T_ALT_DISPLAY_NAME", aname)):
    print(f"{k}={v}")
EOF
unset S3T_PROBE_MAIN_SK S3T_PROBE_ALT_SK S3T_PROBE_ROOT_SK
while IFS='=' read -r k v; do export "$k=$v"; done < "$TMP/ids.env"
{
  echo "config:   $CFG"
  echo "chronicle: $REPO @ $(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo ' (dirty)')"
  echo "main:     $MAIN_AK id=$S3T_MAIN_USER_ID name=$S3T_MAIN_DISPLAY_NAME"
  echo "alt:      $ALT_AK id=$S3T_ALT_USER_ID name=$S3T_ALT_DISPLAY_NAME"
  if [ "$CFG" = issue3 ]; then
    echo "iam root: $CHRONICLE_ROOT_USER (user_id 000000000000); iam user: $MAIN_AK"
  fi
} | tee "$OUT/config.txt"

# --- the suite
export S3T_SUITE=$SUITE S3T_VENV=$VENV S3T_OUT=$OUT
set +e
bash "$RUN" "$ENDPOINT" "$MAIN_AK" "$MAIN_SK" "$ALT_AK" "$ALT_SK" ${EXTRA[@]+-- "${EXTRA[@]}"}
RC=$?
set -e

# --- stop the server (the trap also drops the database), then check its log
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
{
  echo "server log: $OUT/server.log"
  echo "lines with ' 500 ':           $(grep -c ' 500 ' "$OUT/server.log" || true)"
  echo "'internal error on' lines:    $(grep -c 'internal error on' "$OUT/server.log" || true)"
  echo "tracebacks:                   $(grep -c '^Traceback' "$OUT/server.log" || true)"
} | tee "$OUT/server-log-check.txt"
echo "summary table: $OUT/summary.txt"
exit $RC
