#!/usr/bin/env bash
# Builds the two job images (images/generation, images/training) and pushes them to one ECR repository,
# then prints the URIs for the config's `backend.images`. See images/README.md.
#
#   images/build-and-push.sh --region us-east-1 [--account 123456789012] [--repository judgeloop-jobs]
#                            [--tag TAG] [--base-image URI] [--only generation|training] [--no-push]
#
# Every option also reads an environment variable: AWS_ACCOUNT_ID, AWS_REGION (else AWS_DEFAULT_REGION, else
# `aws configure get region`), ECR_REPOSITORY, IMAGE_TAG, BASE_IMAGE, plus DLC_ACCOUNT (the account of AWS's
# Deep Learning Containers in the region, 763104351884 in most) and DLC_TAG (the base image's tag).
# Needs: docker (with a running daemon), the AWS CLI, and the permissions in docs/aws/ecr-publisher-policy.json.
set -euo pipefail

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

ACCOUNT="${AWS_ACCOUNT_ID:-}"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
REPOSITORY="${ECR_REPOSITORY:-judgeloop-jobs}"
TAG="${IMAGE_TAG:-}"
BASE="${BASE_IMAGE:-}"
DLC_ACCOUNT="${DLC_ACCOUNT:-763104351884}"
DLC_TAG="${DLC_TAG:-2.9.0-transformers5.3.0-gpu-py312-cu130-ubuntu22.04}"
ONLY=""
PUSH=1

while [[ $# -gt 0 ]]; do
  case "$1" in
    --account) ACCOUNT="${2:?--account needs a value}"; shift 2 ;;
    --region) REGION="${2:?--region needs a value}"; shift 2 ;;
    --repository) REPOSITORY="${2:?--repository needs a value}"; shift 2 ;;
    --tag) TAG="${2:?--tag needs a value}"; shift 2 ;;
    --base-image) BASE="${2:?--base-image needs a value}"; shift 2 ;;
    --only) ONLY="${2:?--only needs generation or training}"; shift 2 ;;
    --no-push) PUSH=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build-and-push: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

die() { echo "build-and-push: $*" >&2; exit 1; }

case "$ONLY" in
  "") KINDS=(generation training) ;;
  generation|training) KINDS=("$ONLY") ;;
  *) die "--only must be generation or training, not '$ONLY'" ;;
esac

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon (is it running, and may this user use it?)"
command -v aws >/dev/null || die "the AWS CLI is not installed"

if [[ -z "$REGION" ]]; then REGION="$(aws configure get region || true)"; fi
[[ -n "$REGION" ]] || die "no region: pass --region or set AWS_REGION"
if [[ -z "$ACCOUNT" ]]; then
  ACCOUNT="$(aws sts get-caller-identity --query Account --output text)" || die "could not find the AWS account (aws sts get-caller-identity); pass --account"
fi
[[ "$ACCOUNT" =~ ^[0-9]{12}$ ]] || die "the account must be 12 digits, not '$ACCOUNT'"
[[ "$REPOSITORY" =~ ^[a-z0-9]+([._/-][a-z0-9]+)*$ ]] || die "'$REPOSITORY' is not a valid ECR repository name"
DOMAIN="amazonaws.com"
[[ "$REGION" == cn-* ]] && DOMAIN="amazonaws.com.cn"
[[ -n "$BASE" ]] || BASE="${DLC_ACCOUNT}.dkr.ecr.${REGION}.${DOMAIN}/huggingface-pytorch-training:${DLC_TAG}"

REGISTRY="${ACCOUNT}.dkr.ecr.${REGION}.${DOMAIN}"

# The default tag is a hash of what goes into the images (Dockerfiles, the checker, the jobs' pins, the base
# image), so a tag names one content and the repository can keep tags immutable.
if [[ -z "$TAG" ]]; then
  TAG="$(
    {
      cat "$ROOT/images/generation/Dockerfile" "$ROOT/images/training/Dockerfile" \
          "$ROOT/images/verify_env.py" "$ROOT/jobs/requirements.txt"
      echo "$BASE"
    } | sha256sum | cut -c1-12
  )"
fi
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,100}$ ]] || die "'$TAG' is not a valid image tag"

ecr_login() { # registry host
  local host="$1" region
  region="$(cut -d. -f4 <<<"$host")"
  echo "logging in to $host"
  aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$host" >/dev/null
}

# The base image is pulled from AWS's registry, which needs its own login.
BASE_REGISTRY="${BASE%%/*}"
if [[ "$BASE_REGISTRY" =~ ^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$ ]]; then
  ecr_login "$BASE_REGISTRY"
fi

if [[ "$PUSH" == 1 ]]; then
  ecr_login "$REGISTRY"
  if ! out="$(aws ecr describe-repositories --region "$REGION" --repository-names "$REPOSITORY" 2>&1)"; then
    if [[ "$out" == *RepositoryNotFoundException* ]]; then
      echo "creating ECR repository $REPOSITORY in $REGION"
      aws ecr create-repository --region "$REGION" --repository-name "$REPOSITORY" \
        --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true >/dev/null
    else
      die "aws ecr describe-repositories failed: $out"
    fi
  fi
fi

# A small build context: only what the Dockerfiles copy (the repository root holds node_modules, .venv and
# model folders, gigabytes that docker would otherwise send to the daemon).
CONTEXT="$(mktemp -d)"
trap 'rm -rf "$CONTEXT"' EXIT
mkdir -p "$CONTEXT/jobs" "$CONTEXT/images"
cp "$ROOT/jobs/requirements.txt" "$CONTEXT/jobs/requirements.txt"
cp "$ROOT/images/verify_env.py" "$CONTEXT/images/verify_env.py"

declare -A URIS=()
for kind in "${KINDS[@]}"; do
  uri="${REGISTRY}/${REPOSITORY}:${kind}-${TAG}"
  URIS[$kind]="$uri"
  if [[ "$PUSH" == 1 ]] && aws ecr describe-images --region "$REGION" --repository-name "$REPOSITORY" \
       --image-ids "imageTag=${kind}-${TAG}" >/dev/null 2>&1; then
    echo "$uri is already in ECR; not rebuilding (pass --tag to build another)"
    continue
  fi
  echo "building $uri from $BASE"
  docker build --platform linux/amd64 \
    --file "$ROOT/images/$kind/Dockerfile" \
    --build-arg "BASE_IMAGE=$BASE" \
    --tag "$uri" \
    "$CONTEXT"
  if [[ "$PUSH" == 1 ]]; then
    echo "pushing $uri"
    docker push "$uri"
  fi
done

echo
if [[ "$PUSH" == 1 ]]; then
  echo "Pushed. Put these in the config's backend.images:"
else
  echo "Built (not pushed). After pushing, these go in the config's backend.images:"
fi
for kind in "${KINDS[@]}"; do
  printf '  "%s": "%s"\n' "$kind" "${URIS[$kind]}"
done
