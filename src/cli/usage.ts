export const USAGE = `Usage: run-task [all|provision|run|collect|cleanup|smoke|e2e] [--input-name value ...]

Runs one command in a throw-away Coder or Eclipse Che workspace: provision, run, collect
evidence, clean up. Every input of the GitHub Actions is a flag of the same name,
or an environment variable RUN_TASK_<INPUT_NAME> (for example RUN_TASK_NAMESPACE).

  run-task --provider che --kubeconfig-file ~/.kube/config --namespace ci \\
           --devfile devfile.yaml --command 'ameide test'
  RUN_TASK_CODER_TOKEN=... run-task --provider coder --coder-url https://coder.example.com \\
           --template ci-docker --parameters 'cpu: 4' --command 'ameide test'
  run-task --provider che --kubeconfig-file ~/.kube/config --contract environment-contract.yaml
           (the contract is the workspace; its first entrypoint is the command)
  run-task --provider che --kubeconfig-file ~/.kube/config --command 'ameide test cluster' \
           --route-gateway gateway-system/shared --route-hostname app.dev.example.com \
           --route-backend-port 8080
           (the run's own HTTPRoute: requests with X-Run-Task-Route: <workspace> reach
           the workspace's Service; the command gets RUN_TASK_ROUTE_HEADER_NAME/VALUE)

Commands:
  all        (default) the whole chain; cleanup always runs
  provision  create the workspace and wait until it is ready
  run        run --command in the workspace provisioned last
  collect    copy the evidence out and write meta.json and JUnit
  cleanup    delete the workspace
  smoke      is the provider broken? create, reach the IDE, check tools and
             persistence across stop/start, check the control plane, delete
  e2e        the developer flow: clone a bot-writable repo in the workspace,
             change, commit, push, open a PR, check its diff, delete
  contract generate|check [--contract environment-contract.yaml] [--root .]
             write Coder's .devcontainer/coder/devcontainer.json and Che's
             devfile.yaml from the environment contract, or fail with a diff
             when a committed one has drifted
  rbac render --namespace NS (--user NAME | --service-account NS/NAME) [--label-namespace]
             print the GitOps-owned routing RBAC: the run-task-routing
             ClusterRole and a Role that may only bind it, by name

State and evidence go to $RUNNER_TEMP/run-task, or ./.run-task outside Actions;
credential copies go to a private folder under the system temp folder, removed at the
end (by cleanup for the split commands). --kubeconfig-file keeps only the current
context, or the one --kube-context names. --retries N (0 to 5) re-provisions a new
workspace after an infrastructure error in provision; a failing test is never retried.
Exit status: 0 passed, 1 failed, 2 bad input, 3 infrastructure error.`
