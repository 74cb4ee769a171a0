#!/bin/bash
# hpc-pcs-install agent RELEASE KEY_FINGERPRINT REGION
# hpc-pcs-install slurm VERSION RELEASE KEY_FINGERPRINT REGION
# Install the AWS PCS agent, or the Slurm of one PCS version, from AWS's installers, verified before anything of
# them runs: the steps of the PCS User Guide ('Custom Amazon Machine Images (AMIs) for AWS PCS', steps 2 and 3),
# with their signature check made mandatory. Run while an image is built (HpcImage), never at a node's boot.
#  - Already installed (/opt/aws/pcs/version, /opt/aws/pcs/scheduler/slurm-VERSION/version): nothing to do.
#  - Downloads the installer tarball, its .sig and AWS PCS's public key from the Region's buckets, with retries.
#  - Verifies the signature in a throw-away keyring and accepts it only when gpg reports a valid signature
#    (VALIDSIG) whose primary-key fingerprint is KEY_FINGERPRINT (the guide: "Don't run the ... installation
#    script if the fingerprint doesn't match"). A replaced key, a bad or missing signature: nothing is extracted.
#  - Runs installer.sh -y, then prints the version file the guide says to check.
set -euo pipefail

KIND="${1:?usage: hpc-pcs-install agent RELEASE FINGERPRINT REGION | slurm VERSION RELEASE FINGERPRINT REGION}"
shift
case "$KIND" in
  agent) VERSION=""; RELEASE="$1"; FINGERPRINT="$2"; REGION="$3" ;;
  slurm) VERSION="$1"; RELEASE="$2"; FINGERPRINT="$3"; REGION="$4" ;;
  *) echo "hpc-pcs-install: unknown kind $KIND (agent or slurm)" >&2; exit 2 ;;
esac
FINGERPRINT="$(echo "$FINGERPRINT" | tr -d ' ' | tr '[:lower:]' '[:upper:]')"
BASE_URL="${HPC_PCS_BASE_URL:-https://aws-pcs-repo-$REGION.s3.$REGION.amazonaws.com}"
KEY_URL="${HPC_PCS_KEY_URL:-https://aws-pcs-repo-public-keys-$REGION.s3.$REGION.amazonaws.com/aws-pcs-public-key.pub}"
PCS_ROOT="${HPC_PCS_ROOT:-/opt/aws/pcs}"

if [ "$KIND" = agent ]; then
  TARBALL="aws-pcs-agent-v$RELEASE.tar.gz"
  URL="$BASE_URL/aws-pcs-agent/$TARBALL"
  DIR="aws-pcs-agent"
  VERSION_FILE="$PCS_ROOT/version"
else
  TARBALL="aws-pcs-slurm-$VERSION-installer-$RELEASE.tar.gz"
  URL="$BASE_URL/aws-pcs-slurm/$TARBALL"
  DIR="aws-pcs-slurm-$VERSION-installer"
  VERSION_FILE="$PCS_ROOT/scheduler/slurm-$VERSION/version"
fi
if [ -s "$VERSION_FILE" ]; then
  echo "hpc-pcs-install: $KIND already installed ($VERSION_FILE)"
  exit 0
fi
command -v tar >/dev/null 2>&1 || dnf install -y tar
command -v gpg >/dev/null 2>&1 || dnf install -y gnupg2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fetch() { curl -fsSL --retry 5 --retry-delay 5 --retry-connrefused -o "$WORK/$2" "$1"; }
fetch "$URL" "$TARBALL"
fetch "$URL.sig" "$TARBALL.sig"
fetch "$KEY_URL" aws-pcs-public-key.pub

export GNUPGHOME="$WORK/gnupg"
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --quiet --import "$WORK/aws-pcs-public-key.pub"
STATUS=$(gpg --batch --status-fd 1 --verify "$WORK/$TARBALL.sig" "$WORK/$TARBALL" 2>/dev/null || true)
# VALIDSIG <signing subkey fpr> ... <primary key fpr>: the last field names the key that vouches for it.
SIGNER=$(echo "$STATUS" | awk '$2 == "VALIDSIG" {print $NF; exit}')
if [ -z "$SIGNER" ]; then
  echo "hpc-pcs-install: $TARBALL has no valid signature; not installing it" >&2
  exit 1
fi
if [ "$SIGNER" != "$FINGERPRINT" ]; then
  echo "hpc-pcs-install: $TARBALL is signed by key $SIGNER, not by the pinned $FINGERPRINT; not installing it" >&2
  exit 1
fi
echo "hpc-pcs-install: $TARBALL signature verified (key $SIGNER)"

tar -xzf "$WORK/$TARBALL" -C "$WORK"
cd "$WORK/$DIR"
./installer.sh -y
[ -s "$VERSION_FILE" ] || { echo "hpc-pcs-install: the installer left no $VERSION_FILE" >&2; exit 1; }
echo "hpc-pcs-install: $KIND installed:"
cat "$VERSION_FILE"
