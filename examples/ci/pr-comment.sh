#!/bin/sh
# Post what a pull request's form change would do to every tenant, as one PR/MR comment.
#
# Usage: sh ci/pr-comment.sh CONFIG_DIR BASE_REF [HEAD_REF]
#   CONFIG_DIR  the config directory inside this Git repository (BridgeConfig, LynqHub, LynqForm)
#   BASE_REF    the revision the change merges into, e.g. origin/main
#   HEAD_REF    the revision under review (default HEAD)
#
# It runs `lynq-bridge diff --format markdown`, then posts the markdown as a comment, or updates
# the comment it posted before (found by its first line, <!-- lynq-bridge-diff -->):
#   GitHub Actions (GITHUB_ACTIONS=true): `gh api` with GH_TOKEN, GITHUB_REPOSITORY, PR_NUMBER.
#   GitLab CI (GITLAB_CI=true): the notes API with GITLAB_TOKEN (a project access token with the
#     api scope; CI_JOB_TOKEN cannot write notes), CI_API_V4_URL, CI_PROJECT_ID,
#     CI_MERGE_REQUEST_IID.
# Environment:
#   LYNQ_COMMENT_FILE  write the comment to this file and post nothing (tests, dry runs)
#   LYNQ_BRIDGE        the command to run (default: lynq-bridge)
# Exit status: lynq-bridge diff's, after posting: 0 ok; 1 a revision does not exist or failed to
# render; 2 invalid config or usage; 3 the deletion guard would hold node removals after the
# merge. When the diff printed nothing (exit 1 or 2), the comment shows its error messages.
set -u
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 CONFIG_DIR BASE_REF [HEAD_REF]" >&2
    exit 2
fi
config=$1
base=$2
head=${3:-HEAD}
marker='<!-- lynq-bridge-diff -->'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
comment=$work/comment.md

${LYNQ_BRIDGE:-lynq-bridge} diff --config "$config" --base "$base" --head "$head" \
    --format markdown >"$comment" 2>"$work/stderr"
code=$?
if [ ! -s "$comment" ]; then
    {
        echo "$marker"
        echo "### lynq-bridge diff failed (exit $code)"
        echo
        echo '````text'
        cat "$work/stderr"
        echo '````'
    } >"$comment"
fi
cat "$work/stderr" >&2

if [ -n "${LYNQ_COMMENT_FILE:-}" ]; then
    cp "$comment" "$LYNQ_COMMENT_FILE"
elif [ "${GITHUB_ACTIONS:-}" = true ]; then
    api="repos/$GITHUB_REPOSITORY/issues"
    id=$(gh api --paginate "$api/$PR_NUMBER/comments" \
        --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n 1)
    if [ -n "$id" ]; then
        gh api --method PATCH "$api/comments/$id" -F "body=@$comment" >/dev/null || exit 1
    else
        gh api --method POST "$api/$PR_NUMBER/comments" -F "body=@$comment" >/dev/null || exit 1
    fi
elif [ "${GITLAB_CI:-}" = true ]; then
    notes="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
    id=$(curl -fsS --header "PRIVATE-TOKEN: $GITLAB_TOKEN" "$notes?per_page=100" |
        python3 -c 'import json, sys; print(next((str(n["id"]) for n in json.load(sys.stdin)
            if n["body"].startswith(sys.argv[1])), ""))' "$marker") || exit 1
    if [ -n "$id" ]; then
        method=PUT url="$notes/$id"
    else
        method=POST url="$notes"
    fi
    curl -fsS --request "$method" --header "PRIVATE-TOKEN: $GITLAB_TOKEN" \
        --data-urlencode "body@$comment" "$url" >/dev/null || exit 1
else
    cat "$comment"
fi
exit "$code"
