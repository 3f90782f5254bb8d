#!/usr/bin/env bash
# The root action's last step: fails it by `fail-on` and the outcome collect recorded.
set -euo pipefail
outcome="${OUTCOME:-}"
[ -n "$outcome" ] || outcome=error
case "${FAIL_ON:-failure}" in
  never) exit 0 ;;
  error) fails=$([ "$outcome" = error ] && echo yes || echo no) ;;
  failure) fails=$([ "$outcome" = passed ] && echo no || echo yes) ;;
  *)
    echo "::error title=InputError::Input 'fail-on' has the value \"${FAIL_ON}\", but expected one of: failure, error, never."
    exit 1
    ;;
esac
if [ "$fails" = yes ]; then
  if [ "$outcome" = error ]; then
    echo "::error title=Infrastructure error::run-task: the run ended with an infrastructure error; see the job summary."
  else
    echo "::error title=Tests failed::run-task: the command failed with exit code ${EXIT_CODE:-unknown}; see the job summary."
  fi
  exit 1
fi
