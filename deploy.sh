#!/usr/bin/env bash
# deploy.sh: install the bodycam firmware on Raspberry Pi OS (bookworm or trixie, 64-bit),
# on this machine or on another over ssh. Every step checks before it changes anything, so
# a second run changes nothing and says so. docs/DEPLOY.md describes each step and flag.
#
#   deploy.sh [--host USER@DEVICE] [--root DIR] [--dry-run]
#             [--device-id ID --custodian-pub FILE] [--rollback]
#
# Exit codes: 0 done (or nothing to do), 1 a step failed (named on stderr), 2 usage error.
set -Eeuo pipefail
umask 022

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SRC
readonly PREFIX=/opt/bodycam
readonly ETC=/etc/bodycam
readonly DATA=/var/lib/bodycam
readonly UNIT_NAME=bodycam.service
readonly UNIT=/etc/systemd/system/$UNIT_NAME
readonly BIN_LINK=/usr/local/bin/bodycam
readonly SERVICE_USER=bodycam
readonly SERVICE_GROUPS=(video gpio spi)
readonly KEEP_RELEASES=3
# On tmpfs: a reboot removes it. Until then the boot configuration we changed is not in effect.
readonly REBOOT_MARK=/run/bodycam-reboot-required
# What a release is built from, relative to SRC (the firmware, its packaging, this script).
readonly SOURCES=(pyproject.toml README.md firmware recorder display drivers hw_sim deploy.sh deploy)
export DEBIAN_FRONTEND=noninteractive

ROOT=""
HOST=""
DRY=0
ROLLBACK=0
INIT_STAGING=0
DEVICE_ID=""
CUSTODIAN_PUB=""
STEP="arguments"
CHANGES=0
REBOOT=0
RESTART=0
RELEASE_ID=""

usage() {
    cat <<'EOF'
usage: deploy.sh [--host USER@DEVICE] [--root DIR] [--dry-run]
                 [--device-id ID --custodian-pub FILE] [--rollback]
       deploy.sh --root DIR --init-staging

Install (or update) the bodycam firmware on Raspberry Pi OS bookworm/trixie, 64-bit.

  --host USER@DEVICE   install on another machine over ssh (sudo there if not root)
  --root DIR           install into the directory tree DIR instead of / (tests, staging)
  --dry-run            print every step and what it would change; change nothing
  --device-id ID       provision: create the device identity (bodycam keys device) ...
  --custodian-pub FILE ... sealed to this custodian PUBLIC key (never the private key)
  --rollback           switch back to the previous release and restart the service
  --init-staging       with --root: create the files a staging tree needs (os-release,
                       passwd, group, device-tree model, boot config) where missing, then stop
  -h, --help           this text

See docs/DEPLOY.md.
EOF
}

# -- reporting --------------------------------------------------------------------------------

usage_error() {
    echo "deploy.sh: $*" >&2
    echo "usage: deploy.sh [--host USER@DEVICE] [--root DIR] [--dry-run] [--device-id ID --custodian-pub FILE] [--rollback] (see --help)" >&2
    exit 2
}

fail() {
    echo "deploy.sh: step '$STEP' failed: $*" >&2
    exit 1
}

on_error() {
    local rc=$?
    echo "deploy.sh: step '$STEP' failed (exit $rc): $BASH_COMMAND" >&2
    exit 1
}
trap on_error ERR

step() {
    STEP=$1
    echo "== $STEP"
}

ok() {
    echo "   ok: $*"
}

note() {
    echo "   note: $*"
}

change() {
    CHANGES=$((CHANGES + 1))
    if ((DRY)); then echo "   would: $*"; else echo "   change: $*"; fi
}

quoted() {
    (($#)) || return 0
    local out
    printf -v out '%q ' "$@"
    echo "${out% }"
}

# Run a command that changes the system; with --dry-run only show it.
run() {
    if ((DRY)); then
        echo "   would run: $(quoted "$@")"
        return 0
    fi
    echo "   + $(quoted "$@")"
    local rc=0
    "$@" || rc=$?
    if ((rc != 0)); then
        fail "$(quoted "$@") exited with $rc"
    fi
}

# Install file SRC_FILE as DEST with MODE, atomically (a rename within DEST's directory).
put_file() {
    local mode=$1 src_file=$2 dest=$3
    run mkdir -p "$(dirname "$dest")"
    run install -m "$mode" "$src_file" "$dest.deploy-new"
    run mv -f "$dest.deploy-new" "$dest"
}

# Point symlink LINK at TARGET, atomically.
put_link() {
    local target=$1 link=$2
    run mkdir -p "$(dirname "$link")"
    run ln -sfn "$target" "$link.deploy-new"
    run mv -Tf "$link.deploy-new" "$link"
}

# -- arguments --------------------------------------------------------------------------------

parse_args() {
    while (($#)); do
        case $1 in
            --host | --root | --device-id | --custodian-pub)
                [[ $# -ge 2 && -n $2 && $2 != --* ]] || usage_error "$1 needs a value"
                case $1 in
                    --host) HOST=$2 ;;
                    --root) ROOT=$2 ;;
                    --device-id) DEVICE_ID=$2 ;;
                    --custodian-pub) CUSTODIAN_PUB=$2 ;;
                esac
                shift 2
                ;;
            --dry-run) DRY=1; shift ;;
            --rollback) ROLLBACK=1; shift ;;
            --init-staging) INIT_STAGING=1; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage_error "unknown argument '$1'" ;;
        esac
    done
    if [[ -n $DEVICE_ID && -z $CUSTODIAN_PUB ]]; then
        usage_error "--device-id needs --custodian-pub FILE (the custodian's public key)"
    fi
    if [[ -z $DEVICE_ID && -n $CUSTODIAN_PUB ]]; then
        usage_error "--custodian-pub needs --device-id ID"
    fi
    if ((ROLLBACK)) && [[ -n $DEVICE_ID ]]; then
        usage_error "--rollback cannot be combined with provisioning (--device-id)"
    fi
    if [[ -n $DEVICE_ID && ! $DEVICE_ID =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]]; then
        usage_error "invalid device id '$DEVICE_ID': use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    fi
    if [[ -n $CUSTODIAN_PUB ]]; then
        check_custodian_pub "$CUSTODIAN_PUB"
        CUSTODIAN_PUB=$(cd "$(dirname "$CUSTODIAN_PUB")" && pwd)/$(basename "$CUSTODIAN_PUB")
    fi
    if ((INIT_STAGING)) && [[ -z $ROOT || -n $HOST || -n $DEVICE_ID ]] || ((INIT_STAGING && (ROLLBACK || DRY))); then
        usage_error "--init-staging goes with --root DIR alone; run it first, then deploy.sh --root DIR"
    fi
    if [[ -n $ROOT ]]; then
        if ((INIT_STAGING)); then mkdir -p "$ROOT"; fi
        [[ -d $ROOT ]] || usage_error "--root $ROOT: no such directory; create it, or make a staging tree with --root $ROOT --init-staging"
        ROOT=$(cd "$ROOT" && pwd)
        [[ $ROOT != / ]] || ROOT=""
    fi
}

# Refuse anything but a PEM public key, before anything is copied anywhere.
check_custodian_pub() {
    local file=$1
    [[ -f $file && -r $file ]] || usage_error "--custodian-pub $file: no such readable file"
    if grep -q 'PRIVATE KEY' "$file"; then
        usage_error "$file is a PRIVATE key: the custodian private key must never go on a device; give custodian.pub (from 'bodycam keys custodian') instead"
    fi
    grep -q -- '-----BEGIN PUBLIC KEY-----' "$file" ||
        usage_error "$file is not a PEM public key (expected custodian.pub from 'bodycam keys custodian')"
}

# -- over ssh ---------------------------------------------------------------------------------

existing_sources() {
    local item
    for item in "${SOURCES[@]}"; do
        if [[ -e $SRC/$item ]]; then echo "$item"; fi
    done
}

# The remote command is built here on purpose: every local value in it is quoted with %q.
# shellcheck disable=SC2029
remote_deploy() {
    local args=() sources=() dir tty=()
    mapfile -t sources < <(existing_sources)
    if ((DRY)); then args+=(--dry-run); fi
    if ((ROLLBACK)); then args+=(--rollback); fi
    if [[ -n $ROOT ]]; then args+=(--root "$ROOT"); fi
    step "copy the firmware to $HOST"
    dir=$(ssh "$HOST" 'mktemp -d /tmp/bodycam-deploy.XXXXXX')
    [[ $dir == /tmp/bodycam-deploy.* ]] || fail "unexpected answer from $HOST: '$dir'"
    tar -C "$SRC" --exclude=__pycache__ --exclude='*.pyc' -cf - "${sources[@]}" |
        ssh "$HOST" "tar -xf - -C $(quoted "$dir")"
    if [[ -n $DEVICE_ID ]]; then
        ssh "$HOST" "cat > $(quoted "$dir/custodian.pub")" <"$CUSTODIAN_PUB"
        args+=(--device-id "$DEVICE_ID" --custodian-pub "$dir/custodian.pub")
    fi
    ok "copied to $HOST:$dir"
    step "deploy on $HOST"
    if [[ -t 0 ]]; then tty=(-t); fi
    local cmd
    cmd="cd $(quoted "$dir") && if [ \"\$(id -u)\" -eq 0 ]; then bash ./deploy.sh $(quoted "${args[@]}"); else sudo bash ./deploy.sh $(quoted "${args[@]}"); fi; rc=\$?; rm -rf $(quoted "$dir"); exit \$rc"
    local rc=0
    ssh "${tty[@]}" "$HOST" "$cmd" || rc=$?
    if ((rc != 0)); then
        echo "deploy.sh: the deployment on $HOST failed (exit $rc); its output above names the step" >&2
        exit "$rc"
    fi
}

# -- checks before anything changes ------------------------------------------------------------

GPIO_PACKAGE=""
MODEL=""
PYTHON=${BODYCAM_DEPLOY_PYTHON:-python3}

preflight() {
    step "preflight"
    if [[ -z $ROOT ]] && ((!DRY)) && ((EUID != 0)); then
        usage_error "run as root (sudo ./deploy.sh ...), or with --dry-run to look first"
    fi
    local release_file=$ROOT/etc/os-release codename
    [[ -f $release_file ]] || fail "$release_file missing: is this Raspberry Pi OS?"
    codename=$(sed -n 's/^VERSION_CODENAME=//p' "$release_file" | tr -d '"' | head -n 1)
    case $codename in
        bookworm | trixie) ok "Raspberry Pi OS / Debian $codename" ;;
        *) fail "unsupported OS release '${codename:-unknown}': bookworm or trixie needed" ;;
    esac
    if [[ -z $ROOT ]]; then
        local arch
        arch=$(dpkg --print-architecture)
        [[ $arch == arm64 ]] || fail "architecture $arch: the 64-bit OS (arm64) is needed"
        ok "architecture arm64"
    fi
    local model_file=$ROOT/proc/device-tree/model
    [[ -r $model_file ]] || fail "$model_file missing: cannot tell which Raspberry Pi this is"
    MODEL=$(tr -d '\0' <"$model_file")
    # Every board gets GPIO through rpi-lgpio (/dev/gpiochip): RPi.GPIO's edge detection
    # writes /sys/class/gpio/export, gone from kernel 6.6 and refused under the unit's
    # ProtectKernelTunables=yes, so the button would fail on a Pi 3, 4 or Zero 2 too.
    case $MODEL in
        "Raspberry Pi"*) GPIO_PACKAGE=python3-rpi-lgpio ;;
        *) fail "not a Raspberry Pi: device-tree model '$MODEL'" ;;
    esac
    ok "board: $MODEL (GPIO through $GPIO_PACKAGE)"
    if ((!ROLLBACK)); then
        command -v "$PYTHON" >/dev/null || fail "$PYTHON not found (Raspberry Pi OS ships python3)"
        "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
            fail "$PYTHON is older than 3.11"
        ok "$("$PYTHON" --version)"
    fi
}

# -- apt packages -----------------------------------------------------------------------------

installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

packages() {
    step "packages"
    local wanted=(python3-picamera2 python3-libcamera python3-spidev "$GPIO_PACKAGE" python3-venv
                  fonts-dejavu-core)  # the watermark's and the front display's faces
    local missing=() pkg other=python3-rpi.gpio
    # Both provide the RPi.GPIO module; the old one must go first.
    if installed "$other"; then
        change "remove $other (bodycam needs $GPIO_PACKAGE on every board)"
        run apt-get remove -y "$other"
    fi
    for pkg in "${wanted[@]}"; do
        if ! installed "$pkg"; then missing+=("$pkg"); fi
    done
    if ((${#missing[@]} == 0)); then
        ok "installed: ${wanted[*]}"
        return
    fi
    change "install ${missing[*]}"
    run apt-get update
    run apt-get install -y --no-install-recommends "${missing[@]}"
}

# -- boot configuration -----------------------------------------------------------------------

# Prints the config.txt that has KEY=VALUE in effect for every board (before any [filter]
# section, or under [all]), changing as little as possible: a present line is kept, a
# global line with another value is corrected, a commented-out one is uncommented, else
# the line is appended (under [all]). For dtparam, KEY is the parameter (spi) and VALUE may
# sit in a comma list (dtparam=i2c_arm=on,spi=on).
boot_line() {
    local key=$1 value=$2 file=$3
    awk -v key="$key" -v value="$value" '
        function trim(s) { gsub(/^[ \t]+|[ \t\r]+$/, "", s); return s }
        function dt() { return key ~ /^dtparam:/ }
        function name_of(p,    eq) { eq = index(p, "="); return trim(eq ? substr(p, 1, eq - 1) : p) }
        function value_of(p,    eq) { eq = index(p, "="); return eq ? trim(substr(p, eq + 1)) : "on" }
        # 1: the line puts the setting in effect; 2: it sets another value; 0: unrelated.
        function state(s,    n, parts, i) {
            if (dt()) {
                if (s !~ /^dtparam=/) return 0
                n = split(substr(s, 9), parts, ",")
                for (i = 1; i <= n; i++)
                    if (name_of(parts[i]) == substr(key, 9)) return value_of(parts[i]) == value ? 1 : 2
                return 0
            }
            if (!index(s, "=") || name_of(s) != key) return 0
            return value_of(s) == value ? 1 : 2
        }
        # The line with our value in place of the other one.
        function fixed(s,    n, parts, i, out) {
            if (!dt()) return key "=" value
            n = split(substr(trim(s), 9), parts, ",")
            for (i = 1; i <= n; i++)
                out = out (i > 1 ? "," : "") (name_of(parts[i]) == substr(key, 9) ? substr(key, 9) "=" value : parts[i])
            return "dtparam=" out
        }
        {
            line[NR] = $0
            s = trim($0)
            if (s ~ /^\[.*\]$/) { section = substr(s, 2, length(s) - 2); last = section; next }
            if (section != "" && section != "all") next
            if (s ~ /^#/) {
                if (!commented && state(trim(substr(s, 2))) == 1) commented = NR
                next
            }
            st = state(s)
            if (st == 1) have = 1
            if (st == 2) { wrong[NR] = 1; nwrong++ }
        }
        END {
            want = dt() ? "dtparam=" substr(key, 9) "=" value : key "=" value
            uncomment = !have && !nwrong && commented
            for (i = 1; i <= NR; i++) {
                if (i in wrong) print fixed(line[i])
                else if (uncomment && i == commented) print want
                else print line[i]
            }
            if (!have && !nwrong && !commented) {
                if (last != "" && last != "all") print "[all]"
                print want
            }
        }' "$file"
}

boot_config() {
    step "boot configuration"
    local file=$ROOT/boot/firmware/config.txt
    [[ -f $file ]] || fail "$file missing: bookworm and later keep the boot configuration there"
    local tmp settings=("dtparam:spi on" "camera_auto_detect 1") setting key value
    tmp=$(mktemp)
    cp "$file" "$tmp"
    for setting in "${settings[@]}"; do
        read -r key value <<<"$setting"
        boot_line "$key" "$value" "$tmp" >"$tmp.next"
        if cmp -s "$tmp" "$tmp.next"; then
            ok "${key/dtparam:/dtparam=}=$value"
        else
            change "set ${key/dtparam:/dtparam=}=$value in $file"
        fi
        mv -f "$tmp.next" "$tmp"
    done
    if ! cmp -s "$file" "$tmp"; then
        REBOOT=1
        if ((!DRY)); then
            cp -p "$file" "$file.bodycam-backup"
            put_file 0644 "$tmp" "$file"
            if [[ -z $ROOT ]]; then touch "$REBOOT_MARK"; fi
        fi
    fi
    rm -f "$tmp"
}

# -- the service user -------------------------------------------------------------------------

in_group() {
    awk -F: -v g="$1" -v u="$2" '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) found = 1 } END { exit !found }' "$ROOT/etc/group"
}

group_exists() {
    awk -F: -v g="$1" '$1 == g { found = 1 } END { exit !found }' "$ROOT/etc/group"
}

gid_of() {
    awk -F: -v g="$1" '$1 == g { print $3 }' "$ROOT/etc/group"
}

# chown's owner:group argument; under --root numeric, since this machine lacks the user.
owner() {
    local user=$1 group=$2 uid gid
    if [[ -z $ROOT ]]; then
        echo "$user:$group"
        return
    fi
    uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' "$ROOT/etc/passwd")
    gid=$(gid_of "$group")
    [[ $user != root ]] || uid=0
    echo "${uid:-$user}:${gid:-$group}"
}

service_user() {
    step "service user"
    local root_opt=()
    if [[ -n $ROOT ]]; then root_opt=(--root "$ROOT"); fi
    if awk -F: -v u="$SERVICE_USER" '$1 == u { found = 1 } END { exit !found }' "$ROOT/etc/passwd"; then
        ok "user $SERVICE_USER exists"
    else
        change "create the system user $SERVICE_USER"
        run useradd "${root_opt[@]}" --system --user-group --home-dir "$DATA" --no-create-home \
            --shell /usr/sbin/nologin --comment "bodycam camera daemon" "$SERVICE_USER"
    fi
    local missing=() group
    for group in "${SERVICE_GROUPS[@]}"; do
        group_exists "$group" || fail "group '$group' does not exist: is this Raspberry Pi OS?"
        if ! in_group "$group" "$SERVICE_USER"; then missing+=("$group"); fi
    done
    if ((${#missing[@]} == 0)); then
        ok "$SERVICE_USER is in ${SERVICE_GROUPS[*]}"
        return
    fi
    change "add $SERVICE_USER to ${missing[*]}"
    local joined
    joined=$(IFS=,; echo "${missing[*]}")
    run usermod "${root_opt[@]}" --append --groups "$joined" "$SERVICE_USER"
}

# -- the release ------------------------------------------------------------------------------

# <version>-<first 12 hex of a SHA-256 over the names and contents of what is installed>.
compute_release_id() {
    local version hash package=${BODYCAM_DEPLOY_PACKAGE:-}
    version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$SRC/pyproject.toml" | head -n 1)
    [[ -n $version ]] || fail "no version in $SRC/pyproject.toml"
    if [[ -n $package && -f $package ]]; then
        hash=$(sha256sum <"$package")
    else
        hash=$(cd "$SRC" && mapfile -t items < <(existing_sources) &&
            find "${items[@]}" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum)
    fi
    RELEASE_ID="$version-${hash:0:12}"
}

release() {
    step "release"
    compute_release_id
    local releases=$ROOT$PREFIX/releases
    local dir=$releases/$RELEASE_ID
    local package=${BODYCAM_DEPLOY_PACKAGE:-$dir/src}
    local pip_args=()
    read -r -a pip_args <<<"${BODYCAM_DEPLOY_PIP_ARGS:-}"
    if [[ -f $dir/.complete ]]; then
        ok "release $RELEASE_ID is built"
        return
    fi
    if [[ -e $dir ]]; then
        change "remove the unfinished release $RELEASE_ID"
        run rm -rf "$dir"
    fi
    change "build release $RELEASE_ID in $PREFIX/releases"
    run mkdir -p "$dir/src"
    local sources=()
    mapfile -t sources < <(existing_sources)
    if ((DRY)); then
        echo "   would copy: ${sources[*]} to $dir/src"
    else
        echo "   + copy ${sources[*]} to $dir/src"
        tar -C "$SRC" --exclude=__pycache__ --exclude='*.pyc' -cf - "${sources[@]}" | tar -C "$dir/src" -xf -
    fi
    # System site packages: picamera2 and libcamera come from Raspberry Pi OS.
    run "$PYTHON" -m venv --system-site-packages "$dir/venv"
    run "$dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pip_args[@]}" "$package"
    if ((!DRY)); then
        printf 'release=%s\nbuilt=%s\nfrom=%s\n' "$RELEASE_ID" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
            "$package" >"$dir/RELEASE"
    fi
    run touch "$dir/.complete"
}

# -- configuration, identity, data ------------------------------------------------------------

configuration() {
    step "configuration"
    local example=$SRC/firmware/config.example.toml config=$ROOT$ETC/config.toml
    [[ -f $example ]] || fail "$example missing"
    if [[ -f $config ]]; then
        if cmp -s "$example" "$config"; then ok "$ETC/config.toml (the shipped example)"; else ok "$ETC/config.toml kept (local edits)"; fi
    else
        change "install $ETC/config.toml from firmware/config.example.toml"
        put_file 0644 "$example" "$config"
        RESTART=1
    fi
    if cmp -s "$example" "$ROOT$ETC/config.example.toml"; then
        ok "$ETC/config.example.toml is current"
    else
        change "install $ETC/config.example.toml (for comparing with config.toml)"
        put_file 0644 "$example" "$ROOT$ETC/config.example.toml"
    fi
    local python=$ROOT$PREFIX/releases/$RELEASE_ID/venv/bin/python
    if ((DRY)); then
        note "would check $ETC/config.toml against release $RELEASE_ID"
        return
    fi
    local problem
    if ! problem=$("$python" -c 'import sys
from firmware import config
from evidence.errors import BodycamError
try:
    config.load(sys.argv[1])
except BodycamError as e:
    sys.exit(e.message)' "$config" 2>&1); then
        fail "$problem (fix the file and deploy again; the running release is unchanged)"
    fi
    ok "$ETC/config.toml suits release $RELEASE_ID"
}

key_body() {
    grep -v -- '-----' "$1" | tr -d ' \t\r\n'
}

identity() {
    step "device identity"
    local dir=$ROOT$ETC/identity
    local existing=""
    if [[ -f $dir/device.pub ]]; then
        existing=$(sed -n 's/.*"device_id":"\([^"]*\)".*/\1/p' "$dir/device.pub")
    fi
    if [[ -z $DEVICE_ID ]]; then
        if [[ -n $existing ]]; then
            ok "device $existing"
        else
            note "no device identity: the camera will not record until provisioned (--device-id ID --custodian-pub FILE)"
        fi
        return
    fi
    if [[ -e $dir/device.key || -n $existing ]]; then
        if [[ $existing == "$DEVICE_ID" && -f $dir/custodian.pub ]] &&
            [[ $(key_body "$dir/custodian.pub") == "$(key_body "$CUSTODIAN_PUB")" ]]; then
            ok "device $DEVICE_ID is provisioned for this custodian key"
            return
        fi
        fail "$ETC/identity already holds device '${existing:-unknown}' (or another custodian key); refusing to replace a device identity: move it away first to re-provision"
    fi
    change "create the identity of device $DEVICE_ID"
    run "$ROOT$PREFIX/releases/$RELEASE_ID/venv/bin/bodycam" keys device --device-id "$DEVICE_ID" \
        --custodian-pub "$CUSTODIAN_PUB" --out "$dir"
    # The service reads its key but cannot change it.
    run chown -R "$(owner root "$SERVICE_USER")" "$dir"
    run chmod 0750 "$dir"
    run chmod 0640 "$dir/device.key"
    RESTART=1
}

data_dir() {
    step "evidence directory"
    if [[ -d $ROOT$DATA ]]; then
        ok "$DATA exists"
        return
    fi
    change "create $DATA for $SERVICE_USER"
    run mkdir -p "$ROOT$DATA"
    run chown "$(owner "$SERVICE_USER" "$SERVICE_USER")" "$ROOT$DATA"
    run chmod 0750 "$ROOT$DATA"
}

# -- switching releases -----------------------------------------------------------------------

link_of() {
    if [[ -L $1 ]]; then readlink "$1"; fi
}

activate() {
    step "activate"
    local base=$ROOT$PREFIX current want=releases/$RELEASE_ID
    current=$(link_of "$base/current")
    if [[ $current == "$want" ]]; then
        ok "current -> $want"
    else
        change "current -> $want${current:+ (previous: $current)}"
        if [[ -n $current ]]; then put_link "$current" "$base/previous"; fi
        put_link "$want" "$base/current"
        RESTART=1
    fi
    if [[ $(link_of "$ROOT$BIN_LINK") == "$PREFIX/current/venv/bin/bodycam" ]]; then
        ok "$BIN_LINK"
    else
        change "link $BIN_LINK to the current release"
        put_link "$PREFIX/current/venv/bin/bodycam" "$ROOT$BIN_LINK"
    fi
}

prune() {
    step "old releases"
    local base=$ROOT$PREFIX keep current previous old=() name
    current=$(link_of "$base/current")
    previous=$(link_of "$base/previous")
    [[ -d $base/releases ]] || { ok "none"; return; }
    keep=0
    while read -r _ name; do
        if [[ releases/$name == "$current" || releases/$name == "$previous" ]]; then continue; fi
        keep=$((keep + 1))
        if ((keep > KEEP_RELEASES - 2)); then old+=("$name"); fi
    done < <(find "$base/releases" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %f\n' | sort -rn)
    if ((${#old[@]} == 0)); then
        ok "keeping the current, the previous and at most $((KEEP_RELEASES - 2)) older"
        return
    fi
    for name in "${old[@]}"; do
        change "remove old release $name"
        run rm -rf "${base:?}/releases/$name"
    done
}

# -- systemd ----------------------------------------------------------------------------------

unit() {
    step "systemd unit"
    local systemctl=(systemctl)
    if [[ -n $ROOT ]]; then systemctl+=(--root="$ROOT"); fi
    if cmp -s "$SRC/deploy/$UNIT_NAME" "$ROOT$UNIT"; then
        ok "$UNIT"
    else
        change "install $UNIT"
        put_file 0644 "$SRC/deploy/$UNIT_NAME" "$ROOT$UNIT"
        RESTART=1
        if [[ -z $ROOT ]]; then run systemctl daemon-reload; fi
    fi
    if "${systemctl[@]}" is-enabled --quiet "$UNIT_NAME" 2>/dev/null; then
        ok "$UNIT_NAME enabled"
    else
        change "enable $UNIT_NAME"
        run "${systemctl[@]}" enable "$UNIT_NAME"
    fi
}

start_service() {
    step "service"
    if [[ -n $ROOT ]]; then
        note "not started (--root: no running system)"
        return
    fi
    if ((REBOOT)) || [[ -e $REBOOT_MARK ]]; then
        note "reboot to turn on SPI and the camera; the service starts at boot"
        return
    fi
    if ((RESTART)); then
        change "restart $UNIT_NAME"
        run systemctl restart "$UNIT_NAME"
    elif systemctl is-active --quiet "$UNIT_NAME"; then
        ok "$UNIT_NAME running"
    else
        change "start $UNIT_NAME"
        run systemctl start "$UNIT_NAME"
    fi
}

rollback() {
    step "rollback"
    local base=$ROOT$PREFIX current previous
    current=$(link_of "$base/current")
    previous=$(link_of "$base/previous")
    if [[ -z $previous || ! -f $base/$previous/.complete ]]; then
        fail "no previous release to roll back to${current:+ (current: $current)}"
    fi
    change "current -> $previous (was $current)"
    put_link "$current" "$base/previous"
    put_link "$previous" "$base/current"
    RESTART=1
    start_service
}

summary() {
    echo "=="
    if ((CHANGES == 0)); then
        echo "nothing to change"
    elif ((DRY)); then
        echo "changes that would be made: $CHANGES (dry run: nothing was changed)"
    else
        echo "changes made: $CHANGES"
    fi
    if ((REBOOT && DRY)); then
        echo "a reboot would be required: the boot configuration would change (SPI, camera)"
    elif ((REBOOT)); then
        echo "reboot required: the boot configuration changed (SPI, camera)"
    fi
}

# The files deploy.sh reads from a --root tree (docs/DEPLOY.md), made where missing: a
# Raspberry Pi 5 on Raspberry Pi OS bookworm with the groups the service user joins.
init_staging() {
    local file
    stage_file() {
        file=$ROOT/$1
        if [[ -e $file ]]; then
            echo "   kept: $file"
            return
        fi
        mkdir -p "$(dirname "$file")"
        printf '%b' "$2" >"$file"
        echo "   made: $file"
    }
    echo "staging tree in $ROOT"
    stage_file etc/os-release 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'
    stage_file etc/passwd 'root:x:0:0:root:/root:/bin/bash\n'
    stage_file etc/group 'root:x:0:\nvideo:x:44:\ngpio:x:993:\nspi:x:994:\n'
    stage_file proc/device-tree/model 'Raspberry Pi 5 Model B Rev 1.0\0'
    stage_file boot/firmware/config.txt '# staging copy of the boot configuration\n'
    echo "now: deploy.sh --root $ROOT [--dry-run]"
}

main() {
    parse_args "$@"
    if ((INIT_STAGING)); then
        init_staging
        return
    fi
    if [[ -n $HOST ]]; then
        remote_deploy
        return
    fi
    if ((DRY)); then echo "dry run: nothing will be changed"; fi
    if [[ -n $ROOT ]]; then echo "installing into $ROOT"; fi
    preflight
    if ((ROLLBACK)); then
        rollback
        summary
        return
    fi
    packages
    boot_config
    service_user
    release
    configuration
    identity
    data_dir
    activate
    unit
    prune
    start_service
    summary
}

# Sourcing the script (the tests do, to reach boot_line) defines the functions only.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
