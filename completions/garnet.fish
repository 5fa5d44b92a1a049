# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_garnet_global_optspecs
    string join \n i/inventory= o/output= l/limit= f/forks= max-fail= dry-run y/yes lock-wait= m/message= state-dir= ssh-persist= v/verbose q/quiet h/help V/version
end

function __fish_garnet_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_garnet_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_garnet_using_subcommand
    set -l cmd (__fish_garnet_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c garnet -n "__fish_garnet_needs_command" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_needs_command" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_needs_command" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_needs_command" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_needs_command" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_needs_command" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_needs_command" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_needs_command" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_needs_command" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_needs_command" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_needs_command" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_needs_command" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_needs_command" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c garnet -n "__fish_garnet_needs_command" -s V -l version -d 'Print version'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "init" -d 'Create the cluster envelope (`cluster/<slug>.json` in the store) and a starter inventory. Idempotent; refuses to overwrite another cluster\'s inventory or envelope'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "exec" -d 'Run a shell command on every selected node (like `ansible all -a CMD`)'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "facts" -d 'Hardware and OS facts per node: os, arch, chip, cores, memory, free disk, link speed'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "inventory" -d 'Check or list the inventory'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "retry" -d 'Rerun the last run on only the nodes that did not succeed (same as `--limit @failed`)'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "lock" -d 'Inspect or break the cluster lock'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "connections" -d 'The SSH connections garnet keeps open to the selected nodes between commands (OpenSSH masters, see `--ssh-persist`): list them, or close them now'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "deploy" -d 'Install and start garnet on every node: the binary, the loader runtime, the models, config and credentials, and the services (monitor everywhere, loaders per the placement, the router on router nodes). A second run changes nothing and restarts nothing. Ends by checking that each loader and the router answer a real completion and each node\'s first sample is in the store'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "status" -d 'Live state of the cluster from the store\'s latest samples (and the router\'s stats when reachable): per node and per model, with cost per million tokens. A node silent for 3 minutes is stale'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "telemetry" -d 'Telemetry over any span: compact days into Parquet, sum a span (`summary`), uptime, export for other tools, synthetic data'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "placement" -d 'The weekly placement review: what the span\'s telemetry says about each node × model, and the moves it calls for, each with its evidence'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "report" -d 'The monthly executive report: `report.pdf` and `report.json` (every number in the PDF is in the JSON): inference volume, thermal, evictions, placement, cost against the APIs, uptime with incidents, recommendations. Written to `--out` and to the store; `--email` sends it to the cluster\'s contacts. What the telemetry cannot tell is said, never shown as zero'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "dashboard" -d 'The cluster dashboard at `/account/cluster/<slug>`: nodes, models, the cost per million tokens over time beside the API prices, the placement, recent events and operator actions, the weekly reviews and monthly reports; live (no reload), read-only, from the store. Loopback by default; any other address needs `--token-file`'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "schedule" -d 'The steady-state cadence on this host: the weekly placement review (Mondays 06:00 UTC, its three artifacts emailed) and the monthly report (the 1st, 06:00 UTC) as systemd user timers or launchd calendar jobs; missed runs catch up. Each run\'s outcome is in the audit log (`status` shows the last)'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "lab" -d 'A whole cluster on this machine, with the same deploy code: N local nodes (each its own folder and ports), real `mlx_lm.server` loaders on a tiny generated model, the router, the monitors, a local-folder store. `lab down` stops all of it'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "hot-swap" -d 'Replace the loader serving MODEL with another model entry, with zero requests lost: start B cold beside A, health-check it (a real completion, then test prompts within the latency budget), flip every router atomically, drain A, stop it, record the placement. A failure before the flip removes B and leaves A and the traffic untouched'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "rollback" -d 'Swap MODEL back to the entry the previous placement record had (a hot-swap in reverse)'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "intake" -d 'Day 1: the intake questionnaire (workload, hardware probed over SSH or declared, network and access, first model), or `--answers FILE` for CI and repeat runs. Picks the quantization from the memory math, scopes procurement for Enterprise without hardware, and writes `inventory.yaml` and `intake.md`'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "runbook" -d 'Print a procedure\'s runbook (deploy, hot-swap, rollback, offboard) with this inventory\'s values filled in: every step, the command to run it by hand, what to check, how to undo it'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "offboard" -d 'Roll-off: remove garnet\'s access and leave the rack serving. Per node: the monitor\'s store credentials go (the monitor keeps sampling into a folder on the node, or is removed with `--remove-monitor`), then garnet\'s operator key is removed from `authorized_keys`. Loaders and the router are not touched. Ends with what was removed and what keeps running'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "monitor" -d 'The telemetry daemon every node runs (installed by `deploy`): samples every interval, spools to disk, ships to the store, serves `/health`'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "supervise" -d 'Run a program as a supervised service (the process backend\'s supervisor): restart it when it fails, record how it ended, pass SIGTERM on'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "admin-call" -d 'Call the router\'s admin API from the router node (deploy and hot-swap run it there)'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "wait-ready" -d 'Wait until an OpenAI-compatible endpoint answers a one-token chat completion (deploy\'s readiness check, run on the node)'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "router" -d 'Serve the OpenAI-compatible API in front of the loaders (a daemon; Ctrl-C/SIGTERM stop it after open requests finish)'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "bench" -d 'Load-test an OpenAI-compatible endpoint: N clients, streaming or not, for a duration or a request count; reports failures by kind, TTFT, inter-token and end-to-end latency, tokens/s'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "keys" -d 'Operator SSH key: create it and install it on every node, or remove exactly that key'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "model" -d 'Model memory math: parameters, weight bytes, KV cache per token, memory at a context × concurrency; for a size (`8B`), estimates per quantization'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c garnet -n "__fish_garnet_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand init" -l tier -d 'Service tier' -r -f -a "pro\t''
scale\t''
enterprise\t''"
complete -c garnet -n "__fish_garnet_using_subcommand init" -l contact -d 'Contact addresses (repeat or comma-separate)' -r
complete -c garnet -n "__fish_garnet_using_subcommand init" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand init" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand init" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand init" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand init" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand init" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand init" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand init" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand init" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand init" -l resend-welcome -d 'Send the welcome email again (it goes once, when the cluster is created, if the inventory has `mail:` and contacts)'
complete -c garnet -n "__fish_garnet_using_subcommand init" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand init" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand init" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand init" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand init" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand exec" -l timeout -d 'Give up on a node\'s command after this long (e.g. `30s`); the node is reported failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand exec" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand exec" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand exec" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand exec" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand exec" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand exec" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand exec" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand exec" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand exec" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand exec" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand exec" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand exec" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand exec" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c garnet -n "__fish_garnet_using_subcommand facts" -l timeout -d 'Give up on a node after this long' -r
complete -c garnet -n "__fish_garnet_using_subcommand facts" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand facts" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand facts" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand facts" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand facts" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand facts" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand facts" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand facts" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand facts" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand facts" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand facts" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand facts" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand facts" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand facts" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -f -a "check" -d 'Validate the inventory and print every error at once (exit 0 when valid, 2 when not)'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -f -a "list" -d 'List the nodes (after `--limit`) as a table, or JSON with `-o json`'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and not __fish_seen_subcommand_from check list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate the inventory and print every error at once (exit 0 when valid, 2 when not)'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the nodes (after `--limit`) as a table, or JSON with `-o json`'
complete -c garnet -n "__fish_garnet_using_subcommand inventory; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand retry" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand retry" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand retry" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand retry" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand retry" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand retry" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand retry" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand retry" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand retry" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand retry" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand retry" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand retry" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand retry" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand retry" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -f -a "status" -d 'Show who holds the cluster lock, since when, for what'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -f -a "release" -d 'Remove the cluster lock, whoever holds it (say why with `--message`)'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and not __fish_seen_subcommand_from status release help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from release" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show who holds the cluster lock, since when, for what'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from help" -f -a "release" -d 'Remove the cluster lock, whoever holds it (say why with `--message`)'
complete -c garnet -n "__fish_garnet_using_subcommand lock; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -f -a "list" -d 'Each selected node\'s kept connection: open (with the master\'s pid) or none'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -f -a "close" -d 'Close the selected nodes\' kept connections; commands still running on them finish first'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and not __fish_seen_subcommand_from list close help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -l all -d 'Every kept connection in the control directory, whatever inventory opened it'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from close" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from help" -f -a "list" -d 'Each selected node\'s kept connection: open (with the master\'s pid) or none'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from help" -f -a "close" -d 'Close the selected nodes\' kept connections; commands still running on them finish first'
complete -c garnet -n "__fish_garnet_using_subcommand connections; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -l binary -d 'garnet binary to install on nodes whose platform differs from this machine\'s (default: the inventory\'s `deploy.binaries`, else this binary where the platform matches)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -l ready-timeout -d 'How long to wait for each loader to load its model and answer' -r
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -l no-verify -d 'Skip the checks after applying (loader and router completions, first sample in the store)'
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand deploy" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand status" -l stale-after -d 'Samples older than this make a node stale' -r
complete -c garnet -n "__fish_garnet_using_subcommand status" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand status" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand status" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand status" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand status" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand status" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand status" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand status" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand status" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand status" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand status" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand status" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand status" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand status" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -f -a "compact" -d 'Roll each day\'s per-minute samples into `telemetry-parquet/cluster=<c>/date=<d>/` (`samples.parquet`, `backends.parquet`) in the store; a rerun (or a late sample) rewrites the day. The JSON samples stay unless `--delete`, which removes them only after the Parquet files were read back with every row'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -f -a "export" -d 'Write the cluster\'s samples over a span of days to a file for other tools: JSON lines, CSV (one row per sample) or Parquet (a folder with `samples.parquet`, `backends.parquet`), read from the JSON samples and the compacted days alike'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -f -a "uptime" -d 'Uptime per node and for the cluster over a span of days (a node is up while its samples cover the time; gaps count as down), the gaps, and the loader crashes and evictions'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -f -a "summary" -d 'A span\'s telemetry summed from the compacted days and the JSON samples alike: per model requests, outcomes, tokens and percentiles from merged sketches; per node uptime, throttled share, hottest temperature and energy; days with no sample listed as missing'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -f -a "synth" -d 'Write synthetic telemetry (a rack\'s month of per-minute samples with a known story: a busy model, a hot node, an outage, a node joining halfway) into a local folder laid out like a store, for benchmarks and for trying reports and dashboards without a rack'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and not __fish_seen_subcommand_from compact export uptime summary synth help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -l date -d 'A day to compact (UTC, YYYY-MM-DD); repeat for several. Default: yesterday and today' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -l days -d 'Instead: the last N days up to today' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -l since -d 'Instead: every day from this one to today' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -l delete -d 'Remove the day\'s JSON samples once its Parquet files are verified'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from compact" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -l since -d 'First day (UTC, YYYY-MM-DD)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -l until -d 'Last day, included (default: today)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -l format -r -f -a "jsonl\t''
csv\t''
parquet\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -l out -d 'Where to write: a file (jsonl, csv) or a folder (parquet)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -l since -d 'First day (UTC, YYYY-MM-DD)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -l until -d 'Last day, included (default: today; a span never reaches past now)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from uptime" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -l since -d 'First day (UTC, YYYY-MM-DD)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -l until -d 'Last day, included (default: today; a span never reaches past now)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -l latency -d 'The latency sketches to merge (fewer read less)' -r -f -a "e2e\t''
ttft\t''
queue-wait\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -l per-node -d 'Also list each model\'s numbers per node'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from summary" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l store -d 'The folder to write into (a local-folder store)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l like -d 'Synthesise days for this inventory\'s cluster instead: its slug, nodes, models and placement (with the synthetic shapes), e.g. days around a lab\'s real telemetry to try the report or the placement diff on. Overrides `--cluster` and `--nodes`; days that already have samples there are refused' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l cluster -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l nodes -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l start -d 'First day (UTC)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l days -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l format -d '`parquet`: each day straight into its compacted files; `json`: one object per sample, as the monitors ship them (then `telemetry compact`)' -r -f -a "parquet\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l seed -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l write-inventory -d 'Also write an inventory of the synthetic rack here (its nodes, models, placement and the store), for `placement diff`, `report` and the dashboard to read the data with. (Not `--inventory`: that is the global `-i`, the inventory garnet reads.)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l scenario -d '`story`: the rack with a hot node (see `docs/telemetry.md`); `balanced`: without it; `busy`: the first node\'s busiest model saturated there; `cold-cache`: the third model\'s long prompts barely reused by its prompt cache. Each is what one placement rule looks for' -r -f -a "story\t''
balanced\t''
busy\t''
cold-cache\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from synth" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from help" -f -a "compact" -d 'Roll each day\'s per-minute samples into `telemetry-parquet/cluster=<c>/date=<d>/` (`samples.parquet`, `backends.parquet`) in the store; a rerun (or a late sample) rewrites the day. The JSON samples stay unless `--delete`, which removes them only after the Parquet files were read back with every row'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from help" -f -a "export" -d 'Write the cluster\'s samples over a span of days to a file for other tools: JSON lines, CSV (one row per sample) or Parquet (a folder with `samples.parquet`, `backends.parquet`), read from the JSON samples and the compacted days alike'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from help" -f -a "uptime" -d 'Uptime per node and for the cluster over a span of days (a node is up while its samples cover the time; gaps count as down), the gaps, and the loader crashes and evictions'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from help" -f -a "summary" -d 'A span\'s telemetry summed from the compacted days and the JSON samples alike: per model requests, outcomes, tokens and percentiles from merged sketches; per node uptime, throttled share, hottest temperature and energy; days with no sample listed as missing'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from help" -f -a "synth" -d 'Write synthetic telemetry (a rack\'s month of per-minute samples with a known story: a busy model, a hot node, an outage, a node joining halfway) into a local folder laid out like a store, for benchmarks and for trying reports and dashboards without a rack'
complete -c garnet -n "__fish_garnet_using_subcommand telemetry; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -f -a "diff" -d 'Per node × model over the span (default: the last 7 days): request rate, busy share, e2e / TTFT / queue-wait p95 against the latency budget, prompt-cache hits and prompt lengths; per node throttling, heat and uptime; then the proposed moves with their evidence. Exit 0: no change proposed; 5: changes proposed; 1: no telemetry to judge from'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -f -a "apply" -d 'Carries out a placement diff\'s moves, one after another: a model moving to another node goes through hot-swap (started there and checked, traffic flipped, the old loader drained and stopped: no request lost). Plan → confirm → apply under the cluster lock, audited; `--dry-run` prints every move\'s plan. Refused when the placement changed since the diff. A failed move stops: the moves before it stay applied and recorded (`garnet rollback MODEL` undoes the last). Exit 0: applied (or nothing to apply); 1: a move failed'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and not __fish_seen_subcommand_from diff apply help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l since -d 'First day (UTC), a number of days back ending at `--until` (`7d`), or an instant (`2026-12-03T05:30:00Z`: what happened since a change)' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l until -d 'Last day (UTC; a date, `today` or `yesterday`; default today)' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l min-samples -d 'The samples a node, and a model on a node, need before a rule may move them (default 1440: a day at one a minute, so one noisy hour moves nothing). Lower it only for a span sampled more often than once a minute, like a lab\'s' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l min-requests -d 'The requests a model needs before its prompt cache is judged (default 1000)' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l out -d 'Also write the artifacts (`placement-diff`, `cost-diff`, `eviction-log`, each `-FROM-TO.md` and `.json` with the same numbers) into this folder' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l email -d 'Also send the three artifacts to the cluster\'s contacts through `mail:`'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from diff" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -l ready-timeout -d 'How long B may take to load and answer its first completion' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -l health-prompts -d 'Test prompts B must answer (all of them, p99 within the model\'s `latency_budget_ms`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -l drain-max -d 'Longest wait for A\'s requests in flight to finish after the flip (default: the model\'s `drain_secs`, else 5m); what is still running then is cut and counted' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -l latest -d 'The newest diff in the store (`weekly/cluster=<c>/span=…/placement-diff.json`)'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from apply" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from help" -f -a "diff" -d 'Per node × model over the span (default: the last 7 days): request rate, busy share, e2e / TTFT / queue-wait p95 against the latency budget, prompt-cache hits and prompt lengths; per node throttling, heat and uptime; then the proposed moves with their evidence. Exit 0: no change proposed; 5: changes proposed; 1: no telemetry to judge from'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from help" -f -a "apply" -d 'Carries out a placement diff\'s moves, one after another: a model moving to another node goes through hot-swap (started there and checked, traffic flipped, the old loader drained and stopped: no request lost). Plan → confirm → apply under the cluster lock, audited; `--dry-run` prints every move\'s plan. Refused when the placement changed since the diff. A failed move stops: the moves before it stay applied and recorded (`garnet rollback MODEL` undoes the last). Exit 0: applied (or nothing to apply); 1: a move failed'
complete -c garnet -n "__fish_garnet_using_subcommand placement; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand report" -l month -d 'The month (UTC), like `2026-11`; default the last whole month' -r
complete -c garnet -n "__fish_garnet_using_subcommand report" -l out -d 'Folder for `report.pdf` and `report.json`' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand report" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand report" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand report" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand report" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand report" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand report" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand report" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand report" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand report" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand report" -l email -d 'Also send it (the PDF and the JSON attached) to the cluster\'s contacts through `mail:`'
complete -c garnet -n "__fish_garnet_using_subcommand report" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand report" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand report" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand report" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand report" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l listen -d 'Address to listen on (`:0` picks a free port). Anything but loopback requires `--token-file`' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l token-file -d 'File (mode 0600, at least 16 characters) holding the token every request must carry: `Authorization: Bearer <token>`, or the page opened once as `…?token=<token>` (then an HttpOnly cookie)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l refresh -d 'How often the store is read again and the page updates' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l since -d 'How far back the cost curve reaches' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l stale-after -d 'Samples older than this make a node stale' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand dashboard" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -f -a "install" -d 'Write the timers (or LaunchAgents) for this inventory and enable them. Needs `mail:` and contacts: the runs email what they make. Idempotent'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -f -a "status" -d 'Each job: installed, current (the same as `install` would write), its next and last run (the audit log\'s outcome)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -f -a "remove" -d 'Disable the jobs and delete their files'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and not __fish_seen_subcommand_from install status remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -l backend -d 'systemd user timers or launchd (default: launchd on macOS, systemd elsewhere)' -r -f -a "systemd\t''
launchd\t''"
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -l unit-dir -d 'Where the unit files or plists go (default `~/.config/systemd/user`, `~/Library/LaunchAgents`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -l out -d 'Where the runs write their reports and artifacts (default `~/.local/share/garnet/SLUG`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -l no-enable -d 'Write (or delete) the files only: do not ask systemd or launchd to (un)load them'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -l backend -d 'systemd user timers or launchd (default: launchd on macOS, systemd elsewhere)' -r -f -a "systemd\t''
launchd\t''"
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -l unit-dir -d 'Where the unit files or plists go (default `~/.config/systemd/user`, `~/Library/LaunchAgents`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -l out -d 'Where the runs write their reports and artifacts (default `~/.local/share/garnet/SLUG`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -l no-enable -d 'Write (or delete) the files only: do not ask systemd or launchd to (un)load them'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l backend -d 'systemd user timers or launchd (default: launchd on macOS, systemd elsewhere)' -r -f -a "systemd\t''
launchd\t''"
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l unit-dir -d 'Where the unit files or plists go (default `~/.config/systemd/user`, `~/Library/LaunchAgents`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l out -d 'Where the runs write their reports and artifacts (default `~/.local/share/garnet/SLUG`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l no-enable -d 'Write (or delete) the files only: do not ask systemd or launchd to (un)load them'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "install" -d 'Write the timers (or LaunchAgents) for this inventory and enable them. Needs `mail:` and contacts: the runs email what they make. Idempotent'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "status" -d 'Each job: installed, current (the same as `install` would write), its next and last run (the audit log\'s outcome)'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Disable the jobs and delete their files'
complete -c garnet -n "__fish_garnet_using_subcommand schedule; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -f -a "up" -d 'Build (or update) the lab and start it; prints where to send OpenAI requests'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -f -a "down" -d 'Stop every service the lab started (its files stay, so `lab up` is quick again)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and not __fish_seen_subcommand_from up down help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -l dir -d 'The lab\'s folder (inventory, nodes, store, model, venv)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -l nodes -d 'Nodes in the lab (all loaders; the first also runs the router)' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -l python -d 'A python with `mlx-lm` to use (default: a venv in the lab folder, created with pinned packages from PyPI if missing)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -l port -d 'Port of the OpenAI API (the admin API takes the next one)' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from up" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -l dir -d 'The lab\'s folder (inventory, nodes, store, model, venv)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from down" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "up" -d 'Build (or update) the lab and start it; prints where to send OpenAI requests'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "down" -d 'Stop every service the lab started (its files stay, so `lab up` is quick again)'
complete -c garnet -n "__fish_garnet_using_subcommand lab; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l to -d 'The model entry (declared under `models:` with its own source and port) to serve MODEL, or a source (a local folder, or a Hugging Face repo id) served with MODEL\'s settings on the next free port' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l node -d 'Only on this node (default: every node the model is placed on, one after another)' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l via -d 'Start B on this spare node instead of beside A (when both do not fit on A\'s node): traffic flips to it and A\'s node is freed; the placement moves with it' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l ready-timeout -d 'How long B may take to load and answer its first completion' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l health-prompts -d 'Test prompts B must answer (all of them, p99 within the model\'s `latency_budget_ms`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l drain-max -d 'Longest wait for A\'s requests in flight to finish after the flip (default: the model\'s `drain_secs`, else 5m); what is still running then is cut and counted' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand hot-swap" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l node -d 'Only on this node (default: every node the model is placed on, one after another)' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l via -d 'Start B on this spare node instead of beside A (when both do not fit on A\'s node): traffic flips to it and A\'s node is freed; the placement moves with it' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l ready-timeout -d 'How long B may take to load and answer its first completion' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l health-prompts -d 'Test prompts B must answer (all of them, p99 within the model\'s `latency_budget_ms`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l drain-max -d 'Longest wait for A\'s requests in flight to finish after the flip (default: the model\'s `drain_secs`, else 5m); what is still running then is cut and counted' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand intake" -l answers -d 'Answers as YAML (the interactive run saves its answers as `intake-answers.yaml`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand intake" -l out -d 'Where to write inventory.yaml, intake.md (and the answers)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand intake" -l ssh-config -d 'An ssh_config to probe the nodes with (default: yours)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand intake" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand intake" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand intake" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand intake" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand intake" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand intake" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand intake" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand intake" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand intake" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand intake" -l force -d 'Overwrite an existing inventory.yaml there'
complete -c garnet -n "__fish_garnet_using_subcommand intake" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand intake" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand intake" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand intake" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand intake" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -l model -d 'The model (hot-swap, rollback, deploy; default: the first placed one)' -r
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -l to -d 'The new entry (hot-swap). With `--model`, a hot-swap or rollback runbook is the exact list `garnet hot-swap` / `rollback` runs, every command, file and route filled in (it reads the store and the nodes\' homes, as `--dry-run` does)' -r
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -l node -d 'The node (default: the model\'s first node, else the first node)' -r
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -l generic -d 'Without values: the generic text, as committed in `runbooks/`'
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand runbook" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -l key -d 'The operator key to remove (default: `<state dir>/keys/<cluster>-ed25519`); lines with the comment `garnet-operator@<cluster>` are removed either way' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -l remove-monitor -d 'Stop and remove the monitor too (default: it keeps sampling into `<garnet home>/store`)'
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand offboard" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -l config -d 'The node config deploy wrote (`<garnet home>/etc/node.json`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -l interval -d 'Override the sampling interval (tests, footprint benchmarks)' -r
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand monitor" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l exit-file -d 'Where to record each exit (JSON: time, exit code or signal, restarts so far)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l log-out -d 'Write the program\'s stdout to this file, rotated by size (else it is inherited)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l log-err -d 'Write the program\'s stderr (and the supervisor\'s own notes) to this file, rotated by size' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l log-max-bytes -d 'Size at which a log file is rotated' -r
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l log-keep -d 'Rotated files kept besides the current one (`.1` newest)' -r
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l restart -d 'Start the program again when it exits with a failure (with backoff)'
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand supervise" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -l url -d 'The admin API\'s base URL, e.g. `http://127.0.0.1:8081`' -r
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -l token-file -d 'The 0600 file holding the admin token' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand admin-call" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -l model -d 'The `model` to ask for' -r
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -l timeout -r
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -l log -d 'A file whose last lines are printed when the endpoint never gets ready (the service\'s log)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand wait-ready" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand router" -l routes -d 'Routes file (YAML or JSON): models, their backends (loader URL and model id), caps, timeouts. Without it, routes come from the inventory\'s `models` and `placement`' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand router" -l listen -d 'Address for the OpenAI API (default: the inventory\'s `router.listen`, else 127.0.0.1:8080)' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -l admin-listen -d 'Address for the admin API, keep it on loopback (default: the inventory\'s `router.admin_listen`, else 127.0.0.1:8081)' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -l admin-token-file -d 'File (mode 0600) holding the admin API\'s bearer token; without it the admin API refuses (default: the inventory\'s `router.token_file`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand router" -l api-keys-file -d 'File (mode 0600) with accepted API keys, one per line; without it `/v1` is open' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand router" -l body-limit -d 'Largest request body accepted, in bytes' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -l access-log -d 'Write one JSON line per ended request (outcome, durations, tokens) to this file, rotated at 10 MiB with 3 older files kept' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand router" -l state-dir -d 'Keep what the router counted here (a snapshot every 2 s and a journal of each request\'s start and end), so a restart, even after `kill -9`, loses no count; the requests a crash broke are counted as failed' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand router" -l threads -d 'Serving threads, each with its own listener (SO_REUSEPORT) and upstream pools (default: one per core)' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand router" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand router" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand router" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand router" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand router" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand router" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand router" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l url -d 'Base URL of the API, ending in `/v1`' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l model -d 'Model to ask for' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s c -l clients -d 'Concurrent clients' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s n -l requests -d 'Stop after this many requests' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s d -l duration -d 'Stop after this long (e.g. `30s`); the default when `--requests` is not given is 10s' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l stream -d 'Share of requests that stream, from 0 (none) to 1 (all)' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l max-tokens -d '`max_tokens` of each request' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l prompt -d 'The user message' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l api-key-file -d 'File (mode 0600) holding the API key to send' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l timeout -d 'Give up on one request after this long' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l rate -d 'Open loop: send this many requests per second in all (clients keep warm connections); latencies count from each request\'s scheduled time' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l expect-full -d 'Count an answer with fewer tokens than `--max-tokens` as truncated'
complete -c garnet -n "__fish_garnet_using_subcommand bench" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand bench" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -f -a "provision" -d 'Create an ed25519 operator key (private file 0600, never printed) if missing, and add its public half to each node\'s `~/.ssh/authorized_keys` (idempotent)'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -f -a "revoke" -d 'Remove exactly that key\'s line from each node\'s `authorized_keys`; every other key stays'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and not __fish_seen_subcommand_from provision revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -l key -d 'The private key file (default: `<state dir>/keys/<cluster>-ed25519`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from provision" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l key -d 'The private key file (default: `<state dir>/keys/<cluster>-ed25519`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "provision" -d 'Create an ed25519 operator key (private file 0600, never printed) if missing, and add its public half to each node\'s `~/.ssh/authorized_keys` (idempotent)'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Remove exactly that key\'s line from each node\'s `authorized_keys`; every other key stays'
complete -c garnet -n "__fish_garnet_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -f -a "inspect" -d 'Inspect a local model folder (config.json + safetensors headers; no weights are loaded), or estimate a model known only by its size (`8B`, `70b`, `500M`)'
complete -c garnet -n "__fish_garnet_using_subcommand model; and not __fish_seen_subcommand_from inspect help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -l context -d 'Tokens per sequence to budget the KV cache for (default: the model\'s own maximum, else 8192)' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -l concurrency -d 'Sequences served at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -l kv-bits -d 'Bits per KV-cache element (16 = fp16/bf16; `mlx_lm.server --kv-bits` lowers it)' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -l group-size -d 'Quantization group size for estimates' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from inspect" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "inspect" -d 'Inspect a local model folder (config.json + safetensors headers; no weights are loaded), or estimate a model known only by its size (`8B`, `70b`, `500M`)'
complete -c garnet -n "__fish_garnet_using_subcommand model; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand completions" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand completions" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand completions" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand completions" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand completions" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand completions" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand completions" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand completions" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand completions" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand completions" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand completions" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand completions" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand completions" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand completions" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand man" -s i -l inventory -d 'Inventory file describing the rack' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand man" -s o -l output -d 'Output format: human text, or one JSON event per line' -r -f -a "text\t''
json\t''"
complete -c garnet -n "__fish_garnet_using_subcommand man" -s l -l limit -d 'Only these nodes: names or globs (`m4-0*`), `role:NAME`, `tag:NAME`, `@failed` (nodes that did not succeed in the last run), `!PATTERN` to exclude. Comma-separated or repeated' -r
complete -c garnet -n "__fish_garnet_using_subcommand man" -s f -l forks -d 'How many nodes to work on at once' -r
complete -c garnet -n "__fish_garnet_using_subcommand man" -l max-fail -d 'Abort the nodes not yet started once more than N nodes (or P% of them) have failed' -r
complete -c garnet -n "__fish_garnet_using_subcommand man" -l lock-wait -d 'Wait up to this long for the cluster lock held by someone else (e.g. `30s`, `5m`)' -r
complete -c garnet -n "__fish_garnet_using_subcommand man" -s m -l message -d 'Why you are running this: recorded in the cluster lock and the audit log' -r
complete -c garnet -n "__fish_garnet_using_subcommand man" -l state-dir -d 'Where run journals live (default: `$XDG_STATE_HOME/garnet`, else `~/.local/state/garnet`)' -r -F
complete -c garnet -n "__fish_garnet_using_subcommand man" -l ssh-persist -d 'Keep each node\'s SSH connection (an OpenSSH master) open this long after a command, so the next command reuses it without a new handshake; `0` closes it when the command ends. Masters live in the private `cm/` folder of the state directory; `garnet connections close` ends them early' -r
complete -c garnet -n "__fish_garnet_using_subcommand man" -l dry-run -d 'Render the exact plan per node and exit 0 without changing anything'
complete -c garnet -n "__fish_garnet_using_subcommand man" -s y -l yes -d 'Apply without asking for confirmation (required when stdin is not a terminal)'
complete -c garnet -n "__fish_garnet_using_subcommand man" -s v -l verbose -d 'More detail (repeat for debug logs)'
complete -c garnet -n "__fish_garnet_using_subcommand man" -s q -l quiet -d 'Only command output and errors: no progress, no summary'
complete -c garnet -n "__fish_garnet_using_subcommand man" -s h -l help -d 'Print help'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "init" -d 'Create the cluster envelope (`cluster/<slug>.json` in the store) and a starter inventory. Idempotent; refuses to overwrite another cluster\'s inventory or envelope'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "exec" -d 'Run a shell command on every selected node (like `ansible all -a CMD`)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "facts" -d 'Hardware and OS facts per node: os, arch, chip, cores, memory, free disk, link speed'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "inventory" -d 'Check or list the inventory'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "retry" -d 'Rerun the last run on only the nodes that did not succeed (same as `--limit @failed`)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "lock" -d 'Inspect or break the cluster lock'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "connections" -d 'The SSH connections garnet keeps open to the selected nodes between commands (OpenSSH masters, see `--ssh-persist`): list them, or close them now'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "deploy" -d 'Install and start garnet on every node: the binary, the loader runtime, the models, config and credentials, and the services (monitor everywhere, loaders per the placement, the router on router nodes). A second run changes nothing and restarts nothing. Ends by checking that each loader and the router answer a real completion and each node\'s first sample is in the store'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "status" -d 'Live state of the cluster from the store\'s latest samples (and the router\'s stats when reachable): per node and per model, with cost per million tokens. A node silent for 3 minutes is stale'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "telemetry" -d 'Telemetry over any span: compact days into Parquet, sum a span (`summary`), uptime, export for other tools, synthetic data'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "placement" -d 'The weekly placement review: what the span\'s telemetry says about each node × model, and the moves it calls for, each with its evidence'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "report" -d 'The monthly executive report: `report.pdf` and `report.json` (every number in the PDF is in the JSON): inference volume, thermal, evictions, placement, cost against the APIs, uptime with incidents, recommendations. Written to `--out` and to the store; `--email` sends it to the cluster\'s contacts. What the telemetry cannot tell is said, never shown as zero'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "dashboard" -d 'The cluster dashboard at `/account/cluster/<slug>`: nodes, models, the cost per million tokens over time beside the API prices, the placement, recent events and operator actions, the weekly reviews and monthly reports; live (no reload), read-only, from the store. Loopback by default; any other address needs `--token-file`'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "schedule" -d 'The steady-state cadence on this host: the weekly placement review (Mondays 06:00 UTC, its three artifacts emailed) and the monthly report (the 1st, 06:00 UTC) as systemd user timers or launchd calendar jobs; missed runs catch up. Each run\'s outcome is in the audit log (`status` shows the last)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "lab" -d 'A whole cluster on this machine, with the same deploy code: N local nodes (each its own folder and ports), real `mlx_lm.server` loaders on a tiny generated model, the router, the monitors, a local-folder store. `lab down` stops all of it'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "hot-swap" -d 'Replace the loader serving MODEL with another model entry, with zero requests lost: start B cold beside A, health-check it (a real completion, then test prompts within the latency budget), flip every router atomically, drain A, stop it, record the placement. A failure before the flip removes B and leaves A and the traffic untouched'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "rollback" -d 'Swap MODEL back to the entry the previous placement record had (a hot-swap in reverse)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "intake" -d 'Day 1: the intake questionnaire (workload, hardware probed over SSH or declared, network and access, first model), or `--answers FILE` for CI and repeat runs. Picks the quantization from the memory math, scopes procurement for Enterprise without hardware, and writes `inventory.yaml` and `intake.md`'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "runbook" -d 'Print a procedure\'s runbook (deploy, hot-swap, rollback, offboard) with this inventory\'s values filled in: every step, the command to run it by hand, what to check, how to undo it'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "offboard" -d 'Roll-off: remove garnet\'s access and leave the rack serving. Per node: the monitor\'s store credentials go (the monitor keeps sampling into a folder on the node, or is removed with `--remove-monitor`), then garnet\'s operator key is removed from `authorized_keys`. Loaders and the router are not touched. Ends with what was removed and what keeps running'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "monitor" -d 'The telemetry daemon every node runs (installed by `deploy`): samples every interval, spools to disk, ships to the store, serves `/health`'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "supervise" -d 'Run a program as a supervised service (the process backend\'s supervisor): restart it when it fails, record how it ended, pass SIGTERM on'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "admin-call" -d 'Call the router\'s admin API from the router node (deploy and hot-swap run it there)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "wait-ready" -d 'Wait until an OpenAI-compatible endpoint answers a one-token chat completion (deploy\'s readiness check, run on the node)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "router" -d 'Serve the OpenAI-compatible API in front of the loaders (a daemon; Ctrl-C/SIGTERM stop it after open requests finish)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "bench" -d 'Load-test an OpenAI-compatible endpoint: N clients, streaming or not, for a duration or a request count; reports failures by kind, TTFT, inter-token and end-to-end latency, tokens/s'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "keys" -d 'Operator SSH key: create it and install it on every node, or remove exactly that key'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "model" -d 'Model memory math: parameters, weight bytes, KV cache per token, memory at a context × concurrency; for a size (`8B`), estimates per quantization'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and not __fish_seen_subcommand_from init exec facts inventory retry lock connections deploy status telemetry placement report dashboard schedule lab hot-swap rollback intake runbook offboard monitor supervise admin-call wait-ready router bench keys model completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from inventory" -f -a "check" -d 'Validate the inventory and print every error at once (exit 0 when valid, 2 when not)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from inventory" -f -a "list" -d 'List the nodes (after `--limit`) as a table, or JSON with `-o json`'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from lock" -f -a "status" -d 'Show who holds the cluster lock, since when, for what'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from lock" -f -a "release" -d 'Remove the cluster lock, whoever holds it (say why with `--message`)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from connections" -f -a "list" -d 'Each selected node\'s kept connection: open (with the master\'s pid) or none'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from connections" -f -a "close" -d 'Close the selected nodes\' kept connections; commands still running on them finish first'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from telemetry" -f -a "compact" -d 'Roll each day\'s per-minute samples into `telemetry-parquet/cluster=<c>/date=<d>/` (`samples.parquet`, `backends.parquet`) in the store; a rerun (or a late sample) rewrites the day. The JSON samples stay unless `--delete`, which removes them only after the Parquet files were read back with every row'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from telemetry" -f -a "export" -d 'Write the cluster\'s samples over a span of days to a file for other tools: JSON lines, CSV (one row per sample) or Parquet (a folder with `samples.parquet`, `backends.parquet`), read from the JSON samples and the compacted days alike'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from telemetry" -f -a "uptime" -d 'Uptime per node and for the cluster over a span of days (a node is up while its samples cover the time; gaps count as down), the gaps, and the loader crashes and evictions'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from telemetry" -f -a "summary" -d 'A span\'s telemetry summed from the compacted days and the JSON samples alike: per model requests, outcomes, tokens and percentiles from merged sketches; per node uptime, throttled share, hottest temperature and energy; days with no sample listed as missing'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from telemetry" -f -a "synth" -d 'Write synthetic telemetry (a rack\'s month of per-minute samples with a known story: a busy model, a hot node, an outage, a node joining halfway) into a local folder laid out like a store, for benchmarks and for trying reports and dashboards without a rack'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from placement" -f -a "diff" -d 'Per node × model over the span (default: the last 7 days): request rate, busy share, e2e / TTFT / queue-wait p95 against the latency budget, prompt-cache hits and prompt lengths; per node throttling, heat and uptime; then the proposed moves with their evidence. Exit 0: no change proposed; 5: changes proposed; 1: no telemetry to judge from'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from placement" -f -a "apply" -d 'Carries out a placement diff\'s moves, one after another: a model moving to another node goes through hot-swap (started there and checked, traffic flipped, the old loader drained and stopped: no request lost). Plan → confirm → apply under the cluster lock, audited; `--dry-run` prints every move\'s plan. Refused when the placement changed since the diff. A failed move stops: the moves before it stay applied and recorded (`garnet rollback MODEL` undoes the last). Exit 0: applied (or nothing to apply); 1: a move failed'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "install" -d 'Write the timers (or LaunchAgents) for this inventory and enable them. Needs `mail:` and contacts: the runs email what they make. Idempotent'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "status" -d 'Each job: installed, current (the same as `install` would write), its next and last run (the audit log\'s outcome)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from schedule" -f -a "remove" -d 'Disable the jobs and delete their files'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "up" -d 'Build (or update) the lab and start it; prints where to send OpenAI requests'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from lab" -f -a "down" -d 'Stop every service the lab started (its files stay, so `lab up` is quick again)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "provision" -d 'Create an ed25519 operator key (private file 0600, never printed) if missing, and add its public half to each node\'s `~/.ssh/authorized_keys` (idempotent)'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "revoke" -d 'Remove exactly that key\'s line from each node\'s `authorized_keys`; every other key stays'
complete -c garnet -n "__fish_garnet_using_subcommand help; and __fish_seen_subcommand_from model" -f -a "inspect" -d 'Inspect a local model folder (config.json + safetensors headers; no weights are loaded), or estimate a model known only by its size (`8B`, `70b`, `500M`)'
