#!/bin/bash
# hpc-efa-install VERSION KEY_FINGERPRINT: install the AWS EFA software (kernel module, rdma-core,
# libfabric, Open MPI), pinned to VERSION and verified before anything of it runs.
#  - Already installed (/opt/amazon/efa/bin/fi_info): nothing to do.
#  - Downloads aws-efa-installer-VERSION.tar.gz, its .sig and AWS's public key from
#    efa-installer.amazonaws.com (EC2 User Guide, 'Get started with EFA and MPI' and 'Verify the EFA
#    installer using a GPG signature'), with retries.
#  - Verifies the tarball's signature in a throw-away keyring and accepts it only when gpg reports a
#    valid signature (VALIDSIG) whose primary-key fingerprint is KEY_FINGERPRINT. A key that the
#    download replaced, a bad signature or a missing one: nothing is extracted or run.
#  - From 1.48.0 the installer checks its packages' signatures too (--check-signatures with
#    EFA_INSTALLER_KEY, the same guide).
set -euo pipefail

VERSION="$1"
FINGERPRINT="$(echo "$2" | tr -d ' ' | tr '[:lower:]' '[:upper:]')"
BASE_URL="${HPC_EFA_INSTALLER_BASE_URL:-https://efa-installer.amazonaws.com}"
FI_INFO="${HPC_EFA_FI_INFO:-/opt/amazon/efa/bin/fi_info}"

if [ -x "$FI_INFO" ]; then
  echo "hpc-efa-install: EFA software already installed ($FI_INFO)"
  exit 0
fi
# tar and gpg: on Amazon Linux 2023 gpg comes with gnupg2-minimal; images without them get them here.
command -v tar >/dev/null 2>&1 || dnf install -y tar
command -v gpg >/dev/null 2>&1 || dnf install -y gnupg2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
TARBALL="aws-efa-installer-$VERSION.tar.gz"
fetch() { curl -fsSL --retry 5 --retry-delay 5 --retry-connrefused -o "$WORK/$1" "$BASE_URL/$1"; }
fetch "$TARBALL"
fetch "$TARBALL.sig"
fetch aws-efa-installer.key

export GNUPGHOME="$WORK/gnupg"
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --import "$WORK/aws-efa-installer.key"
STATUS=$(gpg --batch --status-fd 1 --verify "$WORK/$TARBALL.sig" "$WORK/$TARBALL" 2>/dev/null || true)
# VALIDSIG <signing key fpr> ... <primary key fpr>: the last field names the key that vouches for it.
SIGNER=$(echo "$STATUS" | awk '$2 == "VALIDSIG" {print $NF; exit}')
if [ -z "$SIGNER" ]; then
  echo "hpc-efa-install: $TARBALL has no valid signature; not installing it" >&2
  exit 1
fi
if [ "$SIGNER" != "$FINGERPRINT" ]; then
  echo "hpc-efa-install: $TARBALL is signed by key $SIGNER, not by the pinned $FINGERPRINT; not installing it" >&2
  exit 1
fi
echo "hpc-efa-install: $TARBALL signature verified (key $SIGNER)"

tar -xzf "$WORK/$TARBALL" -C "$WORK"
cd "$WORK/aws-efa-installer"
FLAGS=(-y)
if [ "$(printf '%s\n' 1.48.0 "$VERSION" | sort -V | head -n 1)" = 1.48.0 ]; then
  export EFA_INSTALLER_KEY="$WORK/aws-efa-installer.key"
  FLAGS+=(--check-signatures)
fi
./efa_installer.sh "${FLAGS[@]}"
echo "hpc-efa-install: EFA software $VERSION installed"
